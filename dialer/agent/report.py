"""Delivering the call report: one signed POST to the runner, retried until it is acknowledged.

2xx is an acknowledgement, and so is 409 (the runner already has a report for this attempt:
an earlier try got through but its answer was lost). Other 4xx, except 408 and 429, mean the
runner will never take this report (bad signature, unknown attempt): give up and log. Everything
else (5xx, 408, 429, connection errors) is retried with capped exponential backoff until
`deadline_s`, after which the runner's watchdog closes the attempt.
"""

from __future__ import annotations

import logging

from dialer.livekit.spec import CallReport, sign_report
from dialer.schedule.clock import Clock, RealClock

log = logging.getLogger("dialer.agent")

_RETRY_4XX = frozenset({408, 429})


async def post_report(
    report: CallReport,
    url: str,
    api_key: str,
    api_secret: str,
    *,
    clock: Clock | None = None,
    deadline_s: float = 600.0,
    first_backoff_s: float = 0.5,
    max_backoff_s: float = 30.0,
    request_timeout_s: float = 15.0,
) -> bool:
    """POST `report` to `url` until acknowledged. True when the runner has it."""
    import aiohttp

    clock = clock or RealClock()
    body = report.to_json().encode()
    give_up_at = clock.monotonic() + deadline_s
    backoff = first_backoff_s
    attempt = 0
    timeout = aiohttp.ClientTimeout(total=request_timeout_s)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        while True:
            attempt += 1
            # signed per attempt: the token has a TTL and retries may outlive it
            headers = {
                "Authorization": sign_report(body, api_key, api_secret),
                "Content-Type": "application/json",
            }
            try:
                async with http.post(url, data=body, headers=headers) as resp:
                    status = resp.status
                    detail = (await resp.text())[:200]
            except (aiohttp.ClientError, TimeoutError) as exc:
                status, detail = None, f"{type(exc).__name__}: {exc}"
            if status is not None and (200 <= status < 300 or status == 409):
                log.info(
                    "report delivered",
                    extra={"attempt_id": report.attempt_id, "http": status, "tries": attempt},
                )
                return True
            if status is not None and 400 <= status < 500 and status not in _RETRY_4XX:
                log.error(
                    "report rejected by the runner, not retrying",
                    extra={"attempt_id": report.attempt_id, "http": status, "detail": detail},
                )
                return False
            if clock.monotonic() + backoff > give_up_at:
                log.error(
                    "report not delivered before the deadline, giving up",
                    extra={"attempt_id": report.attempt_id, "tries": attempt, "detail": detail},
                )
                return False
            log.warning(
                "report not acknowledged, retrying",
                extra={"attempt_id": report.attempt_id, "http": status, "detail": detail},
            )
            await clock.sleep(backoff)
            backoff = min(backoff * 2, max_backoff_s)
