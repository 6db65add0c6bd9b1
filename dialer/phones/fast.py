"""The fast path: one region's usual written forms, read as phonenumbers reads them with a few small
regexes, and their timezones; everything else is left to `dialer_e164`."""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING

from dialer.phones.metadata import _SPECIAL, _metadata
from dialer.phones.sql import _BUCKET, _prefix_regex, _tz_table, _tz_zones
from dialer.phones.sqltext import _GRAMMAR, _MAX_LEN, _ident, _len_ranges, _q

if TYPE_CHECKING:
    import duckdb

# A lead list is mostly written the usual ways of its own region: "(201) 555-0123",
# "1-201-555-0123", "+1 201 555 0123", "020 7946 0958". For those parse() takes one of four
# short paths, which SQL follows step by step with a few small regexes on the digits:
#   '+' then the region's country code, no national prefix after it;
#   national digits starting with the country code, read as international because the rest is
#   viable and the whole is not (_maybe_extract_country_code);
#   national digits starting with the national prefix, which is stripped or not as
#   _maybe_strip_national_prefix_carrier_code and parse() decide (regions without a rewrite rule);
#   other national digits (no IDD, country code or national prefix at the start), kept as written.
# is_valid_number then picks the region as region_code_for_number does (leading digits, else the
# first region the number is valid for) and tests every number type with its own lengths. What
# takes another path ('+' and another country, an IDD, a prefix rewrite rule, the ambiguous
# cases) is marked '?' and left to dialer_e164.


def fast_phone_sql(input_sql: str, raw_col: str, region: str | None) -> str | None:
    """A SELECT of every column of (input_sql) plus `__e164` and `__region`: the E.164 number
    phonenumbers makes of `raw_col` read in `region` and the region it belongs to, NULL when it
    is not a valid number, and `__e164` '?' where only `dialer_e164` can tell (then `__region`
    is NULL). Outside dialer_e164's grammar the answer is NULL, as dialer_e164's. None when the
    region is unknown (only '+' forms parse: use dialer_e164)."""
    parts = _fast_sql((region or "").upper())
    if parts is None:
        return None
    cc, nsn, pick, check = parts
    raw = f"CAST(__dialer_f.{_ident(raw_col)} AS VARCHAR)"
    # (the usual separators go by replace(), twice as fast as regexp_replace; digits and those
    # separators but no '+', the usual case, are in the grammar without testing it)
    plain = raw
    for sep in " ()-./":
        plain = f"replace({plain}, '{sep}', '')"
    digits = (
        f"CASE WHEN length({raw}) > {_MAX_LEN} THEN NULL"
        f" WHEN regexp_full_match({raw}, '[0-9 ()./-]*') THEN {plain}"
        f" WHEN NOT regexp_full_match({raw}, {_q(_GRAMMAR)}) THEN NULL"
        f" WHEN regexp_full_match({raw}, '[0-9 ()+./-]*') THEN replace({plain}, '+', '')"
        f" ELSE regexp_replace({raw}, '[^0-9]+', '', 'g') END"
    )
    # one projection per step, so that each value is computed once and then used many times
    sql = (
        f"SELECT __dialer_f.*, {digits} AS __dialer_d, contains({raw}, '+') AS __dialer_p"
        f" FROM ({input_sql}) AS __dialer_f"
    )
    sql = f"SELECT * EXCLUDE (__dialer_d, __dialer_p), {nsn} AS __dialer_n FROM ({sql})"
    sql = f"SELECT *, {pick} AS __dialer_r FROM ({sql})"
    sql = f"SELECT * EXCLUDE (__dialer_r), {check} AS __region FROM ({sql})"
    return (
        "SELECT * EXCLUDE (__dialer_n), CASE WHEN __dialer_n = '?' THEN '?'"
        f" WHEN __region IS NOT NULL THEN '+{cc}' || __dialer_n END AS __e164 FROM ({sql})"
    )


def install_fast_phone_sql(con: duckdb.DuckDBPyConnection, region: str) -> None:
    """Create (again), as a TEMP table, the timezone prefix cells of `region`'s country code that
    `fast_timezones_sql` joins against."""
    cc = str(_metadata()[0][region.upper()].country_code)
    keys, ccs, zones, _, mixed = _tz_table()
    rows = [i for i, c in enumerate(ccs) if c == cc]
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE __dialer_tz{cc} AS SELECT k,"
        " CASE WHEN z = '' THEN []::VARCHAR[] ELSE string_split(z, chr(9)) END AS zones, mixed"
        " FROM (SELECT unnest($1::VARCHAR[]) AS k, unnest($2::VARCHAR[]) AS z,"
        " unnest($3::BOOLEAN[]) AS mixed)",
        [[keys[i] for i in rows], ["\t".join(zones[i]) for i in rows], [mixed[i] for i in rows]],
    )


def fast_timezones_sql(
    input_sql: str, e164_col: str, region_col: str, region: str, out_col: str = "__phone_zones"
) -> str:
    """`with_timezones_sql` for the valid numbers of `region`'s country code whose region (as
    `fast_phone_sql` gives it) is in `region_col` (NULL for other rows): the number's type is
    tested with that region's patterns only. Needs `install_fast_phone_sql(con, region)`."""
    md = _metadata()[0][region.upper()]
    cc = str(md.country_code)
    col, r = _ident(e164_col), _ident(region_col)
    ours = f"{r} IS NOT NULL AND starts_with({col}, '+{cc}')"
    deep = [b for b in _tz_zones()[2] if b.startswith(cc)]
    key = f"substr({col}, 2, {_BUCKET})"
    if deep:
        in_deep = r"^\+(?:" + "|".join(deep) + ")"
        key = (
            f"CASE WHEN regexp_matches({col}, {_q(in_deep)})"
            f" THEN regexp_extract(substr({col}, 2), {_q(_tz_trie(cc))}) ELSE {key} END"
        )
    sql = (
        "SELECT __dialer_q.*, __dialer_t.zones AS __dialer_z, __dialer_t.mixed AS __dialer_m"
        f" FROM ({input_sql}) AS __dialer_q LEFT JOIN __dialer_tz{cc} AS __dialer_t"
        f" ON __dialer_t.k = CASE WHEN {ours} THEN {key} END"
    )
    nsn = f"substr({col}, {len(cc) + 2})"
    geo = _keyed_geographical(_metadata()[1][cc], int(cc), r, nsn, md)
    sql = f"SELECT *, CASE WHEN __dialer_m THEN {geo} END AS __dialer_g FROM ({sql})"
    # the country's zones are one constant (as a column of the join they would be copied to
    # every row); a region the test does not know: NULL, no timezone
    country = "[" + ", ".join(_q(z) for z in _tz_zones()[1][cc]) + "]::VARCHAR[]"
    return (
        "SELECT * EXCLUDE (__dialer_z, __dialer_m, __dialer_g), CASE"
        " WHEN NOT __dialer_m OR __dialer_g THEN __dialer_z"
        f" WHEN NOT __dialer_g THEN {country} END AS {_ident(out_col)} FROM ({sql})"
    )


@functools.cache
def _tz_trie(cc: str) -> str:
    """A regex for the longest prefix cell of a number (without '+') in a deep bucket of `cc`."""
    data, _, deep = _tz_zones()
    return "^(?:" + _prefix_regex(k for k in data if k[:_BUCKET] in deep and k.startswith(cc)) + ")"


def _desc_sql(descs, n: str) -> str:
    """SQL for `any(_is_number_matching_desc(n, d) for d in descs)`: each desc's pattern with its
    own possible lengths (descs sharing lengths share one regex)."""
    groups: dict[tuple, list[str]] = {}
    for d in descs:
        if d is not None and d.national_number_pattern:
            groups.setdefault(tuple(sorted(d.possible_length)), []).append(
                d.national_number_pattern
            )
    ors = []
    for lens, pats in groups.items():
        rx = f"regexp_full_match({n}, {_q('|'.join(f'(?:{p})' for p in pats))})"
        ors.append(f"({_len_ranges(n, lens)} AND {rx})" if lens else rx)
    return "(" + (" OR ".join(ors) or "FALSE") + ")"


def _type_descs(md) -> list:
    """The descs whose match makes `_number_type_helper` say a known type (given the general
    desc matches)."""
    descs = [getattr(md, t) for t in (*_SPECIAL, "fixed_line")]
    if not md.same_mobile_and_fixed_line_pattern:
        descs.append(md.mobile)
    return descs


def _known_type(md, n: str) -> str:
    """SQL for `_number_type_helper(n, md) != UNKNOWN`, exactly."""
    return f"({_desc_sql([md.general_desc], n)} AND {_desc_sql(_type_descs(md), n)})"


def _keyed_descs(descs: dict[str, list]) -> str:
    """A regex over "key:length:digits" for `_is_number_matching_desc(digits, d)` with any of
    the key's descs `d` (each with its own possible lengths)."""
    alts = []
    for key, ds in sorted(descs.items()):
        for d in ds:
            if d is not None and d.national_number_pattern:
                lens = "|".join(map(str, sorted(d.possible_length))) or r"\d+"
                alts.append(f"{re.escape(key)}:(?:{lens}):(?:{d.national_number_pattern})")
    return "|".join(alts) or "[^\\s\\S]"  # (no alternative: matches nothing)


def _keyed_geographical(regions: list, cc: int, r: str, n: str, first) -> str:
    """SQL for `is_number_type_geographical(number_type(n))` where `n` is valid for the region
    in `r` (one of `regions`; another: NULL): for `first` (the usual one) with its own patterns,
    for the others with one regex per test over "r:length:n"."""
    from phonenumbers import PhoneNumberType, is_number_type_geographical

    mobile_too = is_number_type_geographical(PhoneNumberType.MOBILE, cc)
    # a special type is not geographical; else fixed line is, mobile only in some countries;
    # where the patterns are the same, a valid number is FIXED_LINE_OR_MOBILE (CASE, not
    # AND/OR: DuckDB evaluates both sides of those for every row)
    special = _desc_sql([getattr(first, t) for t in _SPECIAL], n)
    fixed = (
        "TRUE"
        if mobile_too or first.same_mobile_and_fixed_line_pattern
        else _desc_sql([first.fixed_line], n)
    )
    whens = [f"WHEN {r} = {_q(first.id)} THEN CASE WHEN {special} THEN FALSE ELSE {fixed} END"]
    others = [m for m in regions if m.id != first.id]
    if others:
        subject = f"{r} || ':' || length({n}) || ':' || {n}"
        special = _keyed_descs({m.id: [getattr(m, t) for t in _SPECIAL] for m in others})
        same = [m.id for m in others if mobile_too or m.same_mobile_and_fixed_line_pattern]
        fixed = _keyed_descs({m.id: [m.fixed_line] for m in others if m.id not in same})
        whens.append(
            f"WHEN regexp_full_match({r}, {_q('|'.join(m.id for m in others))}) THEN CASE"
            f" WHEN regexp_full_match({subject}, {_q(special)}) THEN FALSE"
            + (f" WHEN regexp_full_match({r}, {_q('|'.join(same))}) THEN TRUE" if same else "")
            + f" ELSE regexp_full_match({subject}, {_q(fixed)}) END"
        )
    return f"CASE {' '.join(whens)} END"


def _possible_or_long(md) -> list[int]:
    """The lengths for which parse() keeps a number with its national prefix stripped: those
    phonenumbers' own _test_number_length calls IS_POSSIBLE or TOO_LONG."""
    from phonenumbers.phonenumberutil import ValidationResult, _test_number_length

    keep = (ValidationResult.IS_POSSIBLE, ValidationResult.TOO_LONG)
    return [n for n in range(_MAX_LEN + 1) if _test_number_length("5" * n, md) in keep]


@functools.cache
def _fast_sql(region: str) -> tuple[str, str, str, str] | None:
    """For numbers read in `region`: (country code, SQL for the national number ('?': another
    path) over __dialer_d (digits) and __dialer_p (has a '+'), SQL for the region
    region_code_for_number picks over __dialer_n, SQL for that region if the number is valid
    there over __dialer_n and __dialer_r); None for an unknown region."""
    regions, by_cc = _metadata()
    md = regions.get(region)
    if md is None:
        return None
    cc = str(md.country_code)
    main = by_cc[cc][0]
    gen = md.general_desc.national_number_pattern
    npp, npp_main = md.national_prefix_for_parsing, main.national_prefix_for_parsing
    d, x = "__dialer_d", f"substr(__dialer_d, {len(cc) + 1})"

    def full(s: str, pattern: str) -> str:
        return f"regexp_full_match({s}, {_q(pattern)})"

    def starts(s: str, pattern: str) -> str:
        return f"regexp_matches({s}, {_q('^(?:' + pattern + ')')})"

    plus = [f"starts_with({d}, '{cc}')"] + ([f"NOT {starts(x, npp_main)}"] if npp_main else [])
    whens = [
        f"WHEN {d} IS NULL OR length({d}) < 3 THEN NULL",
        f"WHEN __dialer_p THEN CASE WHEN {' AND '.join(plus)} THEN {x} ELSE '?' END",
    ]
    if md.international_prefix:
        whens.append(f"WHEN {starts(d, md.international_prefix)} THEN '?'")
    by_cc_ok = [full(x, gen), f"NOT {full(d, gen)}"]
    by_cc_ok += [f"NOT {starts(x, p)}" for p in sorted({npp, npp_main} - {None, ""})]
    whens.append(
        f"WHEN starts_with({d}, '{cc}') THEN CASE WHEN {' AND '.join(by_cc_ok)} THEN {x}"
        " ELSE '?' END"
    )
    if npp and md.national_prefix_transform_rule:
        whens.append(f"WHEN {starts(d, npp)} THEN '?'")
    elif npp:
        s = f"regexp_replace({d}, {_q('^(?:' + npp + ')')}, '')"
        whens.append(
            f"WHEN {starts(d, npp)} THEN CASE WHEN {full(d, gen)} AND NOT {full(s, gen)}"
            f" THEN {d} WHEN {_len_ranges(s, _possible_or_long(md))} THEN {s} ELSE {d} END"
        )
    nsn = f"CASE {' '.join(whens)} ELSE {d} END"
    n, r = "__dialer_n", "__dialer_r"
    known = f"{n} IS NOT NULL AND {n} <> '?'"
    regions = by_cc[cc]
    if len(regions) == 1:  # region_code_for_number: the only one, then is it valid there
        return (
            cc,
            nsn,
            f"CASE WHEN {known} THEN '{md.id}' END",
            (f"CASE WHEN {r} IS NOT NULL AND {_known_type(md, n)} THEN {r} END"),
        )
    # region_code_for_number: the first region whose leading digits match, or (without leading
    # digits) for which the number is valid; then is_valid_number_for_region on that region,
    # by one regex over "region:length:digits" for the regions picked by their leading digits
    whens = []
    for m in regions:
        if m.leading_digits:
            whens.append(f"WHEN {starts(n, m.leading_digits)} THEN '{m.id}'")
        else:
            whens.append(f"WHEN {_known_type(m, n)} THEN '{m.id}'")
    pick = f"CASE WHEN {known} THEN CASE {' '.join(whens)} END END"
    tested = "|".join(m.id for m in regions if not m.leading_digits)
    by_ld = [m for m in regions if m.leading_digits]
    subject = f"{r} || ':' || length({n}) || ':' || {n}"
    general = _keyed_descs({m.id: [m.general_desc] for m in by_ld})
    types = _keyed_descs({m.id: _type_descs(m) for m in by_ld})
    tested = f"WHEN regexp_full_match({r}, {_q(tested)}) THEN {r}" if tested else ""
    check = (
        f"CASE WHEN {r} IS NULL THEN NULL {tested}"
        f" WHEN regexp_full_match({subject}, {_q(general)})"
        f" AND regexp_full_match({subject}, {_q(types)}) THEN {r} END"
    )
    return cc, nsn, pick, check
