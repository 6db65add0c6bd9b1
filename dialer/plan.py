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

# The lead column a planned lead's name is read from (the legacy header).
NAME_COLUMN = "prospect_name"
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
    narrow: bool = False,
) -> Plan:
    """Plan a campaign at `at` (default: now): counts per stage and the first `show` leads.

    `narrow`: read only the lead columns the plan uses, and make no `__plan` table of every
    planned lead (for a caller that uses only the Plan returned). Otherwise `con` keeps TEMP
    tables `__sel` (see `select_leads`) and `__plan` (`__final`, `__next` for each selected
    lead)."""
    at = (at or datetime.now(UTC)).astimezone(UTC)
    rules = rules or load_rules(project_root(loaded.path))
    selection = select_leads(
        loaded, run_log, con, log_catalog, columns=(NAME_COLUMN,) if narrow else None
    )
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
    groups = _window_groups(con, window, at, base)
    counts = {k: v for k, v in selection.counts.items() if k != "selected"}
    name_col = NAME_COLUMN if NAME_COLUMN in selection.columns else None
    if narrow:  # the counts by group, the first leads found in order: no table of them all
        states: dict[str, int] = {}
        for n, final, _ in groups.values():
            states[final] = states.get(final, 0) + n
        shown = _first_planned(con, base, groups, show)
    else:
        _apply_windows(con, base)
        states = dict(con.execute("SELECT __final, count(*) FROM __plan GROUP BY 1").fetchall())
        limit = "" if show is None else f"LIMIT {int(show)}"
        shown = con.execute(
            "SELECT __order, __row, __e164, __zones, __used, __final, __next FROM __plan"
            f" WHERE __final IN {PLANNED!r} ORDER BY __order {limit}"
        ).fetchall()
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
    plan.callable = sum(states.get(s, 0) for s in PLANNED)
    # the names of the leads shown only: a join of every planned lead would cost more
    names: dict[int, str | None] = {}
    if name_col and shown:
        names = dict(
            con.execute(
                f"SELECT __row, {quote_ident(name_col)} FROM __sel"
                " WHERE __row IN (SELECT unnest(?::BIGINT[]))",
                [[r[1] for r in shown]],
            ).fetchall()
        )
    for order, row, phone, zones, used, state, nxt in shown:
        next_at = datetime.fromtimestamp(nxt, UTC) if nxt is not None else None
        plan.leads.append(
            PlannedLead(
                order=order,
                row=row,
                phone=phone,
                name=names.get(row),
                timezones=list(zones),
                attempts=used,
                state=state,
                next_at=next_at,
                next_local=local_text(next_at, zones),
            )
        )
    return plan


# The plan states of a lead that will be called (now, later today, after its retry delay).
PLANNED = ("callable_now", "outside_window", "waiting_retry")


def local_text(when: datetime | None, zones: list[str]) -> str | None:
    """`when` as the lead sees it: `mon 2026-11-23 09:00 EST` in its first zone."""
    if when is None or not zones:
        return None
    local = when.astimezone(ZoneInfo(zones[0]))
    return f"{DAY_NAMES[local.weekday()]} {local:%Y-%m-%d %H:%M} {local.tzname()}"


def _final(state: str, nxt: float | None, open_now: bool) -> str:
    """A selected lead's plan state, from its history state and its window (next opening,
    open now)."""
    if state in ("due", "waiting_retry") and nxt is None:
        return "no_window"
    if state == "due":
        return "callable_now" if open_now else "outside_window"
    return state


def _window_groups(
    con: duckdb.DuckDBPyConnection, window: CallingWindow | None, at: datetime, base: str
) -> dict[tuple[tuple[str, ...], float | None, str], tuple[int, str, float | None]]:
    """The selected leads (the rows of `base`, a SELECT with their `__state`) grouped by zones,
    retry due time and state: each group's size, plan state and next allowed dial (epoch).
    Makes TEMP table `__next` (zkey, due, state, nxt, final) of the same, for `_apply_windows`."""
    rows = con.execute(
        f"SELECT __zones, __due, __state, count(*) FROM ({base}) GROUP BY ALL"
    ).fetchall()
    groups = {}
    values = []
    for zones, due, state, n in rows:
        zones = tuple(zones)
        nxt, open_now = None, False
        if state in ("due", "waiting_retry") and window is not None:
            start = max(at, datetime.fromtimestamp(due, UTC)) if due is not None else at
            when = next_open(window, list(zones), start)
            nxt = when.timestamp() if when else None
            open_now = due is None or due <= at.timestamp()
            open_now = open_now and is_open(window, list(zones), at)
        final = _final(state, nxt, open_now)
        groups[zones, due, state] = (n, final, nxt)
        values.append(("\x1f".join(zones), due, state, nxt, final))
    con.execute(
        "CREATE OR REPLACE TEMP TABLE __next"
        " (zkey VARCHAR, due DOUBLE, state VARCHAR, nxt DOUBLE, final VARCHAR)"
    )
    if values:
        con.execute(
            "INSERT INTO __next SELECT unnest(?::VARCHAR[]), unnest(?::DOUBLE[]),"
            " unnest(?::VARCHAR[]), unnest(?::DOUBLE[]), unnest(?::VARCHAR[])",
            [list(c) for c in zip(*values, strict=True)],
        )
    return groups


# A lead `p` of the plan's base and its group `n` in `__next` (see `_window_groups`).
_GROUP_OF_LEAD = (
    "n.zkey = array_to_string(p.__zones, chr(31))"
    " AND n.due IS NOT DISTINCT FROM p.__due AND n.state = p.__state"
)


def _apply_windows(con: duckdb.DuckDBPyConnection, base: str) -> None:
    """Make `__plan`: the rows of `base` plus `__final` (plan state) and `__next` (epoch of
    the next allowed dial), from `__next` (see `_window_groups`)."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE __plan AS
           SELECT p.*, n.nxt AS __next, coalesce(n.final, p.__state) AS __final
           FROM ({base}) p LEFT JOIN __next n ON {_GROUP_OF_LEAD}"""
    )


# How many leads in order `_first_planned` looks at before it asks for the planned ones.
FIRST_BATCH = 256


def _first_planned(
    con: duckdb.DuckDBPyConnection, base: str, groups: dict, show: int | None
) -> list[tuple]:
    """The first `show` (None: all) leads of `base` in campaign order whose plan state is in
    PLANNED, as (order, row, e164, zones, attempts, state, next): the first leads in order,
    which usually are; else those of the planned groups in `__next`, in one query."""
    cols = "__order, __row, __e164, __zones, __used, __due, __state"
    if show is not None:
        batch = max(show, FIRST_BATCH)
        rows = con.execute(f"SELECT {cols} FROM ({base}) ORDER BY __order LIMIT {batch}").fetchall()
        out = []
        for order, row, e164, zones, used, due, state in rows:
            _, final, nxt = groups[tuple(zones), due, state]
            if final in PLANNED:
                out.append((order, row, e164, zones, used, final, nxt))
        if len(out) >= show or len(rows) < batch:
            return out[:show]
    limit = "" if show is None else f"LIMIT {int(show)}"
    return con.execute(
        f"""SELECT p.__order, p.__row, p.__e164, p.__zones, p.__used, n.final, n.nxt
            FROM ({base}) p JOIN __next n ON {_GROUP_OF_LEAD}
            WHERE n.final IN {PLANNED!r} ORDER BY p.__order {limit}"""
    ).fetchall()
