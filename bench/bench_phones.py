"""Phone benchmark: `dialer_e164` + `with_timezones_sql` over 1,000,000 written numbers in DuckDB,
against a bare digits-only `regexp_replace` pass over the same table, and phonenumbers in Python.

    python bench/bench_phones.py [--rows 1000000] [--python-rows 20000] [--repeat 3]

Prints one JSON object. `added_s` is what the phone SQL costs on top of the bare pass (the aim:
well under 0.5 s per million rows); `python_s` is phonenumbers row by row, extrapolated.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dialer.phones import (  # noqa: E402
    install_phone_sql,
    normalize_phone,
    timezones_for_phone,
    with_timezones_sql,
)

# (share of rows, SQL for the written number, region): mostly US lead lists, some abroad, some junk
MIX = [
    (30, "'(' || a || ') ' || b || '-' || c", "US"),
    (15, "a || '-' || b || '-' || c", "US"),
    (10, "'+1 ' || a || ' ' || b || ' ' || c", "US"),
    (8, "'1-' || a || '-' || b || '-' || c", "US"),
    (5, "'+1' || a || b || c", "US"),
    (4, "a || '.' || b || '.' || c", "us"),
    (4, "'020 7946 ' || c", "GB"),
    (3, "'+44 7700 9' || b || c", "US"),
    (3, "'030 ' || b || c", "DE"),
    (3, "'+91 98' || b || c || '0'", "US"),
    (3, "'04' || right(b, 2) || ' ' || b || ' ' || right(c, 3)", "AU"),
    (2, "'06 12 ' || right(b, 2) || ' ' || left(c, 2) || ' ' || right(c, 2)", "FR"),
    (2, "'011 52 55 ' || c || ' ' || c", "US"),
    (2, "'8 (495) ' || b || '-' || left(c, 2) || '-' || right(c, 2)", "RU"),
    (3, "'n/a'", "US"),
    (3, "b || '-' || c", "US"),
]


def make_table(con: duckdb.DuckDBPyConnection, rows: int) -> None:
    whens, start = [], 0
    for share, expr, region in MIX:
        whens.append(f"WHEN k < {start + share} THEN [{expr}, '{region}']")
        start += share
    con.execute(f"""
        CREATE OR REPLACE TABLE leads AS
        SELECT x[1] AS phone, x[2] AS region FROM (
          SELECT CASE {" ".join(whens)} END AS x FROM (
            SELECT hash(i) % {start} AS k,
                   CAST(200 + hash(i * 3) % 800 AS VARCHAR) AS a,
                   CAST(200 + hash(i * 7) % 800 AS VARCHAR) AS b,
                   lpad(CAST(hash(i * 13) % 10000 AS VARCHAR), 4, '0') AS c
            FROM range({rows}) t(i)))""")


def timed(con: duckdb.DuckDBPyConnection, sql: str) -> float:
    started = time.perf_counter()
    con.execute(f"CREATE OR REPLACE TEMP TABLE out AS {sql}")
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--python-rows", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    con = duckdb.connect()
    make_table(con, args.rows)
    started = time.perf_counter()
    install_phone_sql(con)  # builds the SQL from phonenumbers' metadata (once per process)
    install_first = time.perf_counter() - started
    started = time.perf_counter()
    install_phone_sql(con)
    install_again = time.perf_counter() - started

    bare_sql = "SELECT *, regexp_replace(phone, '[^0-9]', '', 'g') AS digits FROM leads"
    e164_sql = "SELECT *, dialer_e164(phone, region) AS e164 FROM leads"
    both_sql = with_timezones_sql(e164_sql, "e164", "zones")
    con.execute(f"CREATE OR REPLACE TEMP TABLE e164 AS {e164_sql}")
    zones_sql = with_timezones_sql("SELECT * FROM e164", "e164", "zones")
    runs: dict[str, list[float]] = {"bare": [], "both": [], "e164": [], "zones": []}
    for _ in range(args.repeat):  # alternate so machine noise hits all alike
        for name, sql in (
            ("bare", bare_sql),
            ("both", both_sql),
            ("e164", e164_sql),
            ("zones", zones_sql),
        ):
            runs[name].append(timed(con, sql))
    bare, both = (statistics.median(runs[k]) for k in ("bare", "both"))
    planning = min(
        timed(
            con,
            with_timezones_sql(
                "SELECT *, dialer_e164(phone, region) AS e164 FROM leads LIMIT 1", "e164", "zones"
            ),
        )
        for _ in range(args.repeat)
    )

    sample = con.execute(
        f"SELECT phone, region FROM leads USING SAMPLE {args.python_rows} ROWS (reservoir, 1)"
    ).fetchall()
    started = time.perf_counter()
    expected = [normalize_phone(p, r) for p, r in sample]
    zones = [timezones_for_phone(e) if e else () for e in expected]
    python = (time.perf_counter() - started) * args.rows / len(sample)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE s AS SELECT unnest($1) AS i, unnest($2) AS phone,"
        " unnest($3) AS region",
        [list(range(len(sample))), *map(list, zip(*sample, strict=True))],
    )
    got = con.execute(
        with_timezones_sql("SELECT i, dialer_e164(phone, region) AS e164 FROM s", "e164", "zones")
        + " ORDER BY i"
    ).fetchall()
    differ = sum(
        (e, tuple(z or ())) != (want, zs)
        for (_, e, z), want, zs in zip(got, expected, zones, strict=True)
    )
    print(
        json.dumps(
            {
                "benchmark": "phones",
                "rows": args.rows,
                "valid": con.execute("SELECT count(e164) FROM e164").fetchone()[0],
                "bare_digits_s": round(bare, 3),
                "sql_e164_and_zones_s": round(both, 3),
                "added_s": round(both - bare, 3),
                "ratio": round(both / bare, 2),
                "e164_only_s": round(statistics.median(runs["e164"]), 3),
                "zones_only_s": round(statistics.median(runs["zones"]), 3),
                "planning_s": round(planning, 3),
                "install_first_s": round(install_first, 3),
                "install_again_s": round(install_again, 3),
                "python_s": round(python, 1),
                "python_over_sql": round(python / both, 1),
                "python_sample": len(sample),
                "sample_rows_differing": differ,
            }
        )
    )


if __name__ == "__main__":
    main()
