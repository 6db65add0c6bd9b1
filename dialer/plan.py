"""Who a campaign would call, when (lead-local), and who is skipped and why."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb

from dialer.campaign.load import LoadedCampaign, project_root
from dialer.campaign.schema import DAY_NAMES
from dialer.leads import quote_ident, quote_str, select_leads
from dialer.project import Rules, load_rules
from dialer.schedule.window import CallingWindow, is_open, next_open

# Stage names in the order a lead meets them, with the words `plan` prints.
STAGE_LABELS = {
    "source_rows": "source rows",
    "not_matched": "not matched by where",
    "invalid_phone": "invalid phone number",
    "duplicate": "duplicate phone number",
    "suppressed": "suppressed (DNC)",
    "no_timezone": "no timezone known",
    "over_limit": "beyond leads.limit",
    "done": "done (final outcome)",
    "exhausted": "attempts exhausted",
    "unknown": "last attempt unknown (not redialed)",
    "in_flight": "in flight",
    "waiting_retry": "waiting for retry",
    "no_window": "no calling window left",
    "outside_window": "outside window at plan time",
    "callable_now": "callable now",
}


@dataclass
class PlannedLead:
    """One callable lead: its position, number and the next time it may be dialed."""

    order: int
    row: int
    phone: str
    name: str | None
    timezones: list[str]
    attempts: int
    state: str  # callable_now | outside_window | waiting_retry
    next_at: datetime | None
    next_local: str | None


@dataclass
class Plan:
    """Counts per stage and the callable leads in campaign order."""

    campaign: str
    revision: str
    at: datetime
    counts: dict[str, int]
    leads: list[PlannedLead] = field(default_factory=list)
    callable: int = 0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["at"] = self.at.isoformat()
        for lead in out["leads"]:
            lead["next_at"] = lead["next_at"].isoformat() if lead["next_at"] else None
        return out


def _history_sql(
    loaded: LoadedCampaign, at: datetime, retry_unknown: bool, catalog: str = "log"
) -> str:
    """Classify selected leads by what the run log says about earlier attempts."""
    pacing = loaded.campaign.pacing
    delays = {k: v.total_seconds() for k, v in pacing.retry.items()}

    def delay(status: str) -> str:
        return f"{delays[status]}" if status in delays else "NULL"

    retry_case = " ".join(
        f"WHEN h.last_status = {quote_str(s)} THEN h.last_end + {delay(s)}"
        for s in ("no_answer", "busy", "voicemail", "failed", "canceled")
    )
    if retry_unknown:
        retry_case += (
            f" WHEN h.last_status = 'unknown' THEN h.last_end + {delays.get('unknown', 0.0)}"
        )
    at_epoch = at.timestamp()
    return f"""
        CREATE OR REPLACE TEMP TABLE __plan AS
        WITH h AS (
            SELECT lead_key, count(*) AS used,
                arg_max(status, coalesce(dialed_at, scheduled_at)) AS last_status,
                arg_max(disposition, coalesce(dialed_at, scheduled_at)) AS last_disposition,
                epoch(max(coalesce(ended_at, dialed_at))) AS last_end,
                epoch(arg_max(callback_at, coalesce(dialed_at, scheduled_at))) AS callback_at
            FROM {quote_ident(catalog)}.attempts WHERE campaign = {quote_str(loaded.campaign.name)}
            GROUP BY lead_key),
        c AS (
            SELECT s.__order, s.__row, s.__e164, s.__zones, coalesce(h.used, 0) AS __used,
                CASE
                    WHEN h.lead_key IS NULL THEN NULL
                    WHEN h.last_status = 'completed' AND h.last_disposition = 'callback'
                        THEN coalesce(h.callback_at, h.last_end + {delay("callback")})
                    {retry_case}
                END AS __due,
                h.last_status
            FROM __sel s LEFT JOIN h ON h.lead_key = s.__e164
            WHERE s.__stage = 'selected')
        SELECT *, CASE
            WHEN __used >= {int(pacing.max_attempts)} THEN 'exhausted'
            WHEN last_status = 'dialing' THEN 'in_flight'
            WHEN last_status = 'unknown' AND __due IS NULL THEN 'unknown'
            WHEN last_status IS NOT NULL AND __due IS NULL THEN 'done'
            WHEN __due > {at_epoch} THEN 'waiting_retry'
            ELSE 'due' END AS __state
        FROM c
    """


def plan_campaign(
    loaded: LoadedCampaign,
    at: datetime | None = None,
    run_log: Path | None = None,
    show: int | None = 20,
    retry_unknown: bool = False,
    rules: Rules | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
    log_catalog: str | None = None,
) -> Plan:
    """Plan a campaign at `at` (default: now): counts per stage and the first `show` leads."""
    at = (at or datetime.now(UTC)).astimezone(UTC)
    rules = rules or load_rules(project_root(loaded.path))
    selection = select_leads(loaded, run_log, con, log_catalog)
    con = selection.con
    if selection.has_run_log:
        con.execute(_history_sql(loaded, at, retry_unknown, selection.log_catalog))
        base = "SELECT * FROM __plan"
    else:  # nothing dialed yet: every selected lead is due
        base = (
            "SELECT __order, __row, __e164, __zones, 0 AS __used, CAST(NULL AS DOUBLE) AS __due,"
            " CAST(NULL AS VARCHAR) AS last_status, 'due' AS __state"
            " FROM __sel WHERE __stage = 'selected'"
        )
    window = rules.effective_window(loaded.campaign.pacing.window)
    _apply_windows(con, window, at, base)

    counts = {k: v for k, v in selection.counts.items() if k != "selected"}
    states = dict(con.execute("SELECT __final, count(*) FROM __plan GROUP BY 1").fetchall())
    for state in (
        "done",
        "exhausted",
        "unknown",
        "in_flight",
        "waiting_retry",
        "no_window",
        "outside_window",
        "callable_now",
    ):
        counts[state] = states.get(state, 0)
    plan = Plan(loaded.campaign.name, loaded.revision, at, counts)
    plan.callable = sum(
        states.get(s, 0) for s in ("waiting_retry", "outside_window", "callable_now")
    )
    limit = "" if show is None else f"LIMIT {int(show)}"
    name_col = "prospect_name" if "prospect_name" in selection.columns else None
    # the first `show` leads, then their names: a join of every planned lead would cost more
    rows = con.execute(
        f"""WITH p AS (
                SELECT __order, __row, __e164, __zones, __used, __final, __next FROM __plan
                WHERE __final IN ('callable_now', 'outside_window', 'waiting_retry')
                ORDER BY __order {limit})
            SELECT p.__order, p.__row, p.__e164, p.__zones, p.__used, p.__final, p.__next,
                   {"s.prospect_name" if name_col else "NULL"}
            FROM p JOIN __sel s USING (__row)
            ORDER BY p.__order"""
    ).fetchall()
    for order, row, phone, zones, used, state, nxt, name in rows:
        next_at = datetime.fromtimestamp(nxt, UTC) if nxt is not None else None
        plan.leads.append(
            PlannedLead(
                order=order,
                row=row,
                phone=phone,
                name=name,
                timezones=list(zones),
                attempts=used,
                state=state,
                next_at=next_at,
                next_local=local_text(next_at, zones),
            )
        )
    return plan


def local_text(when: datetime | None, zones: list[str]) -> str | None:
    """`when` as the lead sees it: `mon 2026-11-23 09:00 EST` in its first zone."""
    if when is None or not zones:
        return None
    local = when.astimezone(ZoneInfo(zones[0]))
    return f"{DAY_NAMES[local.weekday()]} {local:%Y-%m-%d %H:%M} {local.tzname()}"


def _apply_windows(
    con: duckdb.DuckDBPyConnection, window: CallingWindow | None, at: datetime, base: str
) -> None:
    """Make `__plan`: the rows of `base` (a SELECT of the selected leads with their `__state`)
    plus `__final` (state) and `__next` (epoch of next allowed dial)."""
    groups = con.execute(
        f"SELECT DISTINCT __zones, __due FROM ({base}) WHERE __state IN ('due', 'waiting_retry')"
    ).fetchall()
    con.execute(
        "CREATE OR REPLACE TEMP TABLE __next (zkey VARCHAR, due DOUBLE, nxt DOUBLE, open BOOLEAN)"
    )
    values = []
    for zones, due in groups:
        start = max(at, datetime.fromtimestamp(due, UTC)) if due is not None else at
        if window is None:
            nxt, open_now = None, False
        else:
            when = next_open(window, list(zones), start)
            nxt = when.timestamp() if when else None
            open_now = due is None or due <= at.timestamp()
            open_now = open_now and is_open(window, list(zones), at)
        values.append(("\x1f".join(zones), due, nxt, open_now))
    if values:
        con.execute(
            "INSERT INTO __next SELECT unnest(?::VARCHAR[]), unnest(?::DOUBLE[]), "
            "unnest(?::DOUBLE[]), unnest(?::BOOLEAN[])",
            [list(c) for c in zip(*values, strict=True)],
        )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE __plan AS
           SELECT p.*, n.nxt AS __next, CASE
               WHEN p.__state = 'due' AND n.nxt IS NULL THEN 'no_window'
               WHEN p.__state = 'waiting_retry' AND n.nxt IS NULL THEN 'no_window'
               WHEN p.__state = 'due' AND n.open THEN 'callable_now'
               WHEN p.__state = 'due' THEN 'outside_window'
               ELSE p.__state END AS __final
           FROM ({base}) p LEFT JOIN __next n
             ON n.zkey = array_to_string(p.__zones, chr(31))
            AND n.due IS NOT DISTINCT FROM p.__due"""
    )
