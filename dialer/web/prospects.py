"""A campaign's leads a page at a time, each with its plan status: callable now, when, or why not.

The plan is `dialer plan`'s (`plan_campaign`), computed on the caller's connection; this module
only pages through the tables it leaves there (`__sel`: every lead row that matched `where`, with
its selection stage; `__plan`: the state and next dial time of every selected lead).
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import duckdb

from dialer.campaign.load import LoadedCampaign
from dialer.leads import quote_ident
from dialer.plan import STAGE_LABELS, local_text, plan_campaign

CALLABLE = ("callable_now", "outside_window", "waiting_retry")
PAGE_SIZE, MAX_PAGE_SIZE = 25, 500
SORTS = {"row": "s.__row", "order": "s.__order IS NULL, s.__order, s.__row"}
# Plan times the API takes: the plan's date arithmetic (windows, retry delays) must stay inside
# the years Python's datetime can hold; a time near year 1 or 9999 was a 500.
EARLIEST, LATEST = datetime(1900, 1, 1, tzinfo=UTC), datetime(9000, 1, 1, tzinfo=UTC)


def plan_time(at: datetime | None) -> datetime | None:
    """`at` in UTC (a time without a zone is UTC), if a plan can be made at it; ValueError (a 422
    from the API) when it is before 1900 or from 9000 on."""
    if at is None:
        return None
    try:
        utc = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC)
    except OverflowError:  # the zone's offset takes it past year 1 or 9999
        utc = None
    if utc is None or not EARLIEST <= utc < LATEST:
        raise ValueError(f"expected a time from 1900 to 8999, got {at.isoformat()}")
    return utc


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def lead_page(
    loaded: LoadedCampaign,
    con: duckdb.DuckDBPyConnection,
    log_catalog: str | None = None,
    page: int = 1,
    size: int = PAGE_SIZE,
    at: datetime | None = None,
    sort: str = "row",
    only_callable: bool = False,
) -> dict[str, Any]:
    """One page of the campaign's leads (rows that match `where`) with their plan status.

    `con` gets the plan's TEMP tables (give it a cursor of its own); `log_catalog` is the run
    log's catalog on it (history, do-not-call), None for a plan without a run log. Pages are
    1-based; `sort` is `row` (lead file order, the row `dialer call --lead N` takes) or `order`
    (the campaign's dial order: `order_by`, then row).

    Each lead: `row`, `order` (position among selected leads), `phone` (E.164 when valid),
    `name`, `state` (a plan stage: callable_now, outside_window, waiting_retry, done, exhausted,
    unknown, in_flight, no_window, or a selection stage: invalid_phone, duplicate, suppressed,
    no_timezone, over_limit), `reason` (the state in words), `callable`, `attempts`, `next_at`
    (UTC ISO), `next_local` (the lead's own clock), `timezones` and `fields` (every lead column).
    """
    if sort not in SORTS:
        raise ValueError(f"sort: expected one of {', '.join(SORTS)}, got {sort!r}")
    page = max(1, int(page))
    size = max(1, min(int(size), MAX_PAGE_SIZE))
    plan = plan_campaign(loaded, at, None, show=0, con=con, log_catalog=log_catalog)
    columns = [r[0] for r in con.execute("DESCRIBE __sel").fetchall() if not r[0].startswith("__")]
    state_sql = "coalesce(p.__final, s.__stage)"
    where = f"WHERE {state_sql} IN {CALLABLE!r}" if only_callable else ""
    total = con.execute(
        f"SELECT count(*) FROM __sel s LEFT JOIN __plan p USING (__row) {where}"
    ).fetchone()[0]
    cols = "".join(f", s.{quote_ident(c)}" for c in columns)
    cur = con.execute(
        f"""SELECT s.__row, s.__order, s.__e164, s.__zones, {state_sql} AS state,
                   p.__next, p.__used{cols}
            FROM __sel s LEFT JOIN __plan p USING (__row) {where}
            ORDER BY {SORTS[sort]} LIMIT {size} OFFSET {(page - 1) * size}"""
    )
    leads = []
    for row, order, e164, zones, state, nxt, used, *values in cur.fetchall():
        fields = {c: _jsonable(v) for c, v in zip(columns, values, strict=True)}
        zones = list(zones or [])
        callable_ = state in CALLABLE
        next_at = datetime.fromtimestamp(nxt, UTC) if (nxt is not None and callable_) else None
        leads.append(
            {
                "row": row,
                "order": order,
                "phone": e164 or fields.get("phone"),
                "name": fields.get("prospect_name"),
                "state": state,
                "reason": STAGE_LABELS.get(state, state),
                "callable": callable_,
                "attempts": used,
                "next_at": next_at.isoformat() if next_at else None,
                "next_local": local_text(next_at, zones),
                "timezones": zones,
                "fields": fields,
            }
        )
    return {
        "ok": True,
        "campaign": loaded.campaign.name,
        "revision": plan.revision,
        "at": plan.at.isoformat(),
        "page": page,
        "size": size,
        "total": total,
        "pages": max(1, math.ceil(total / size)),
        "counts": plan.counts,
        "callable": plan.callable,
        "leads": leads,
    }
