"""Helpers for the web API tests: the real app on a project's real run log, and tokens."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

from .conftest import cli

SECRET = "web-test-secret-" + "k" * 40
MONDAY = "2026-11-23T13:00:00+00:00"  # 08:00 in New York, before the example's window opens


def config(project: Path, **overrides):
    from dialer.web.config import WebConfig

    base = WebConfig.from_env(project, env={"DIALER_JWT_SECRET": SECRET})
    return dataclasses.replace(base, **overrides)


def auth(role: str = "admin", secret: str = SECRET, ttl: float = 600, **kw) -> dict[str, str]:
    from dialer.web.auth import create_token

    return {"Authorization": f"Bearer {create_token(secret, role, ttl, **kw)}"}


@contextlib.contextmanager
def client(project: Path, **overrides) -> Iterator:
    """A TestClient on `create_app` for the project; the app's lifespan runs (run log held)."""
    from fastapi.testclient import TestClient

    from dialer.web.app import create_app

    with TestClient(create_app(config(project, **overrides))) as c:
        yield c


def simulated_run(*extra: str, campaign: str = "campaigns/example.yaml") -> dict:
    """`dialer run` on the simulator in virtual time (one day from MONDAY); its JSON summary."""
    res = cli("run", campaign, "--virtual-time", "--start", MONDAY, "--days", "1", "--json", *extra)
    assert res.exit_code == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


def upload(c, name: str, data: bytes | str, headers: dict | None = None, **form):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return c.post(
        "/api/agentic/csv/upload",
        files={"file": (name, data, "text/csv")},
        data=form,
        headers=headers if headers is not None else auth(),
    )
