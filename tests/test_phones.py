"""dialer.phones against phonenumbers itself: the compiled SQL must give phonenumbers' answers."""

from __future__ import annotations

import re

import duckdb
import phonenumbers as pn
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialer.phones import (
    fast_phone_sql,
    fast_timezones_sql,
    install_fast_phone_sql,
    install_phone_sql,
    normalize_phone,
    timezones_for_phone,
    with_timezones_sql,
)

F, T = pn.PhoneNumberFormat, pn.PhoneNumberType
REGIONS = sorted(pn.SUPPORTED_REGIONS)
CALLING_FROM = ("US", "GB", "DE", "AU")  # out-of-country forms: "011 44 ...", "00 44 ...", ...
# The SQL reads these characters only (RE2's \s is [\t\n\f\r ]); anything else gives NULL.
GRAMMAR = re.compile(r"[\t\n\f\r (]*\+*[0-9 ().\-/]*[\t\n\f\r ]*")
RULES = {
    r for r in REGIONS if pn.PhoneMetadata.metadata_for_region(r).national_prefix_transform_rule
}


@pytest.fixture(scope="module")
def con():
    con = duckdb.connect()
    install_phone_sql(con)
    yield con
    con.close()


def sql_e164(con, rows: list[tuple[str | None, str | None]]) -> list[str | None]:
    con.execute(
        "CREATE OR REPLACE TEMP TABLE t AS SELECT unnest($1) AS i, unnest($2) AS raw,"
        " unnest($3) AS region",
        [list(range(len(rows))), [r for r, _ in rows], [g for _, g in rows]],
    )
    return [
        e for (e,) in con.execute("SELECT dialer_e164(raw, region) FROM t ORDER BY i").fetchall()
    ]


def sql_zones(con, numbers: list[str]) -> list[tuple[str, ...]]:
    con.execute(
        "CREATE OR REPLACE TEMP TABLE n AS SELECT unnest($1) AS i, unnest($2) AS e164",
        [list(range(len(numbers))), numbers],
    )
    got = con.execute(
        f"SELECT z FROM ({with_timezones_sql('SELECT * FROM n', 'e164', 'z')}) ORDER BY i"
    ).fetchall()
    return [tuple(z or ()) for (z,) in got]


def examples() -> list[tuple[str, pn.PhoneNumber]]:
    """phonenumbers' example fixed-line, mobile and toll-free number of every region."""
    found = [
        (r, pn.example_number_for_type(r, t))
        for r in REGIONS
        for t in (T.FIXED_LINE, T.MOBILE, T.TOLL_FREE)
    ]
    return [(r, n) for r, n in found if n is not None]


def written(region: str, number: pn.PhoneNumber) -> set[tuple[str, str]]:
    """(text, region it is read in): the ways people write a number."""
    nsn, cc = pn.national_significant_number(number), str(number.country_code)
    national = pn.format_number(number, F.NATIONAL)
    forms = {
        (pn.format_number(number, F.E164), "US"),
        (pn.format_number(number, F.E164), region),
        (pn.format_number(number, F.INTERNATIONAL), region),
        (national, region),
        (re.sub(r"\D", "", national), region),
        (re.sub(r"\D", "-", national), region),
        (nsn, region),
        (f"({nsn[:3]}) {nsn[3:]}", region),
        (f"+{cc} ({nsn[:2]}) {nsn[2:]}", "FR"),
    }
    forms |= {(pn.format_out_of_country_calling_number(number, r), r) for r in CALLING_FROM}
    return forms


def allowed_null(raw: str | None, region: str | None, e164: str) -> bool:
    """Where the SQL may say NULL though phonenumbers finds `e164` (never another number):
    text outside the SQL's grammar (letters, extensions, other punctuation, non-ASCII digits,
    tabs between digits); national prefix rewrite rules (AR, BR, JP, ...) in the forms that mix
    them with a country code; and a national number written with its country code and then
    its national prefix ("33 0 1 23 45 67 89"), which phonenumbers reads by trial and error."""
    if raw is None or not GRAMMAR.fullmatch(raw) or len(raw) > 250:
        return True
    number = pn.parse(e164)
    involved = {
        region,
        pn.region_code_for_number(number),
        pn.region_code_for_country_code(number.country_code),
    }
    if involved & RULES:
        return True
    md = pn.PhoneMetadata.metadata_for_region((region or "").upper())
    digits = re.sub(r"\D", "", raw)
    cc = str(md.country_code) if md else "-"
    npp = md.national_prefix_for_parsing if md else None
    return bool(digits.startswith(cc) and npp and re.match(npp, digits[len(cc) :]))


def assert_parity(con, rows: list[tuple[str | None, str | None]]) -> None:
    got = sql_e164(con, rows)
    for (raw, region), sql in zip(rows, got, strict=True):
        want = normalize_phone(raw, region or "")
        if sql != want:
            assert sql is None and allowed_null(raw, region, want), (raw, region, sql, want)


# --- examples people can read --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("(201) 555-0123", "US", "+12015550123"),
        ("201.555.0123", "us", "+12015550123"),  # the region is case-insensitive
        ("1-201-555-0123", "US", "+12015550123"),
        ("+1 201 555 0123", "GB", "+12015550123"),
        ("011 44 20 7946 0958", "US", "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("+44 (0)20 7946 0958", "US", "+442079460958"),
        ("00 44 20 7946 0958", "DE", "+442079460958"),
        ("030 1234567", "DE", "+49301234567"),
        ("+49 30 1234567", "US", "+49301234567"),
        ("98765 43210", "IN", "+919876543210"),
        ("098765 43210", "IN", "+919876543210"),
        ("0412 345 678", "AU", "+61412345678"),
        ("(02) 9876 5432", "AU", "+61298765432"),
        ("8 (495) 123-45-67", "RU", "+74951234567"),
        ("+1 800 555 0199", None, "+18005550199"),
        ("201 555 0123", None, None),  # no region: only "+" forms
        ("201 555 0123", "XX", None),
        ("+1 201 555 012", "US", None),  # too short
        ("(211) 555-0123", "US", None),  # N11 codes are not area codes
        ("n/a", "US", None),
        ("", "US", None),
        (None, "US", None),
    ],
)
def test_examples(con, raw, region, e164):
    assert sql_e164(con, [(raw, region)]) == [e164]
    assert normalize_phone(raw, region or "") == e164


def test_extensions_are_rejected(con):
    # phonenumbers keeps the number and drops the extension; the SQL does not read extensions
    # and says NULL (do not dial) rather than guess.
    assert normalize_phone("201-555-0123 x12", "US") == "+12015550123"
    assert sql_e164(con, [("201-555-0123 x12", "US"), ("201-555-0123 ext. 5", "US")]) == [None] * 2


@pytest.mark.parametrize(
    ("e164", "zones"),
    [
        ("+12015550123", ("America/New_York",)),
        ("+442079460958", ("Europe/London",)),
        ("+49301234567", ("Europe/Berlin",)),
        ("+919876543210", ("Asia/Calcutta",)),
        ("+61298765432", ("Australia/Sydney",)),
        ("+74951234567", ("Europe/Moscow",)),
    ],
)
def test_zones_examples(con, e164, zones):
    assert sql_zones(con, [e164]) == [zones] == [timezones_for_phone(e164)]


def test_zones_of_multi_zone_numbers(con):
    # toll-free numbers are not geographical: phonenumbers gives the whole country's zones
    for e164 in ("+18005550199", "+78001234567", "+16135550123"):
        zones = timezones_for_phone(e164)
        assert sql_zones(con, [e164]) == [zones]
    assert len(timezones_for_phone("+18005550199")) > 5
    assert sql_zones(con, ["+999", "not a number"]) == [(), ()]


def test_install_twice(con):
    install_phone_sql(con)
    assert sql_e164(con, [("(201) 555-0123", "US")]) == ["+12015550123"]
    assert sql_zones(con, ["+12015550123"]) == [("America/New_York",)]
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE NOT temporary").fetchone() == (
        0,
    )


# --- every region --------------------------------------------------------------------------------


def test_parity_over_every_region(con):
    rows = sorted({form for region, number in examples() for form in written(region, number)})
    assert len(rows) > 5000
    assert_parity(con, rows)


def test_zones_over_every_region(con):
    numbers = sorted({pn.format_number(n, F.E164) for _, n in examples()})
    numbers += [
        pn.format_number(pn.example_number_for_non_geo_entity(cc), F.E164)
        for cc in pn.COUNTRY_CODES_FOR_NON_GEO_REGIONS
        if pn.example_number_for_non_geo_entity(cc)
    ]
    assert sql_zones(con, numbers) == [timezones_for_phone(e) for e in numbers]


# --- random input --------------------------------------------------------------------------------

EXAMPLES = examples()


@st.composite
def numberish(draw) -> tuple[str, str]:
    """An example number, written some way, often with a digit changed, added or dropped."""
    region, number = draw(st.sampled_from(EXAMPLES))
    raw, reader = draw(st.sampled_from(sorted(written(region, number))))
    digits = [i for i, ch in enumerate(raw) if ch.isdigit()]
    edit = draw(st.sampled_from(["keep", "change", "add", "drop"]))
    if edit != "keep" and digits:
        i = draw(st.sampled_from(digits))
        d = draw(st.sampled_from("0123456789"))
        raw = {
            "change": raw[:i] + d + raw[i + 1 :],
            "add": raw[:i] + d + raw[i:],
            "drop": raw[:i] + raw[i + 1 :],
        }[edit]
    return raw, draw(st.sampled_from([reader, reader, region, "US", "GB"]))


digit_strings = st.tuples(
    st.tuples(
        st.sampled_from(["", "+", "00", "0", "011 ", "(0)", "1"]),
        st.text("0123456789", max_size=15),
        st.sampled_from(["", " ", "-"]),
    ).map(lambda p: p[0] + (p[2].join(p[1][i : i + 3] for i in range(0, len(p[1]), 3)))),
    st.sampled_from(REGIONS + ["US", "GB", "DE", "IN", "RU", "BR", "ZZ"]),
)
junk = st.tuples(st.text(max_size=20), st.sampled_from(["US", "GB", "de", "", "X"]))


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(st.one_of(numberish(), digit_strings, junk), min_size=100, max_size=300))
def test_parity_on_random_input(con, rows):
    assert_parity(con, rows)


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(numberish(), min_size=100, max_size=300))
def test_zones_on_random_numbers(con, rows):
    numbers = sorted({e for raw, region in rows if (e := normalize_phone(raw, region))})
    assert sql_zones(con, numbers) == [timezones_for_phone(e) for e in numbers]


# --- the fast path -------------------------------------------------------------------------------
#
# fast_phone_sql decides the usual written forms of one region and leaves the rest ('?') to
# dialer_e164: what it decides must be exactly what phonenumbers says (and outside the grammar,
# NULL as dialer_e164 says), with the region phonenumbers assigns; its zones exactly
# phonenumbers' zones.


def fast_e164(con, region: str, raws: list[str | None]) -> list[tuple[str | None, str | None]]:
    con.execute(
        "CREATE OR REPLACE TEMP TABLE f AS SELECT unnest($1) AS i, unnest($2::VARCHAR[]) AS raw",
        [list(range(len(raws))), raws],
    )
    sql = fast_phone_sql("SELECT * FROM f", "raw", region)
    return con.execute(f"SELECT __e164, __region FROM ({sql}) ORDER BY i").fetchall()


def assert_fast_parity(con, region: str, raws: list[str | None]) -> int:
    """Check every answer the fast path gives; returns how many it gave."""
    decided = 0
    for raw, (e164, where) in zip(raws, fast_e164(con, region, raws), strict=True):
        if e164 == "?":
            assert where is None
            continue
        decided += 1
        want = normalize_phone(raw, region)
        if e164 != want:  # only where dialer_e164 says NULL too: outside its grammar
            assert e164 is None and (raw is None or not GRAMMAR.fullmatch(raw) or len(raw) > 250)
            assert sql_e164(con, [(raw, region)]) == [None], (raw, region, want)
        elif want is not None:
            assert where == pn.region_code_for_number(pn.parse(want)), (raw, region)
        else:
            assert where is None
    install_fast_phone_sql(con, region)
    sql = fast_phone_sql("SELECT * FROM f", "raw", region)
    zoned = fast_timezones_sql(f"SELECT * FROM ({sql})", "__e164", "__region", region, "z")
    for e164, zones in con.execute(
        f"SELECT __e164, z FROM ({zoned}) WHERE __region IS NOT NULL"
    ).fetchall():
        assert tuple(zones or ()) == timezones_for_phone(e164), e164
    return decided


def test_fast_path_examples(con):
    raws = ["(201) 555-0123", "201.555.0123", "1-201-555-0123", "+1 201 555 0123", "n/a", ""]
    raws += ["(211) 555-0123", "+44 20 7946 0958", "011 44 20 7946 0958", "201-555-0123 x12"]
    assert fast_e164(con, "us", raws) == [("+12015550123", "US")] * 4 + [(None, None)] * 3 + [
        ("?", None),  # another country: dialer_e164's
        ("?", None),  # an international prefix: dialer_e164's
        (None, None),  # an extension: outside the grammar, as dialer_e164
    ]
    assert fast_e164(con, "GB", ["020 7946 0958", "+44 (0)20 7946 0958"]) == [
        ("+442079460958", "GB"),
        ("?", None),
    ]
    assert fast_phone_sql("SELECT 1 AS raw", "raw", "XX") is None
    assert fast_phone_sql("SELECT 1 AS raw", "raw", None) is None


def test_fast_path_over_every_region(con):
    by_reader: dict[str, set[str]] = {}
    for region, number in examples():
        for raw, reader in written(region, number):
            by_reader.setdefault(reader, set()).add(raw)
        # national digits that start with the country code: read as international or not
        cc, nsn = str(number.country_code), pn.national_significant_number(number)
        national = re.sub(r"\D", "", pn.format_number(number, F.NATIONAL))
        by_reader[region] |= {cc + nsn, cc + " " + national, cc + national}
    decided = 0
    for reader, raws in sorted(by_reader.items()):
        decided += assert_fast_parity(con, reader, sorted(raws))
    assert decided > 3000  # the usual forms are decided without dialer_e164


def test_fast_path_every_nanp_area_code(con):
    forms = ["({a}) {b}-{c}", "{a}-{b}-{c}", "1-{a}-{b}-{c}", "+1 {a} {b} {c}", "1{a}{b}{c}"]
    raws = [
        form.format(a=f"{npa:03d}", b=exchange, c="0123")
        for npa in range(100, 1000)
        for exchange in ("555", "201", "911", "011")
        for form in forms
    ]
    assert assert_fast_parity(con, "US", raws) > len(raws) * 0.8
    for region in ("CA", "PR"):  # ("1-201-..." in Puerto Rico: dialer_e164's)
        assert_fast_parity(con, region, raws)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    st.sampled_from(REGIONS + ["US", "US", "GB", "DE", "IN", "BR", "JP", "AR"]),
    st.lists(
        st.one_of(numberish(), digit_strings, junk).map(lambda pair: pair[0]),
        min_size=50,
        max_size=200,
    ),
)
def test_fast_path_on_random_input(con, region, raws):
    assert_fast_parity(con, region, raws)
