"""One call now (`dialer call`): which lead it is, and whether the rules let it be dialed.

A single call is outside pacing (no rate limit, no retry delay, no concurrency budget) but never
outside the rules that protect the person called: suppression lists and the DNC table, the
attempt cap, the project's frequency cap, and the calling window in the lead's own timezone.
Only the window can be overridden, with `--force-window REASON`, and the reason is logged. A lead
whose timezone is unknown is never dialed, forced or not: nobody knows what time it is there.
"""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime, time

from dialer.errors import DialerError
from dialer.leads import find_lead_row
from dialer.plan import STAGE_LABELS, local_text
from dialer.schedule.window import CallingWindow, is_open, next_open

# Every day, all day: the window a forced call is checked against (the timezone must be known).
ALWAYS_OPEN = CallingWindow(frozenset(range(7)), time(0, 0), time(23, 59, 59, 999999))

_REFUSED = {
    "exhausted": "its attempts are used up ({used} of pacing.max_attempts {max})",
    "in_flight": "a dial to it has no result yet",
}


def single_lead_row(cur, loaded, row: int | None, phone: str | None, source_rows: int) -> int:
    """The `__row` of the lead to call, after `plan_campaign` filled `__sel` and `__plan`.

    Raises a one-line DialerError when there is no such lead or the campaign must not dial it.
    """
    row, stage, e164 = find_lead_row(cur, loaded, row, phone, source_rows)
    if stage != "selected":
        hint = None
        if stage == "duplicate":
            first = cur.execute(
                "SELECT min(__row) FROM __sel WHERE __e164 = ? AND __stage = 'selected'", [e164]
            ).fetchone()[0]
            if first is not None:
                hint = f"the same number is lead {first}: call --lead {first}"
        raise DialerError(f"lead {row} is not callable: {STAGE_LABELS[stage]}", hint=hint)
    final, used = cur.execute(
        "SELECT __final, __used FROM __plan WHERE __row = ?", [row]
    ).fetchone()
    if final in _REFUSED:
        reason = _REFUSED[final].format(used=used, max=loaded.campaign.pacing.max_attempts)
        raise DialerError(f"lead {row} is not callable: {reason}")
    return row


def check_single_call(
    lead_row: int,
    zones: tuple[str, ...],
    window: CallingWindow | None,
    force_reason: str | None,
    at: datetime,
    recent: deque[float] | None,
    frequency_cap: tuple[int, float] | None,
) -> None:
    """Refuse (DialerError) a single call the window or the frequency cap does not allow now."""
    if not zones:
        raise DialerError(f"lead {lead_row} is not callable: {STAGE_LABELS['no_timezone']}")
    if frequency_cap is not None and recent:
        attempts, per = frequency_cap
        inside = [t for t in recent if t > at.timestamp() - per]
        if len(inside) >= attempts:
            again = datetime.fromtimestamp(inside[0] + per, UTC)
            raise DialerError(
                f"lead {lead_row} is not callable: the frequency cap in dialer.yaml allows "
                f"{attempts} dial(s) per {_span(per)} to a number, and it had {len(inside)}",
                hint=f"it may be called again from {local_text(again, list(zones))}",
            )
    if force_reason is not None:
        if not force_reason.strip():
            raise DialerError("--force-window needs a reason (it is written to the run log)")
        return
    if window is not None and is_open(window, list(zones), at):
        return
    local = at.astimezone(_zone(zones[0]))
    now_text = f"it is {local:%a %H:%M} {local.tzname()} there"
    following = next_open(window, list(zones), at) if window is not None else None
    hint = (
        f"the window opens {local_text(following, list(zones))}; "
        if following
        else "the calling window never opens for this lead; "
    )
    raise DialerError(
        f"lead {lead_row} is outside its calling window: {now_text}",
        hint=hint + "`dialer call --force-window REASON` calls anyway and logs the reason",
    )


def _zone(name: str):
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def _span(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
