"""Where the server finds the project, the run log and the lead files, and its token secret."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dialer.campaign.load import read_dotenv

MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # the legacy dashboard's limit
UPLOADS_PER_MINUTE = 10  # per client address, as the legacy security advice said


@dataclass(frozen=True)
class WebConfig:
    """Everything `create_app` needs; `from_env` fills it the way `dialer serve` does."""

    root: Path
    db: Path
    leads_dir: Path
    jwt_secret: str | None = None
    # the legacy LEADS_CSV_PATH: the active lead file until one is selected through the API
    legacy_csv: Path | None = None
    max_upload_bytes: int = MAX_UPLOAD_BYTES
    uploads_per_minute: int = UPLOADS_PER_MINUTE
    backend: str = "simulate"  # where runs started from the dashboard dial

    @property
    def campaigns_dir(self) -> Path:
        return self.root / "campaigns"

    @classmethod
    def from_env(
        cls,
        root: Path | None = None,
        db: Path | None = None,
        leads_dir: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> WebConfig:
        """Explicit arguments, else the environment (over the project's `.env`), else defaults.

        `DIALER_DB` (default `runs/dialer.duckdb`), `LEADS_CSV_DIR` (default `leads/`),
        `LEADS_CSV_PATH`, `DIALER_JWT_SECRET`; relative paths are relative to `root`.
        """
        root = (root or Path.cwd()).resolve()
        if env is None:
            env = {**read_dotenv(root / ".env"), **os.environ}

        def under_root(value: str | Path) -> Path:
            p = Path(os.path.expanduser(str(value)))
            return p if p.is_absolute() else root / p

        legacy = env.get("LEADS_CSV_PATH") or None
        return cls(
            root=root,
            db=under_root(db or env.get("DIALER_DB") or "runs/dialer.duckdb"),
            leads_dir=under_root(leads_dir or env.get("LEADS_CSV_DIR") or "leads"),
            jwt_secret=env.get("DIALER_JWT_SECRET") or None,
            legacy_csv=under_root(legacy) if legacy else None,
        )
