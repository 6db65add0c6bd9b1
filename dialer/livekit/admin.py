"""Setting LiveKit up from the dialer: outbound SIP trunks, and `dialer doctor`'s checks.

Trunk settings (environment or `.env`): `SIP_ADDRESS` (the provider's SIP host, e.g.
`example.pstn.twilio.com`), `SIP_NUMBERS` (comma-separated E.164 caller numbers), `SIP_USERNAME`
and `SIP_PASSWORD` (digest auth, optional), `SIP_TRUNK_NAME` (default "dialer").
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from dialer.errors import DialerError
from dialer.livekit.settings import (
    DEFAULT_REPORT_PORT,
    LiveKitSettings,
    missing_credentials,
    settings_from_env,
)
from dialer.livekit.spec import PROBE_METADATA


@dataclass
class Trunk:
    """An outbound SIP trunk, as `dialer trunk list` shows it."""

    trunk_id: str
    name: str
    address: str
    numbers: list[str]

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _trunk(info) -> Trunk:
    return Trunk(info.sip_trunk_id, info.name, info.address, list(info.numbers))


async def _with_api(settings: LiveKitSettings, fn):
    from livekit import api

    lk = api.LiveKitAPI(settings.url, settings.api_key, settings.api_secret)
    try:
        return await fn(lk, api)
    except api.ServerError as exc:
        raise DialerError(f"LiveKit refused: {exc.code}: {exc.message}") from None
    except (OSError, TimeoutError) as exc:
        raise DialerError(f"LiveKit unreachable at {settings.url}: {exc}") from None
    except Exception as exc:  # aiohttp.ClientError, imported lazily
        if type(exc).__module__.startswith("aiohttp"):
            raise DialerError(f"LiveKit unreachable at {settings.url}: {exc}") from None
        raise
    finally:
        await lk.aclose()


def list_trunks(settings: LiveKitSettings) -> list[Trunk]:
    async def go(lk, api):
        resp = await lk.sip.list_outbound_trunk(api.ListSIPOutboundTrunkRequest())
        return [_trunk(t) for t in resp.items]

    return asyncio.run(_with_api(settings, go))


def create_trunk(settings: LiveKitSettings, env: Mapping[str, str]) -> Trunk:
    """Create an outbound trunk from the SIP_* settings; DialerError naming what is missing."""
    address = env.get("SIP_ADDRESS", "").strip()
    numbers = [n.strip() for n in env.get("SIP_NUMBERS", "").split(",") if n.strip()]
    missing = [n for n, v in (("SIP_ADDRESS", address), ("SIP_NUMBERS", numbers)) if not v]
    if missing:
        raise DialerError(
            f"trunk settings missing: {', '.join(missing)}",
            hint="set SIP_ADDRESS (provider SIP host) and SIP_NUMBERS (E.164, comma-separated)",
        )

    async def go(lk, api):
        info = api.SIPOutboundTrunkInfo(
            name=env.get("SIP_TRUNK_NAME", "").strip() or "dialer",
            address=address,
            numbers=numbers,
            auth_username=env.get("SIP_USERNAME", ""),
            auth_password=env.get("SIP_PASSWORD", ""),
        )
        created = await lk.sip.create_outbound_trunk(api.CreateSIPOutboundTrunkRequest(trunk=info))
        return _trunk(created)

    return asyncio.run(_with_api(settings, go))


@dataclass
class Check:
    """One line of `dialer doctor`."""

    name: str
    ok: bool
    detail: str

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def doctor(
    env: Mapping[str, str],
    db: Path,
    trunk_id: str | None = None,
    agent_name: str = "dialer",
    campaigns: Sequence[tuple[str, bool]] = (),
    probe_timeout: float = 10.0,
) -> list[Check]:
    """Every check, each independent of the others' outcome where possible.

    `campaigns`: (file, noise cancellation on) for the project's campaigns, for the noise
    cancellation check. `probe_timeout`: how long a worker has to take the probe job.
    """
    checks: list[Check] = []
    missing = missing_credentials(env)
    checks.append(
        Check(
            "credentials",
            not missing,
            "LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET set"
            if not missing
            else f"missing {', '.join(missing)} (environment or .env)",
        )
    )
    settings = None
    if not missing:
        try:
            settings = settings_from_env(env)
        except DialerError as exc:
            checks.append(Check("settings", False, exc.format()))
    if settings is not None:
        wanted = trunk_id or env.get("SIP_OUTBOUND_TRUNK_ID", "").strip()
        checks += asyncio.run(_livekit_checks(settings, wanted, agent_name, probe_timeout))
    else:
        checks.append(Check("livekit", False, "not checked: credentials missing"))
    google = bool(env.get("GOOGLE_API_KEY", "").strip())
    checks.append(
        Check("google", google, "GOOGLE_API_KEY set" if google else "GOOGLE_API_KEY missing")
    )
    checks.append(_noise_check(env.get("LIVEKIT_URL", ""), campaigns))
    checks.append(_lock_check(db))
    checks.append(asyncio.run(_endpoint_check(env)))
    return checks


async def _livekit_checks(
    settings: LiveKitSettings, trunk_id: str, agent_name: str, timeout: float
) -> list[Check]:
    """Reachability and trunk (one listing), then whether a worker takes `agent_name` jobs."""
    try:
        trunks = await _with_api(
            settings,
            lambda lk, api: lk.sip.list_outbound_trunk(api.ListSIPOutboundTrunkRequest()),
        )
    except DialerError as exc:
        return [Check("livekit", False, exc.message)]
    trunks = [_trunk(t) for t in trunks.items]
    checks = [Check("livekit", True, f"reachable at {settings.url}")]
    if trunk_id:
        found = any(t.trunk_id == trunk_id for t in trunks)
        detail = f"{trunk_id} exists" if found else f"{trunk_id} not among {len(trunks)} trunk(s)"
        checks.append(Check("trunk", found, detail))
    else:
        checks.append(
            Check(
                "trunk",
                bool(trunks),
                f"{len(trunks)} outbound trunk(s)"
                if trunks
                else "no outbound trunk: run `dialer trunk create`",
            )
        )
    try:
        checks.append(
            await _with_api(settings, lambda lk, api: _probe(lk, api, agent_name, timeout))
        )
    except DialerError as exc:
        checks.append(Check("agent worker", False, exc.message))
    return checks


async def _probe(lk, api, agent_name: str, timeout: float) -> Check:
    """Dispatch a probe job for `agent_name` and wait for a worker to take it."""
    room = f"dialer-doctor-{secrets.token_hex(4)}"
    dispatch = await lk.agent_dispatch.create_dispatch(
        api.CreateAgentDispatchRequest(
            agent_name=agent_name,
            room=room,
            metadata=PROBE_METADATA,
            restart_policy=api.JobRestartPolicy.JRP_NEVER,
        )
    )
    worker = None
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while worker is None and loop.time() < deadline:
            await asyncio.sleep(0.25)
            found = await lk.agent_dispatch.get_dispatch(dispatch.id, room)
            jobs = list(found.state.jobs) if found is not None else []
            worker = next((j.state.worker_id or "?" for j in jobs if j.state.worker_id), None)
    finally:
        with contextlib.suppress(Exception):  # tidy-up only: the probe room is empty anyway
            await lk.agent_dispatch.delete_dispatch(dispatch.id, room)
        with contextlib.suppress(Exception):
            await lk.room.delete_room(api.DeleteRoomRequest(room=room))
    if worker is None:
        return Check(
            "agent worker",
            False,
            f"no worker took a job for agent name {agent_name!r} within {timeout:g}s: "
            f"start one with `dialer agent start --agent-name {agent_name}`",
        )
    return Check("agent worker", True, f"worker {worker} takes jobs for {agent_name!r}")


def _noise_check(url: str, campaigns: Sequence[tuple[str, bool]]) -> Check:
    """BVCTelephony needs its plugin and LiveKit Cloud; campaigns may turn it off."""
    wanting = [name for name, on in campaigns if on]
    try:
        from livekit.plugins import noise_cancellation  # noqa: TID253 - doctor only

        noise_cancellation.BVCTelephony  # noqa: B018 - the model the worker uses must exist
    except (ImportError, AttributeError) as exc:
        return Check(
            "noise cancellation",
            not wanting,
            f"plugin unavailable ({exc}); "
            + (f"turned on in {', '.join(wanting)}" if wanting else "no campaign uses it"),
        )
    host = urlsplit(url.strip()).hostname or ""
    if host.endswith(".livekit.cloud"):
        return Check("noise cancellation", True, "BVCTelephony available (LiveKit Cloud)")
    if not wanting:
        return Check("noise cancellation", True, "off in every campaign (it needs LiveKit Cloud)")
    return Check(
        "noise cancellation",
        False,
        f"BVCTelephony needs LiveKit Cloud, and {url or 'LIVEKIT_URL'} is not; set "
        f"telephony.noise_cancellation: false in {', '.join(wanting)}",
    )


def _lock_check(db: Path) -> Check:
    if not db.exists():
        return Check("run log", True, f"{db} not created yet")
    import duckdb

    try:
        duckdb.connect(str(db), read_only=True).close()
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0]
        return Check("run log", False, f"{db} is locked by another process: {first}")
    return Check("run log", True, f"{db} not locked")


async def _endpoint_check(env: Mapping[str, str]) -> Check:
    """Serve a report endpoint as a run would, and reach it the way workers will."""
    import aiohttp

    from dialer.livekit.server import ReportServer

    name = "report endpoint"
    host = env.get("DIALER_REPORT_HOST", "").strip() or "127.0.0.1"
    port_text = env.get("DIALER_REPORT_PORT", "").strip() or str(DEFAULT_REPORT_PORT)
    try:
        port = int(port_text)
    except ValueError:
        return Check(name, False, f"DIALER_REPORT_PORT: expected a port number, got {port_text!r}")
    settings = LiveKitSettings(
        url="",
        api_key="",
        api_secret="",
        report_host=host,
        report_port=port,
        report_url=env.get("DIALER_REPORT_URL", "").strip() or None,
    )
    timeout = aiohttp.ClientTimeout(total=5)
    server = ReportServer(settings, sink=None)
    try:
        await server.start()
    except DialerError:
        # taken: a running `dialer run` answers /health; anything else is in the way
        local = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}/health"
        try:
            async with aiohttp.ClientSession(timeout=timeout) as http:
                async with http.get(local) as resp:
                    text = await resp.text()
        except (aiohttp.ClientError, OSError, TimeoutError):
            text = ""
        if text.startswith("ok dialer"):
            return Check(name, True, f"a dialer run already serves reports on {host}:{port}")
        return Check(name, False, f"{host}:{port} is in use by another program")
    try:
        url = server.report_url
        health = url.rsplit("/reports", 1)[0] + "/health" if "/reports" in url else url
        try:
            async with aiohttp.ClientSession(timeout=timeout) as http:
                async with http.get(health) as resp:
                    text = await resp.text()
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            return Check(name, False, f"listening on {host}:{server.port}, but {health}: {exc}")
        if server.instance not in text:
            return Check(
                name, False, f"{health} answers, but not from this machine's report endpoint"
            )
        return Check(name, True, f"workers reach {url} (listening on {host}:{server.port})")
    finally:
        await server.aclose()
