"""Open the run log file, turning DuckDB's lock conflict into a one-line error naming the holder."""

from __future__ import annotations

import os
import re
from pathlib import Path

import duckdb

from dialer.errors import Location, RunLogLocked
from dialer.store.schema import migrate

DEFAULT_DB = "runs/dialer.duckdb"
_PID_RE = re.compile(r"PID (\d+)")


def default_db_path() -> Path:
    """`DIALER_DB` when set, else runs/dialer.duckdb under the current folder."""
    return Path(os.environ.get("DIALER_DB") or DEFAULT_DB)


def lock_error(path: Path, exc: Exception) -> RunLogLocked | None:
    """A RunLogLocked for DuckDB's 'Could not set lock' error, else None."""
    text = str(exc)
    if "lock" not in text.lower():
        return None
    m = _PID_RE.search(text)
    holder = f"process {m.group(1)}" if m else "another process"
    return RunLogLocked(
        f"run log is in use by {holder}",
        Location(str(path)),
        "wait for it to finish, stop it, or hand the run to it with --server",
    )


def open_run_log(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection to the run log; created and migrated unless read-only."""
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as exc:
        locked = lock_error(path, exc)
        if locked:
            raise locked from None
        raise
    if not read_only:
        migrate(con)
    return con


def attach_run_log(con: duckdb.DuckDBPyConnection, path: Path, alias: str = "log") -> bool:
    """Attach an existing run log read-only to `con` as `alias`; False when there is none."""
    path = Path(path)
    if not path.exists():
        return False
    attached = {
        r[0] for r in con.execute("SELECT database_name FROM duckdb_databases()").fetchall()
    }
    if alias in attached:
        return True
    try:
        con.execute(f"ATTACH '{_quote(str(path))}' AS {alias} (READ_ONLY)")
    except duckdb.Error as exc:
        locked = lock_error(path, exc)
        if locked:
            raise locked from None
        raise
    tables = {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = ?", [alias]
        ).fetchall()
    }
    return {"attempts", "dnc"} <= tables


def _quote(text: str) -> str:
    return text.replace("'", "''")
