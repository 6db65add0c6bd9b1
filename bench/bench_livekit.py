"""Runner-side overhead of the LiveKit backend, against the local Twirp fake (no LiveKit server).

1. dispatches/s: `--calls` dials through `LiveKitBackend.place_call` at concurrency `--concurrency`;
   the fake's worker answers each dispatch at once with a signed report, so a dial costs one
   CreateDispatch round trip plus one report ingestion.
2. reports/s: signed reports POSTed to the report endpoint as fast as `--concurrency` clients can,
   for calls already in flight.

Targets (issue 4): >= 300 dispatches/s sustained at concurrency 100, >= 1,000 reports/s.
Prints one JSON object. `python bench/bench_livekit.py [--calls N] [--concurrency C]`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dialer.backends.livekit import LiveKitBackend  # noqa: E402
from dialer.livekit.settings import LiveKitSettings  # noqa: E402
from dialer.livekit.spec import CallReport, sign_report  # noqa: E402
from dialer.schedule.clock import RealClock  # noqa: E402
from tests.test_livekit_endpoint import request  # noqa: E402
from tests.twirp_fake import KEY, SECRET, TwirpFake  # noqa: E402


async def dispatches(url: str, calls: int, concurrency: int) -> dict:
    backend = LiveKitBackend(RealClock(), LiveKitSettings(url, KEY, SECRET, report_port=0))
    sem = asyncio.Semaphore(concurrency)
    statuses: dict[str, int] = {}

    async def one(i: int) -> None:
        async with sem:
            result = await backend.place_call(request(f"bench-{i:07d}"))
            statuses[result.status] = statuses.get(result.status, 0) + 1

    try:
        await backend.start()
        t0 = time.perf_counter()
        async with asyncio.TaskGroup() as tg:
            for i in range(calls):
                tg.create_task(one(i))
        elapsed = time.perf_counter() - t0
    finally:
        await backend.aclose()
    return {
        "calls": calls,
        "seconds": round(elapsed, 3),
        "per_s": round(calls / elapsed),
        "statuses": statuses,
    }


async def reports(url: str, count: int, concurrency: int) -> dict:
    """Reports for calls in flight, POSTed by `concurrency` clients over keep-alive connections."""
    import aiohttp

    backend = LiveKitBackend(RealClock(), LiveKitSettings(url, KEY, SECRET, report_port=0))
    await backend.start()
    loop = asyncio.get_running_loop()
    from dialer.backends.livekit import _Call

    for i in range(count):  # calls "in flight" without dispatching: measure ingestion alone
        backend._calls[f"r-{i:07d}"] = _Call(loop.create_future())
    bodies = [
        CallReport(f"r-{i:07d}", "completed", "interested").to_json().encode() for i in range(count)
    ]
    signed = [(b, sign_report(b, KEY, SECRET)) for b in bodies]  # signing is the worker's cost
    answers: dict[int, int] = {}
    queue = iter(signed)
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:

            async def client() -> None:
                for body, auth in queue:
                    async with http.post(
                        backend.report_url, data=body, headers={"Authorization": auth}
                    ) as r:
                        await r.read()
                        answers[r.status] = answers.get(r.status, 0) + 1

            t0 = time.perf_counter()
            async with asyncio.TaskGroup() as tg:
                for _ in range(concurrency):
                    tg.create_task(client())
            elapsed = time.perf_counter() - t0
    finally:
        await backend.aclose()
    return {
        "reports": count,
        "seconds": round(elapsed, 3),
        "per_s": round(count / elapsed),
        "http": answers,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--reports", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=100)
    args = parser.parse_args()

    def worker(spec):
        return CallReport(spec.attempt_id, "completed", "interested", sip_status=200)

    with TwirpFake(worker, lifetime=600) as fake:
        d = asyncio.run(dispatches(fake.url, args.calls, args.concurrency))
        r = asyncio.run(reports(fake.url, args.reports, args.concurrency))
    print(
        json.dumps(
            {
                "bench": "livekit",
                "concurrency": args.concurrency,
                "dispatches": d,
                "reports": r,
                "targets": {"dispatches_per_s": 300, "reports_per_s": 1000},
                "ok": d["per_s"] >= 300 and r["per_s"] >= 1000,
                "note": "fake, worker and runner share this process and machine",
            }
        )
    )


if __name__ == "__main__":
    main()
