"""The worker's credentials: LiveKit URL/key/secret and the Google API key, from env or `.env`."""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path

from dialer.errors import DialerError

REQUIRED = ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET", "GOOGLE_API_KEY")


class AgentConfigError(DialerError):
    """A setting the worker cannot start without."""


@dataclass(frozen=True)
class AgentConfig:
    livekit_url: str
    api_key: str
    api_secret: str
    google_api_key: str


def load_config(
    environ: MutableMapping[str, str] | None = None, dotenv: Path | None = None
) -> AgentConfig:
    """Settings from the environment, filled in from `.env` (the real environment wins).

    Values taken from `.env` are written back into `environ` so that livekit's own CLI options
    (`--url` defaults to LIVEKIT_URL) and the Google plugin see them in the job processes too.
    """
    from dialer.campaign.load import read_dotenv

    env = os.environ if environ is None else environ
    for key, value in read_dotenv(dotenv or Path.cwd() / ".env").items():
        if key in REQUIRED and not env.get(key):
            env[key] = value
    return config_from(env)


def config_from(env: Mapping[str, str]) -> AgentConfig:
    missing = [k for k in REQUIRED if not env.get(k)]
    if missing:
        raise AgentConfigError(
            f"missing {', '.join(missing)}",
            hint="set them in the environment or in .env (see .env.example)",
        )
    return AgentConfig(
        livekit_url=env["LIVEKIT_URL"],
        api_key=env["LIVEKIT_API_KEY"],
        api_secret=env["LIVEKIT_API_SECRET"],
        google_api_key=env["GOOGLE_API_KEY"],
    )
