"""Setting LiveKit up from the dialer: outbound SIP trunks, and `dialer doctor`'s checks.

Trunk settings (environment or `.env`): `SIP_ADDRESS` (the provider's SIP host, e.g.
`example.pstn.twilio.com`), `SIP_NUMBERS` (comma-separated E.164 caller numbers), `SIP_USERNAME`
and `SIP_PASSWORD` (digest auth, optional), `SIP_TRUNK_NAME` (default "dialer").
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dialer.errors import DialerError
from dialer.livekit.settings import LiveKitSettings, missing_credentials, settings_from_env


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


def doctor(env: Mapping[str, str], db: Path, trunk_id: str | None = None) -> list[Check]:
    """Every check, each independent of the others' outcome where possible."""
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
        try:
            trunks = list_trunks(settings)
            checks.append(Check("livekit", True, f"reachable at {settings.url}"))
            wanted = trunk_id or env.get("SIP_OUTBOUND_TRUNK_ID", "").strip()
            if wanted:
                found = any(t.trunk_id == wanted for t in trunks)
                detail = (
                    f"{wanted} exists" if found else f"{wanted} not among {len(trunks)} trunk(s)"
                )
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
        except DialerError as exc:
            checks.append(Check("livekit", False, exc.message))
    else:
        checks.append(Check("livekit", False, "not checked: credentials missing"))
    google = bool(env.get("GOOGLE_API_KEY", "").strip())
    checks.append(
        Check("google", google, "GOOGLE_API_KEY set" if google else "GOOGLE_API_KEY missing")
    )
    checks.append(_lock_check(db))
    checks.append(_endpoint_check(env))
    return checks


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


def _endpoint_check(env: Mapping[str, str]) -> Check:
    host = env.get("DIALER_REPORT_HOST", "").strip() or "127.0.0.1"
    port_text = env.get("DIALER_REPORT_PORT", "").strip() or "8089"
    try:
        port = int(port_text)
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
    except (OSError, ValueError) as exc:
        return Check("report endpoint", False, f"cannot listen on {host}:{port_text}: {exc}")
    url = env.get("DIALER_REPORT_URL", "").strip()
    where = f", workers POST to {url}" if url else ""
    return Check("report endpoint", True, f"{host}:{port} is free{where}")
