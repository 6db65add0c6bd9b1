"""What the run log says happened: one run, the attempts of a run or campaign, a transcript.

Read-only SQL over the `runs`, `attempts` and `transcripts` tables (`dialer.store.schema`);
times come out as UTC ISO strings, the way `dialer runs --json` prints them.
"""

from __future__ import annotations

import json
from typing import Any

import duckdb

ATTEMPTS_LIMIT, ATTEMPTS_MAX = 50, 1000


def _iso(column: str) -> str:
    return f"strftime({column} AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ')"


def _rows(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def get_run(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, Any] | None:
    """A run's row with its options, dial counts per status and dispositions; None if unknown."""
    runs = _rows(
        con.execute(
            f"""SELECT run_id, campaign, campaign_path, revision, git_commit, backend, status,
                       {_iso("started_at")} AS started_at, {_iso("ended_at")} AS ended_at,
                       pid, host, options
                FROM runs WHERE run_id = ?""",
            [run_id],
        )
    )
    if not runs:
        return None
    run = runs[0]
    run["options"] = json.loads(run["options"]) if run["options"] else {}
    run["statuses"] = dict(
        con.execute(
            "SELECT status, count(*) FROM attempts WHERE run_id = ? GROUP BY 1 ORDER BY 1",
            [run_id],
        ).fetchall()
    )
    run["dispositions"] = dict(
        con.execute(
            "SELECT disposition, count(*) FROM attempts WHERE run_id = ? "
            "AND disposition IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1",
            [run_id],
        ).fetchall()
    )
    run["dials"] = sum(run["statuses"].values())
    return run


_ATTEMPT_COLUMNS = f"""a.attempt_id, a.run_id, a.campaign, a.lead_row, a.phone, a.lead_timezone,
    a.attempt_no, a.status, a.disposition, a.variant, a.revision,
    {_iso("a.scheduled_at")} AS scheduled_at, {_iso("a.dialed_at")} AS dialed_at,
    {_iso("a.answered_at")} AS answered_at, {_iso("a.ended_at")} AS ended_at,
    a.duration_s, a.sip_status, {_iso("a.callback_at")} AS callback_at, a.error,
    EXISTS (SELECT 1 FROM transcripts t WHERE t.attempt_id = a.attempt_id) AS has_transcript"""


def list_attempts(
    con: duckdb.DuckDBPyConnection,
    run_id: str | None = None,
    campaign: str | None = None,
    status: str | None = None,
    limit: int = ATTEMPTS_LIMIT,
    offset: int = 0,
) -> dict[str, Any]:
    """`{"total", "limit", "offset", "attempts": [...]}`, newest dial first."""
    clauses, params = [], []
    for column, value in (("run_id", run_id), ("campaign", campaign), ("status", status)):
        if value:
            clauses.append(f"a.{column} = ?")
            params.append(value)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    limit = max(0, min(int(limit), ATTEMPTS_MAX))
    offset = max(0, int(offset))
    total = con.execute(f"SELECT count(*) FROM attempts a {where}", params).fetchone()[0]
    attempts = _rows(
        con.execute(
            f"SELECT {_ATTEMPT_COLUMNS} FROM attempts a {where} "
            f"ORDER BY a.dialed_at DESC NULLS LAST, a.attempt_id LIMIT {limit} OFFSET {offset}",
            params,
        )
    )
    return {"total": total, "limit": limit, "offset": offset, "attempts": attempts}


def get_attempt(con: duckdb.DuckDBPyConnection, attempt_id: str) -> dict[str, Any] | None:
    sql = f"SELECT {_ATTEMPT_COLUMNS} FROM attempts a WHERE a.attempt_id = ?"
    rows = _rows(con.execute(sql, [attempt_id]))
    return rows[0] if rows else None


def transcript(con: duckdb.DuckDBPyConnection, attempt_id: str) -> list[dict[str, Any]]:
    """The attempt's conversation in order: `[{"seq", "at", "role", "text"}]`."""
    return _rows(
        con.execute(
            f"SELECT seq, {_iso('spoken_at')} AS at, role, text FROM transcripts "
            "WHERE attempt_id = ? ORDER BY seq",
            [attempt_id],
        )
    )


def campaign_names(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Campaign names the run log has dials or runs for."""
    return {
        r[0]
        for r in con.execute(
            "SELECT campaign FROM runs UNION SELECT DISTINCT campaign FROM attempts"
        ).fetchall()
    }
