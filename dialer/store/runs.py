"""Rows of the `runs` table: a run starts, ends, or is found crashed when the next one starts."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import duckdb


def start_run(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    rev: Any,
    options: Any,
    at: datetime,
    pid: int,
    host: str,
) -> None:
    opts = {
        k: (str(v) if not isinstance(v, int | float | bool | type(None)) else v)
        for k, v in vars(options).items()
    }
    con.execute(
        "INSERT INTO runs (run_id, campaign, campaign_path, revision, git_commit, backend, status, "
        "started_at, pid, host, options) VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?)",
        [
            run_id,
            rev.campaign.name,
            str(rev.loaded.path),
            rev.loaded.revision,
            rev.git_commit,
            options.backend,
            at,
            pid,
            host,
            json.dumps(opts),
        ],
    )


def finish_run(con: duckdb.DuckDBPyConnection, run_id: str, status: str, at: datetime) -> None:
    con.execute("UPDATE runs SET status = ?, ended_at = ? WHERE run_id = ?", [status, at, run_id])


def recover_crashed(con: duckdb.DuckDBPyConnection, at: datetime) -> int:
    """Mark runs left 'running' as crashed and their result-less dials as unknown.

    This process holds the run log's lock, so no other process can still be running them.
    Returns how many dials became unknown.
    """
    con.execute("BEGIN")
    try:
        unknown = con.execute(
            "UPDATE attempts SET status = 'unknown', "
            "error = 'no result recorded: the run stopped abruptly' "
            "WHERE status = 'dialing' RETURNING attempt_id"
        ).fetchall()
        con.execute(
            "UPDATE runs SET status = 'crashed', ended_at = ? WHERE status = 'running'", [at]
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return len(unknown)
