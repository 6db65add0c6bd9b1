"""The do-not-call table: numbers no campaign ever dials, added by hand, by import or by opt-out."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from dialer.errors import DialerError, Location
from dialer.phones import PHONE_HEADERS, normalize_phone


@dataclass
class DncChange:
    """What an add/remove/import did."""

    added: int = 0
    removed: int = 0
    already: int = 0
    invalid: list[str] | None = None


def add_numbers(
    con: duckdb.DuckDBPyConnection,
    numbers: list[str],
    region: str = "US",
    source: str = "cli",
    reason: str | None = None,
    campaign: str | None = None,
    attempt_id: str | None = None,
    at: datetime | None = None,
) -> DncChange:
    """Add numbers (any common format) to `dnc`; invalid ones are reported, not guessed."""
    change = DncChange(invalid=[])
    valid: list[str] = []
    for raw in numbers:
        e164 = normalize_phone(raw, region)
        if e164 is None:
            change.invalid.append(raw)
        else:
            valid.append(e164)
    valid = sorted(set(valid))
    if not valid:
        return change
    existing = {
        r[0]
        for r in con.execute(
            "SELECT phone FROM dnc WHERE phone IN (SELECT unnest(?::VARCHAR[]))", [valid]
        ).fetchall()
    }
    new = [p for p in valid if p not in existing]
    change.already = len(valid) - len(new)
    if new:
        con.execute(
            "INSERT INTO dnc (phone, added_at, source, reason, campaign, attempt_id) "
            "SELECT unnest(?::VARCHAR[]), coalesce(?::TIMESTAMPTZ, now()), ?, ?, ?, ?",
            [new, at, source, reason, campaign, attempt_id],
        )
    change.added = len(new)
    return change


def remove_numbers(
    con: duckdb.DuckDBPyConnection, numbers: list[str], region: str = "US"
) -> DncChange:
    """Remove numbers from `dnc` (a person who opted back in, or a mistake)."""
    change = DncChange(invalid=[])
    valid = []
    for raw in numbers:
        e164 = normalize_phone(raw, region)
        if e164 is None:
            change.invalid.append(raw)
        else:
            valid.append(e164)
    if valid:
        change.removed = (
            con.execute(
                "DELETE FROM dnc WHERE phone IN (SELECT unnest(?::VARCHAR[])) RETURNING phone",
                [valid],
            )
            .fetchall()
            .__len__()
        )
    return change


def read_numbers_file(path: Path) -> list[str]:
    """Phone numbers from a CSV (a phone-like column, or the first one) or a one-per-line file."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DialerError("file not found", Location(str(path))) from None
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise DialerError("file is not valid UTF-8", Location(str(path), line)) from None
    rows = list(csv.reader(io.StringIO(text)))
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise DialerError("file has no numbers", Location(str(path), 1))
    header = [c.strip().lower() for c in rows[0]]
    named = [i for i, c in enumerate(header) if c in PHONE_HEADERS]
    if named:
        return [r[named[0]] for r in rows[1:] if len(r) > named[0]]
    if (
        normalize_phone(rows[0][0]) is None
        and len(rows) > 1
        and not any(ch.isdigit() for ch in rows[0][0])
    ):
        rows = rows[1:]  # a header without a phone-like name: use its first column
    return [r[0] for r in rows]


def list_numbers(con: duckdb.DuckDBPyConnection, limit: int | None = None) -> list[dict]:
    """The dnc table, newest first."""
    sql = (
        "SELECT phone, strftime(added_at AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ'), source, "
        "reason, campaign FROM dnc ORDER BY added_at DESC, phone"
    )
    if limit:
        sql += f" LIMIT {int(limit)}"
    return [
        dict(zip(("phone", "added_at", "source", "reason", "campaign"), r, strict=True))
        for r in con.execute(sql).fetchall()
    ]
