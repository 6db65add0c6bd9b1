"""The full compiler on a connection: `install_phone_sql` creates the `dialer_e164` macro and the
timezone prefix cells (phonenumbers' timezone prefixes flattened into a table keyed by a number's
first digits), which `with_timezones_sql` joins against."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from dialer.phones.e164 import _e164_sql
from dialer.phones.metadata import _geographical, _per_country
from dialer.phones.sqltext import _dispatch, _ident, _q

if TYPE_CHECKING:
    import duckdb

_BUCKET = 4  # timezone cells: the first 4 digits, or a trie node where the data goes deeper


def install_phone_sql(con: duckdb.DuckDBPyConnection) -> None:
    """Create (again) on this connection, as TEMP objects so nothing lands in a user's database
    file: the macro `dialer_e164(raw, region)` (E.164 VARCHAR or NULL) and the table of timezone
    prefix cells that `with_timezones_sql` joins against."""
    keys, ccs, zones, country, mixed = _tz_table()
    con.execute(f"CREATE OR REPLACE TEMP MACRO dialer_e164(raw, region) AS {_e164_sql()}")
    # Zone lists travel as tab-joined strings: binding 11k nested lists costs 4x more.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE __dialer_tz AS SELECT k, cc,"
        " CASE WHEN z = '' THEN []::VARCHAR[] ELSE string_split(z, chr(9)) END AS zones,"
        " CASE WHEN c = '' THEN []::VARCHAR[] ELSE string_split(c, chr(9)) END AS country, mixed"
        " FROM (SELECT unnest($1::VARCHAR[]) AS k, unnest($2::VARCHAR[]) AS cc,"
        " unnest($3::VARCHAR[]) AS z, unnest($4::VARCHAR[]) AS c, unnest($5::BOOLEAN[]) AS mixed)",
        [keys, ccs, ["\t".join(z) for z in zones], ["\t".join(c) for c in country], mixed],
    )


def with_timezones_sql(input_sql: str, e164_col: str, out_col: str = "__phone_zones") -> str:
    """A SELECT returning every column of (input_sql) plus `out_col` VARCHAR[]: the IANA zones of
    the E.164 number in `e164_col` (empty or NULL when unknown), by one hash join on its prefix
    cell, with the number's type tested only in countries where the zones depend on it."""
    col = "__dialer_q." + _ident(e164_col)
    deep_re, trie_re, geo = _tz_sql()
    key = (
        f"CASE WHEN regexp_matches({col}, {_q(deep_re)})"
        f" THEN regexp_extract(substr({col}, 2), {_q(trie_re)})"
        f" WHEN starts_with({col}, '+') THEN substr({col}, 2, {_BUCKET}) END"
    )
    nsn = f"substr({col}, length(__dialer_t.cc) + 2)"
    zones = (
        f"CASE WHEN __dialer_t.mixed AND NOT ({geo('__dialer_t.cc', nsn)})"
        " THEN __dialer_t.country ELSE __dialer_t.zones END"
    )
    return (
        f"SELECT __dialer_q.*, {zones} AS {_ident(out_col)} FROM ({input_sql}) AS __dialer_q"
        f" LEFT JOIN __dialer_tz AS __dialer_t ON __dialer_t.k = {key}"
    )


# --- timezones ------------------------------------------------------------------------------------


@functools.cache
def _tz_zones() -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]], list[str]]:
    from phonenumbers import COUNTRY_CODE_TO_REGION_CODE
    from phonenumbers.tzdata import TIMEZONE_DATA, TIMEZONE_LONGEST_PREFIX

    data = {k: tuple(z for z in v if z != "Etc/Unknown") for k, v in TIMEZONE_DATA.items()}
    country = {}
    for cc in map(str, COUNTRY_CODE_TO_REGION_CODE):  # as _country_level_time_zones_for_number
        hits = [cc[: 1 + n] for n in range(TIMEZONE_LONGEST_PREFIX, 0, -1) if cc[: 1 + n] in data]
        country[cc] = data[hits[0]] if hits else ()
    return data, country, sorted({k[:_BUCKET] for k in data if len(k) > _BUCKET})


@functools.cache
def _tz_table() -> tuple[list, ...]:
    data, country, deep = _tz_zones()
    deep_set = set(deep)

    def longest(m: str) -> tuple[str, ...]:
        return next((data[m[:n]] for n in range(len(m), 0, -1) if m[:n] in data), ())

    cells = set()
    for cc in country:
        width = _BUCKET - len(cc)
        cells.update(cc + str(i).zfill(width) for i in range(10**width))
    cells -= deep_set
    cells |= {k[:n] for k in data if k[:_BUCKET] in deep_set for n in range(_BUCKET, len(k) + 1)}
    rows = [(m, cc) for m in sorted(cells) for cc in (m[:1], m[:2], m[:3]) if cc in country]
    zones = [list(longest(m)) for m, _ in rows]
    ctry = [list(country[cc]) for _, cc in rows]
    return (
        [m for m, _ in rows],
        [cc for _, cc in rows],
        zones,
        ctry,
        [z != c for z, c in zip(zones, ctry, strict=True)],
    )


@functools.cache
def _tz_sql():
    data, _, deep = _tz_zones()
    cells = _prefix_regex(k for k in data if k[:_BUCKET] in deep)
    _, ccs, _, _, mixed = _tz_table()
    mixed_ccs = sorted({cc for cc, m in zip(ccs, mixed, strict=True) if m})

    def geo(cc_col: str, n: str) -> str:
        branches = {
            cc: _per_country(cc, n, lambda md, cc=cc: _geographical(md, int(cc), n))
            for cc in mixed_ccs
        }
        return _dispatch(cc_col, branches, "TRUE")

    return r"^\+(?:" + "|".join(deep) + ")", "^(?:" + cells + ")", geo


def _prefix_regex(keys) -> str:
    """An alternation (no anchors) matching the longest of `keys` a number starts with, as a
    trie: one branch per digit, so the regex engine never backtracks over shared prefixes."""
    trie: dict = {}
    for k in keys:
        node = trie
        for ch in k:
            node = node.setdefault(ch, {})

    def rx(node: dict) -> str:
        leaves = "".join(sorted(ch for ch in node if not node[ch]))
        alts = [leaves if len(leaves) == 1 else f"[{leaves}]"] if leaves else []
        alts += [f"{ch}(?:{rx(node[ch])})?" for ch in sorted(ch for ch in node if node[ch])]
        return "|".join(alts)

    return rx(trie)
