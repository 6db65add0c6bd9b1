"""Plan benchmark: `dialer plan` over 1,000,000 leads and a 100,000-number suppression list,
against the bare DuckDB query doing the same filter + anti-join + sort, measured in one run.

    python bench/bench_plan.py [--leads 1000000] [--suppressed 100000] [--repeat 3]

Prints one JSON object; the issue's target is ratio <= 1.5 (medians of the runs). It also
gives each side's range and CPU seconds, which move less with the load of a shared machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
from bench_data import AREA_CODES

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dialer.campaign.load import load_campaign  # noqa: E402
from dialer.phones import fast_phone_sql  # noqa: E402
from dialer.plan import plan_campaign  # noqa: E402

ZONES = ["America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", ""]
CAMPAIGN = """\
name: Bench
leads:
  source: leads.csv
  where: "industry = 'saas' AND score > 50"
  order_by: "score DESC"
suppress: [dnc.csv]
agent:
  instructions: "You are {{ lead.resource_name }}."
  opening: "Hi {{ lead.prospect_name }}."
"""


def make_data(folder: Path, leads: int, suppressed: int) -> None:
    """Write a realistic lead CSV (formatted US numbers, some bad, some repeated) and a DNC list."""
    con = duckdb.connect()
    codes = "[" + ",".join(map(str, AREA_CODES)) + "]"
    zones = "[" + ",".join(f"'{z}'" for z in ZONES) + "]"
    con.execute(f"""
        COPY (
          SELECT 'Lead ' || i AS prospect_name, 'Company ' || (i % 5000) AS company_name,
                 'CTO' AS job_title,
                 CASE WHEN i % 97 = 0 THEN 'n/a'
                      ELSE '(' || {codes}[(1 + hash(i) % {len(AREA_CODES)})::INTEGER] || ') ' ||
                           lpad(CAST(200 + hash(i * 7) % 800 AS VARCHAR), 3, '0') || '-' ||
                           lpad(CAST((i * 13) % 10000 AS VARCHAR), 4, '0') END AS phone,
                 'lead' || i || '@example.com' AS email,
                 {zones}[(1 + i % {len(ZONES)})::INTEGER] AS timezone,
                 'Sam' AS resource_name,
                 CASE WHEN i % 3 = 0 THEN 'saas' ELSE 'retail' END AS industry,
                 CAST(hash(i * 31) % 100 AS INTEGER) AS score
          FROM range({leads}) t(i)
        ) TO '{folder / "leads.csv"}' (HEADER)
    """)
    con.execute(f"""
        COPY (SELECT phone FROM read_csv('{folder / "leads.csv"}') USING SAMPLE {suppressed} ROWS)
        TO '{folder / "dnc.csv"}' (HEADER)
    """)
    (folder / "c.yaml").write_text(CAMPAIGN)


def bare_query(folder: Path) -> tuple[float, float]:
    """The same work written by hand: read, filter, normalise, anti-join, dedupe, sort.
    Returns (wall seconds, CPU seconds of this process, all threads)."""
    con = duckdb.connect()
    started, cpu = time.perf_counter(), time.process_time()
    con.execute(f"""
        CREATE TEMP TABLE result AS
        WITH l AS (
            SELECT *, '+1' || right(regexp_replace(phone, '[^0-9]', '', 'g'), 10) AS e164
            FROM read_csv('{folder / "leads.csv"}', types={{'phone': 'VARCHAR'}})
            WHERE industry = 'saas' AND score > 50),
        s AS (SELECT DISTINCT '+1' || right(regexp_replace(phone, '[^0-9]', '', 'g'), 10) AS e164
              FROM read_csv('{folder / "dnc.csv"}', all_varchar=true))
        SELECT * FROM l ANTI JOIN s USING (e164)
        QUALIFY row_number() OVER (PARTITION BY e164) = 1
        ORDER BY score DESC
    """)
    con.execute("SELECT count(*) FROM result").fetchone()
    timing = time.perf_counter() - started, time.process_time() - cpu
    con.close()
    return timing


def exact_bare_query(folder: Path) -> tuple[float, float]:
    """The bare query again, doing what `dialer plan` must do exactly where the one above
    approximates: rows numbered in file order (a duplicate keeps its first row, as the legacy
    LEAD_INDEX counts rows), numbers made E.164 as libphonenumber does (`dialer.phones`' SQL, so
    'n/a' is no number). Still no timezones, windows or counts per stage. A second reference,
    to tell the cost of that exactness from the cost of the rest of the plan."""
    con = duckdb.connect()
    started, cpu = time.perf_counter(), time.process_time()
    leads_csv, dnc_csv = folder / "leads.csv", folder / "dnc.csv"
    leads = (
        "SELECT * FROM (SELECT row_number() OVER () AS __row, * FROM read_csv("
        f"'{leads_csv}', types={{'phone': 'VARCHAR'}}, parallel=false))"
        " WHERE industry = 'saas' AND score > 50"
    )
    dnc = f"SELECT phone FROM read_csv('{dnc_csv}', all_varchar=true)"
    con.execute(f"""
        CREATE TEMP TABLE result AS
        WITH l AS ({fast_phone_sql(leads, "phone", "US")}),
        s AS (SELECT DISTINCT __e164 FROM ({fast_phone_sql(dnc, "phone", "US")}))
        SELECT * FROM l ANTI JOIN s USING (__e164) WHERE __e164 IS NOT NULL
        QUALIFY row_number() OVER (PARTITION BY __e164 ORDER BY __row) = 1
        ORDER BY score DESC, __row
    """)
    con.execute("SELECT count(*) FROM result").fetchone()
    timing = time.perf_counter() - started, time.process_time() - cpu
    con.close()
    return timing


def dialer_plan(folder: Path) -> tuple[float, float, dict]:
    started, cpu = time.perf_counter(), time.process_time()
    plan = plan_campaign(
        load_campaign(folder / "c.yaml", env={}),
        at=datetime(2026, 11, 24, 15, tzinfo=UTC),
        run_log=None,
        show=20,
        narrow=True,  # as `dialer plan` does
    )
    return time.perf_counter() - started, time.process_time() - cpu, plan.counts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--leads", type=int, default=1_000_000)
    ap.add_argument("--suppressed", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="dialer-bench-") as tmp:
        folder = Path(tmp)
        make_data(folder, args.leads, args.suppressed)
        bare, plan, bare_cpu, plan_cpu, exact, counts = [], [], [], [], [], {}
        for _ in range(args.repeat):  # alternate so machine noise hits all alike
            elapsed, cpu = bare_query(folder)
            bare.append(elapsed)
            bare_cpu.append(cpu)
            elapsed, cpu, counts = dialer_plan(folder)
            plan.append(elapsed)
            plan_cpu.append(cpu)
            exact.append(exact_bare_query(folder)[0])
    result = {
        "benchmark": "plan",
        "leads": args.leads,
        "suppressed": args.suppressed,
        "bare_query_s": round(statistics.median(bare), 3),
        "dialer_plan_s": round(statistics.median(plan), 3),
        "ratio": round(statistics.median(plan) / statistics.median(bare), 2),
        "target_ratio": 1.5,
        # the spread of the runs, and CPU seconds (all threads): on a busy machine the wall
        # times move with the load, the CPU times much less
        "bare_query_range_s": [round(min(bare), 3), round(max(bare), 3)],
        "dialer_plan_range_s": [round(min(plan), 3), round(max(plan), 3)],
        "bare_query_cpu_s": round(statistics.median(bare_cpu), 3),
        "dialer_plan_cpu_s": round(statistics.median(plan_cpu), 3),
        # the second reference (see exact_bare_query): not the target
        "exact_bare_query_s": round(statistics.median(exact), 3),
        "ratio_to_exact_bare_query": round(statistics.median(plan) / statistics.median(exact), 2),
        "counts": counts,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
