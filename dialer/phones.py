"""Phone numbers as phonenumbers sees them, for one value in Python or a million rows in DuckDB.

`normalize_phone` and `timezones_for_phone` call the `phonenumbers` library. For lead selection,
`install_phone_sql` compiles phonenumbers' own metadata (patterns, prefixes, lengths, timezone
prefixes) into DuckDB SQL once per connection, so a selection stays vectorised:

* `dialer_e164(raw, region)` is a scalar macro: the E.164 string or NULL. It follows
  `phonenumbers.parse` + `is_valid_number` for inputs made of digits, spaces, `-`, `.`, `(`, `)`,
  `/` and leading `+` signs (after optional leading whitespace or `(`): `+` forms, any region's
  international prefix (`00`, `011`, `0011`, ...), national numbers with or without the national
  prefix (and phonenumbers' prefix rewrite rules), and national numbers that start with the
  country code. Anything else gives NULL even where phonenumbers finds a number: letters,
  extensions (`x123`, `ext. 5`), `#`, `;`, tabs between digits, non-ASCII digits, and a `+`
  followed by something other than a country code or the region's `0...` international prefix.
  The SQL may be stricter than phonenumbers (do not dial), never looser. The region is an ISO
  3166 alpha-2 code, case-insensitive (phonenumbers itself is not); unknown: only `+` forms.
  Use it in a SELECT list (DuckDB shares its intermediate values only within a projection).
* `with_timezones_sql(...)` adds the IANA zones of E.164 numbers with one hash join against a
  table of prefix cells (flattened from phonenumbers' timezone prefixes), testing the number's
  type with phonenumbers' patterns only where the zones depend on it.
* `fast_phone_sql(...)` and `fast_timezones_sql(...)` do the same for one region's usual
  written forms with a few small regexes (see "the fast path" below), exactly as phonenumbers,
  and leave the rest to `dialer_e164`: most lead lists never need the macro compiled.

Why the SQL looks the way it does (DuckDB 2.0): regexes inside lambda bodies are recompiled for
every 2048-row chunk, and one RE2 pattern over ~30KB falls back from DFA to NFA (100x slower).
So every regex sits outside lambdas, per-region patterns are merged into "keyed" patterns (a
region code, then that region's pattern) of moderate size, decisions are ordered alternatives
of one regex that leave a `!` where they stopped, and lambdas only glue strings together.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

_SPECIAL = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
)
_GRAMMAR = r"[\s(]*\+*[0-9 ().\-/]*\s*"  # the written forms the SQL reads; anything else is NULL
_GROUPS = ("12", "345", "6789")  # first digit of the country code: one validity regex each
_BUCKET = 4  # timezone cells: the first 4 digits, or a trie node where the data goes deeper
_MAX_LEN = 250  # phonenumbers refuses longer input

# Headers that name a phone column in a suppression or DNC file (lower case).
PHONE_HEADERS = frozenset(
    {
        "phone",
        "phone_number",
        "phone number",
        "number",
        "e164",
        "mobile",
        "tel",
        "telephone",
        "msisdn",
    }
)


@functools.lru_cache(maxsize=65536)
def normalize_phone(raw: str | None, default_region: str = "US") -> str | None:
    """E.164 string ('+12015550123') or None when not a valid number: phonenumbers itself, for
    single values and small lists (a number met again, e.g. by the next campaign, is cached)."""
    import phonenumbers

    if raw is None:
        return None
    try:
        number = phonenumbers.parse(raw, default_region.upper() if default_region else None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@functools.lru_cache(maxsize=65536)
def timezones_for_phone(e164: str) -> tuple[str, ...]:
    """IANA zones for an E.164 number, () when unknown (phonenumbers' 'Etc/Unknown' means unknown)."""  # noqa: E501
    import phonenumbers
    from phonenumbers.timezone import time_zones_for_number

    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return ()
    return tuple(z for z in time_zones_for_number(number) if z != "Etc/Unknown")


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


# --- SQL text helpers ----------------------------------------------------------------------------


def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _dispatch(var: str, branches: dict[str, str], default: str = "NULL") -> str:
    """CASE on `var` over many keys as a binary search, so a late key costs ~8 comparisons."""
    keys = sorted(branches)
    if not keys:
        return default

    def build(ks: list[str]) -> str:
        if len(ks) <= 4:
            whens = " ".join(f"WHEN {var} = {_q(k)} THEN {branches[k]}" for k in ks)
            return f"CASE {whens} ELSE {default} END"
        mid = len(ks) // 2
        return f"CASE WHEN {var} < {_q(ks[mid])} THEN {build(ks[:mid])} ELSE {build(ks[mid:])} END"

    return build(keys)


def _glue(value: str, body: str) -> str:
    """`body` with `__g` bound to `value`: a lambda, kept free of regexes (DuckDB would recompile
    them for every chunk) -- only string functions glue the regex results together."""
    return f"list_transform([{value}], lambda __g: {body})[1]"


def _keyed(patterns: dict[str, str], sep: str = "") -> str:
    """Alternatives "key, sep, that key's pattern", keys sharing a pattern grouped: matching
    `key || sep || text` applies the right region's pattern without a CASE per region."""
    keys: dict[str, list[str]] = {}
    for key, pattern in patterns.items():
        keys.setdefault(pattern, []).append(re.escape(key))
    return "|".join(f"(?:{'|'.join(sorted(ks))}){sep}(?:{p})" for p, ks in sorted(keys.items()))


def _ints(values) -> str:
    """A regex for these decimal numbers (each 0..999), runs of consecutive ones as ranges."""

    def span(lo: str, hi: str) -> str:  # same length
        if not lo:
            return ""
        if lo[0] == hi[0]:
            return lo[0] + span(lo[1:], hi[1:])
        rest = len(lo) - 1
        parts = [lo[0] + span(lo[1:], "9" * rest)] if lo[1:] != "0" * rest else []
        first = int(lo[0]) + (1 if parts else 0)
        last = int(hi[0]) - (0 if hi[1:] == "9" * rest else 1)
        if first <= last:
            parts.append(
                f"[{first}-{last}]" + r"\d" * rest if first < last else str(first) + r"\d" * rest
            )
        if hi[1:] != "9" * rest:
            parts.append(hi[0] + span("0" * rest, hi[1:]))
        return "(?:" + "|".join(parts) + ")" if len(parts) > 1 else parts[0]

    runs, out = [], []
    for n in sorted(values):
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    for lo, hi in runs:
        while lo <= hi:  # split at powers of ten so both ends have the same number of digits
            top = min(hi, 10 ** len(str(lo)) - 1)
            out.append(span(str(lo), str(top)))
            lo = top + 1
    return "|".join(out) or "x"  # 'x' never matches a length


def _lengths(pattern: str) -> set[int] | None:
    """Every length a full match of `pattern` can have; None if unbounded or not understood."""
    import re._parser as sp

    def seq(items) -> set[int]:
        acc = {0}
        for op, av in items:
            if op is sp.AT:
                continue
            if op in (sp.LITERAL, sp.NOT_LITERAL, sp.IN, sp.ANY):
                step = {1}
            elif op is sp.BRANCH:
                step = set().union(*(seq(b) for b in av[1]))
            elif op is sp.SUBPATTERN:
                step = seq(av[3])
            elif op is sp.MAX_REPEAT and av[1] != sp.MAXREPEAT:
                inner, cur, step = seq(av[2]), {0}, set()
                for k in range(av[1] + 1):
                    if k >= av[0]:
                        step |= cur
                    cur = {a + b for a in cur for b in inner}
            else:
                raise ValueError(op)
            acc = {a + b for a in acc for b in step}
        return acc

    try:
        return seq(sp.parse(pattern))
    except ValueError:
        return None


def _lens_in(n: str, lens) -> str:
    return f"length({n}) IN ({', '.join(map(str, sorted(lens)))})"


def _len_ranges(n: str, lens) -> str:
    """SQL: length(n) is in `lens`, as ranges (DuckDB turns a long IN list into a join, which
    computes `n` for every row rather than only where a CASE needs it)."""
    runs: list[list[int]] = []
    for k in sorted(lens):
        if runs and k == runs[-1][1] + 1:
            runs[-1][1] = k
        else:
            runs.append([k, k])
    parts = [
        f"length({n}) = {a}" if a == b else f"length({n}) BETWEEN {a} AND {b}" for a, b in runs
    ]
    return "(" + (" OR ".join(parts) or "FALSE") + ")"


# --- phonenumbers' metadata ----------------------------------------------------------------------


@functools.cache
def _metadata() -> tuple[dict, dict]:
    """Metadata by region code, and for each calling code (str) its regions' metadata in
    phonenumbers' order (the main region first; a non-geographic entity's own metadata)."""
    import phonenumbers
    from phonenumbers import COUNTRY_CODE_TO_REGION_CODE
    from phonenumbers.phonemetadata import PhoneMetadata

    PhoneMetadata.load_all()
    regions = {
        r: PhoneMetadata.metadata_for_region(r) for r in sorted(phonenumbers.SUPPORTED_REGIONS)
    }
    by_cc = {
        str(cc): (
            [PhoneMetadata.metadata_for_nongeo_region(cc)]
            if rs == ("001",)
            else [regions[r] for r in rs]
        )
        for cc, rs in COUNTRY_CODE_TO_REGION_CODE.items()
    }
    return regions, by_cc


def _types(md) -> str:
    """One pattern for "matches a number type" (phonenumbers' _number_type_helper != UNKNOWN,
    given the general pattern; every type's pattern lengths are among its possible lengths)."""
    descs = [getattr(md, t) for t in (*_SPECIAL, "fixed_line")]
    if not md.same_mobile_and_fixed_line_pattern:
        descs.append(md.mobile)
    return "|".join(
        f"(?:{d.national_number_pattern})"
        for d in descs
        if d is not None and d.national_number_pattern and tuple(d.possible_length) != (-1,)
    )


def _matches(descs, n: str) -> str | None:
    """SQL for phonenumbers' `_is_number_matching_desc` over any of `descs` (None: never)."""
    groups: dict[tuple, list[str]] = {}
    for d in descs:
        if d is None or not d.national_number_pattern or tuple(d.possible_length) == (-1,):
            continue
        pl, plens = set(d.possible_length), _lengths(d.national_number_pattern)
        need = () if not pl or (plens is not None and plens <= pl) else tuple(sorted(pl))
        groups.setdefault(need, []).append(d.national_number_pattern)
    ors = []
    for need, pats in groups.items():
        rx = f"regexp_full_match({n}, {_q('|'.join(f'(?:{p})' for p in pats))})"
        ors.append(f"({_lens_in(n, need)} AND {rx})" if need else rx)
    return " OR ".join(ors) or None


def _valid(md, n: str) -> str:
    """SQL for `_number_type_helper(n, md) != UNKNOWN`."""
    gen, types = md.general_desc, _types(md)
    if not types or not gen.national_number_pattern:
        return "FALSE"
    parts = [
        f"regexp_full_match({n}, {_q(gen.national_number_pattern)})",
        f"regexp_full_match({n}, {_q(types)})",
    ]
    if gen.possible_length:
        parts.insert(0, _lens_in(n, gen.possible_length))
    return "(" + " AND ".join(parts) + ")"


def _geographical(md, cc: int, n: str) -> str:
    """SQL for `is_number_type_geographical(number_type(n))`, given that `n` is valid for `md`."""
    from phonenumbers import PhoneNumberType, is_number_type_geographical

    special = _matches([getattr(md, t) for t in _SPECIAL], n)
    mobile_too = md.same_mobile_and_fixed_line_pattern or is_number_type_geographical(
        PhoneNumberType.MOBILE, cc
    )
    fixed = "TRUE" if mobile_too else (_matches([md.fixed_line], n) or "FALSE")
    return fixed if special is None else f"(NOT ({special}) AND ({fixed}))"


def _per_country(cc: str, n: str, test) -> str:
    """`test(metadata)` for the region phonenumbers assigns the valid number `n` to."""
    mds = _metadata()[1][cc]
    if len({test(md) for md in mds}) == 1:
        return test(mds[0])
    whens = []
    for md in mds:  # region_code_for_number: leading digits if any, else the first valid region
        if md.leading_digits:
            ld = _q("^(?:" + md.leading_digits + ")")
            whens.append(f"WHEN regexp_matches({n}, {ld}) THEN {test(md)}")
        else:
            whens.append(f"WHEN {_valid(md, n)} THEN {test(md)}")
    return f"CASE {' '.join(whens)} ELSE FALSE END"


# --- dialer_e164 ---------------------------------------------------------------------------------
#
# The parse follows phonenumbers.parse: (1) a "+" with a country code, or the region's
# international prefix (IDD) and a country code, give an international number; (2) a national
# number starting with the region's country code is read as international when phonenumbers'
# viability rules say so; (3) the national prefix is stripped when the stripped number is viable
# and of a possible length; (4) the number must match one of its region's number types.
# Patterns are "keyed": region-keyed ones run on "US:2015550123", cc-keyed ones on "12015550123".


def _counts(lengths) -> str:
    """A regex for digit strings whose length is in `lengths` (runs as \\d{a,b})."""
    runs: list[list[int]] = []
    for n in sorted(lengths):
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return "|".join(rf"\d{{{a}}}" if a == b else rf"\d{{{a},{b}}}" for a, b in runs) or "x"


def _alternatives(pattern: str) -> list[str]:
    """The top-level alternatives of a regex."""
    alts, depth, start, i = [], 0, 0, 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 1
        elif ch == "[":
            i = pattern.index("]", i + 1)
        elif ch in "()":
            depth += 1 if ch == "(" else -1
        elif ch == "|" and depth == 0:
            alts.append(pattern[start:i])
            start = i + 1
        i += 1
    return alts + [pattern[start:]]


def _to_end(npp: str) -> str:
    """`npp` matched at the start of "digits~": an alternative ending in $ must reach the ~."""
    return "|".join(a[:-1] + "~" if a.endswith("$") else a + r"\d*~" for a in _alternatives(npp))


def _fixed(npp: str) -> dict[str, int] | None:
    """{alternative: its length} if every string has at most one prefix matching `npp` (each
    alternative of one length, no two starting alike), so that composing it with what follows
    in one regex cannot pick another match than phonenumbers' re.match; else None."""
    import re._parser as sp

    def first(items) -> set | None:
        op, av = items[0]
        if op is sp.LITERAL:
            return {av}
        if op is sp.IN and all(o in (sp.LITERAL, sp.RANGE) for o, _ in av):
            return set().union(
                *({a} if o is sp.LITERAL else set(range(a[0], a[1] + 1)) for o, a in av)
            )
        if op is sp.SUBPATTERN:
            return first(av[3])
        return None

    seen: set = set()
    out = {}
    for alt in _alternatives(npp):
        lens, chars = _lengths(alt), first(sp.parse(alt)) if alt else None
        if "$" in alt or not lens or len(lens) != 1 or 0 in lens or not chars or chars & seen:
            return None
        seen |= chars
        out[alt] = lens.pop()
    return out


def _length_sets(md) -> tuple[set[int], set[int]]:
    """Lengths `_test_number_length` calls IS_POSSIBLE or TOO_LONG, and those it calls TOO_LONG."""
    poss, local = md.general_desc.possible_length, set(md.general_desc.possible_length_local_only)
    too_long = {n for n in range(_MAX_LEN + 1) if n > max(poss)} - local
    return ({n for n in poss if n not in local} | too_long), too_long


def _decide(keyed: dict) -> str:
    """The strip decision of parse() as ordered alternatives over "cc|key:nat:len(s):s:" (s =
    nat stripped of the national prefix, or nat): the match ends after s (strip: s viable and
    of possible length), after nat (keep: nat viable), after len(s) (strip: possible length),
    or there is none (keep)."""
    gen = {
        k: md.general_desc.national_number_pattern
        for k, md in keyed.items()
        if md.general_desc.national_number_pattern
    }
    ok = {k: _ints(_length_sets(md)[0]) for k, md in keyed.items()}
    return (
        r"^\d+\|(?:"
        + "|".join(
            [
                _keyed({k: rf"\d*:(?:{ok[k]}):(?:{g}):" for k, g in gen.items()}, ":"),
                _keyed({k: f"(?:{g}):" for k, g in gen.items()}, ":"),
                _keyed({k: rf"\d*:(?:{ok[k]}):" for k in ok}, ":"),
            ]
        )
        + ")"
    )


def _pick(subject: str, pattern: str) -> str:
    """ "cc:nsn", plus '!' when nsn is viable, from `_decide`'s subject (NULL stays NULL)."""
    f = "split_part(__g, ':', {})".format
    return _glue(
        f"regexp_replace({subject}, {_q(pattern)}, '\\0!')",
        f"split_part(__g, '|', 1) || ':' || CASE WHEN ends_with(__g, '!') THEN {f(4)}"
        f" || '!' WHEN starts_with({f(3)}, '!') THEN {f(2)} || '!' WHEN starts_with("
        f"{f(4)}, '!') THEN substr({f(4)}, 2) ELSE {f(2)} END",
    )


def _strip_rules(rd: str, keyed: dict) -> str:
    """Prefix rewrite rules (national_prefix_transform_rule) on "R:digits" -> digits; each in a
    lambda that only runs (and compiles its regexes) for rows of its region."""
    whens = []
    for k, md in keyed.items():
        npp, rule = md.national_prefix_for_parsing, md.national_prefix_transform_rule
        lit, group = re.fullmatch(r"(\d*)\\(\d)", rule).groups()
        assert int(group) == re.compile(npp).groups, k  # phonenumbers tests the last group
        chain = "__t"  # "<group>rest" when the rule applies, "<>rest" when only the prefix does
        for pat, rep in (
            (f"^{k}:(?:{npp})", f"<\\{group}>"),
            (r"^<(\d+)>", lit + r"\1"),
            ("^<>", ""),
            (f"^{k}:", ""),
        ):
            chain = f"regexp_replace({chain}, {_q(pat)}, {_q(rep)})"
        whens.append(
            f"WHEN starts_with(__s, '{k}:') THEN list_transform([__s], lambda __t: {chain})[1]"
        )
    return f"list_transform([{rd}], lambda __s: CASE {' '.join(whens)} END)[1]"


def _branch(group: str, v: dict[str, str]) -> tuple[str, str]:
    """(condition, E.164 or NULL) for country codes starting with a digit in `group`."""
    regions_all, by_cc = _metadata()
    ccs = sorted(cc for cc in by_cc if cc[0] in group)
    regions = {r: md for r, md in regions_all.items() if str(md.country_code)[0] in group}
    mains = {cc: by_cc[cc][0] for cc in ccs}
    d, rd, r, x = v["D"], v["RD"], v["R"], v["X"]
    cc_of = {k: str(md.country_code) for k, md in regions.items()}
    gen = {k: md.general_desc.national_number_pattern for k, md in regions.items()}
    npp = {
        k: md.national_prefix_for_parsing
        for k, md in regions.items()
        if md.national_prefix_for_parsing
    }
    rules = {k: md for k, md in regions.items() if md.national_prefix_transform_rule}
    mnpp = {
        cc: md.national_prefix_for_parsing
        for cc, md in mains.items()
        if md.national_prefix_for_parsing and not md.national_prefix_transform_rule
    }
    mrules = {
        cc: md.national_prefix_for_parsing
        for cc, md in mains.items()
        if md.national_prefix_transform_rule
    }

    def rx(fn: str, subject: str, pattern: str, *more: str) -> str:
        return f"{fn}({', '.join([subject, _q(pattern), *more])})"

    def prefix(keyed: dict, sep: str = "") -> str:
        return "^(?:" + (_keyed(keyed, sep) or "x") + ")"

    subject = "{c} || '|' || {k} || ':' || {n} || ':' || length({s}) || ':' || {s} || ':'"
    # International (after + or an IDD): the main region of the country code, whose national
    # prefix may follow ("+44 (0)20 ..."; if that region rewrites its prefix instead, as AR and
    # BR do: NULL, stricter, rare). One reference to x: marks "cc:" then "npp|" (or "npp#").
    marked = f"regexp_replace({x}, {_q('^(?:' + '|'.join(ccs) + ')')}, '\\0:')"
    marked = rx("regexp_replace", marked, prefix(mnpp, ":"), r"'\0|'")
    if mrules:
        marked = rx("regexp_replace", marked, prefix(mrules, ":"), r"'\0#'")
    cut = (
        "CASE WHEN contains(__g, '|') THEN split_part(split_part(__g, '|', 2), '#', 1) ELSE {} END"
    )
    nat_i = "replace(replace(split_part(__g, ':', 2), '|', ''), '#', '')"
    intl = _glue(
        marked,
        "CASE WHEN contains(__g, ':') AND (NOT contains(__g, '#') OR"
        " contains(__g, ':#')) THEN "
        + subject.format(
            c="split_part(__g, ':', 1)", k="split_part(__g, ':', 1)", n=nat_i, s=cut.format(nat_i)
        )
        + " END",
    )
    # National: the region's metadata. A national number starting with the country code
    # (_maybe_extract_country_code) is read as international when the rest (a, or b = a less
    # the national prefix) is viable and the whole is not, or when the whole is too long.
    # `dctag` gives: 0 keep national, 1 rest b viable, 2 ambiguous prefix (NULL, stricter),
    # 3 rest a viable, 4 too long with b, 5 too long with a; no match: keep national.
    for k, md in regions.items():  # viable => not too long, so "viable" needs no length test
        assert max(_lengths(gen[k])) <= max(md.general_desc.possible_length), k
    fixed = {k: _fixed(p_) for k, p_ in npp.items() if k not in rules}
    fixed = {k: f for k, f in fixed.items() if f}
    tl = {k: min(_length_sets(md)[1]) for k, md in regions.items()}
    dctag = (
        "^(?:"
        + "|".join(
            [
                _keyed({k: f"(?:{g})~" for k, g in gen.items()}, ":"),
                _keyed({k: f"{cc_of[k]}(?:{npp[k]})(?:{gen[k]})~a" for k in fixed}, ":"),
                _keyed(
                    {
                        k: f"{cc_of[k]}(?:{_to_end(p_)})ab"
                        for k, p_ in npp.items()
                        if k not in fixed
                    },
                    ":",
                ),
                _keyed({k: f"{cc_of[k]}(?:{g})~abc" for k, g in gen.items()}, ":"),
                _keyed(
                    {
                        k: cc_of[k]
                        + "(?:"
                        + "|".join(
                            f"(?:{alt})" + rf"\d{{{max(0, tl[k] - len(cc_of[k]) - n)},}}"
                            for alt, n in f.items()
                        )
                        + ")~abcd"
                        for k, f in fixed.items()
                    },
                    ":",
                ),
                _keyed({k: rf"\d{{{n},}}~abcde" for k, n in tl.items()}, ":"),
            ]
        )
        + ")"
    )
    strip = rx(
        "regexp_replace", rd, prefix({k: p_ for k, p_ in npp.items() if k not in rules}, ":"), "''"
    )
    if rules:
        strip = (
            f"CASE WHEN {rx('regexp_full_match', r, '|'.join(rules))}"
            f" THEN {_strip_rules(rd, rules)} ELSE {strip} END"
        )
    starts_cc = rx("regexp_matches", rd, prefix(cc_of, ":"))
    after_cc = {k: cc_of[k] + f"(?:{npp[k]})" for k in fixed}
    twice = {
        k: after_cc[k] + f"(?:{mains[cc_of[k]].national_prefix_for_parsing})"
        for k in fixed
        if mains[cc_of[k]].national_prefix_for_parsing
    }
    dc_fields = (
        f"'t': length(regexp_extract({rd} || '~abcde', {_q(dctag)})) - length({rd}) - 1, "
        f"'a': {rx('regexp_replace', rd, prefix(cc_of, ':'), chr(39) * 2)}, "
        f"'b': {rx('regexp_replace', rd, prefix(after_cc, ':'), chr(39) * 2)}, "
        f"'p': {rx('regexp_extract', d, prefix(mnpp))}, "
        f"'q': {rx('regexp_matches', rd, prefix(twice, ':'))}, "
        f"'m': {rx('regexp_extract', d, prefix(mrules)) if mrules else chr(39) * 2}"
    )
    s_n = "CASE WHEN contains(__g.s, ':') THEN __g.d ELSE __g.s END"
    cc_a = "left(__g.d, length(__g.d) - length(__g.dc.a))"
    s_a = "substr(__g.d, greatest(length(__g.dc.p), length(__g.d) - length(__g.dc.a)) + 1)"
    nat = _glue(
        "{" + f"'d': {d}, 'r': {r}, 's': {strip}, "
        f"'c': {_dispatch(r, {k: _q(c) for k, c in cc_of.items()})}, "
        f"'dc': CASE WHEN {starts_cc} THEN {{{dc_fields}}} END" + "}",
        f"CASE WHEN length(__g.dc.m) > length({cc_a}) THEN NULL"  # main rewrites: stricter
        " WHEN __g.dc.t IN (3, 5) THEN "
        + subject.format(c=cc_a, k=cc_a, n="__g.dc.a", s=s_a)
        + " WHEN __g.dc.t IN (1, 4) THEN CASE WHEN __g.dc.q THEN NULL ELSE "
        + subject.format(c=cc_a, k=cc_a, n="__g.dc.b", s="__g.dc.b")
        + " END WHEN __g.dc.t = 2 THEN NULL ELSE "
        + subject.format(c="__g.c", k="__g.r", n="__g.d", s=s_n)
        + " END",
    )
    slow = _pick(
        f"CASE WHEN {v['INTL']} THEN {intl} WHEN NOT {v['P']} THEN {nat} END",
        _decide({**regions, **mains}),
    )
    # Fast paths, the usual shapes: "+<cc><nsn>" with no national prefix after the country
    # code, and national numbers starting with neither an IDD, the country code nor a national
    # prefix. '!' = the general pattern matches (only single-region countries need it).
    one = {cc for cc in ccs if len(by_cc[cc]) == 1}
    c = v[f"C{group}"]
    fast_intl = (
        f"CASE WHEN {c} <> '' THEN {c} || ':' || substr({d}, length({c}) + 1) || CASE WHEN "
        + rx(
            "regexp_full_match",
            d,
            _keyed(
                {
                    cc: mains[cc].general_desc.national_number_pattern if cc in one else r"\d*"
                    for cc in ccs
                }
            ),
        )
        + " THEN '!' ELSE '' END END"
    )
    fast_nat = (
        f"{_dispatch(r, {k: _q(c_) for k, c_ in cc_of.items()})} || ':' || {d} || CASE WHEN "
        + rx(
            "regexp_full_match",
            rd,
            _keyed({k: g if cc_of[k] in one else r"\d*" for k, g in gen.items()}, ":"),
        )
        + " THEN '!' ELSE '' END"
    )
    all_npp = {
        cc: md.national_prefix_for_parsing
        for cc, md in mains.items()
        if md.national_prefix_for_parsing
    }
    z = (
        f"CASE WHEN {v['PLUS']} AND NOT {rx('regexp_matches', d, prefix(all_npp))} THEN {fast_intl}"
        f" WHEN NOT {v['P']} AND NOT {v['SPECIAL']} THEN {fast_nat} ELSE {slow} END"
    )
    valid = "|".join(
        f"{cc}:(?:{'|'.join(f'(?:{t})' for t in map(_types, by_cc[cc]) if t)})"
        + ("!?" if len(by_cc[cc]) > 1 else "!")
        for cc in ccs
        if any(map(_types, by_cc[cc]))
    )
    out = _glue(
        f"regexp_replace({z}, {_q('^(?:' + valid + ')$')}, '+\\0')",
        "CASE WHEN starts_with(__g, '+') THEN replace(replace(__g, ':', ''), '!', '') END",
    )
    digits = ", ".join(_q(ch) for ch in group)
    in_region = rx("regexp_full_match", r, "|".join(regions))
    cond = (
        f"CASE WHEN {v['PLUS']} THEN left({d}, 1) IN ({digits}) WHEN NOT {v['SPECIAL']} THEN"
        f" {in_region} WHEN {v['INTL']} THEN left({x}, 1) IN ({digits}) ELSE {in_region} END"
    )
    return cond, out


@functools.cache
def _e164_sql() -> str:
    regions = _metadata()[0]
    idd = (
        "^(?:"
        + _keyed(
            {r: md.international_prefix for r, md in regions.items() if md.international_prefix},
            ":",
        )
        + ")"
    )
    v = {
        "D": f"CASE WHEN length(raw) <= {_MAX_LEN} AND regexp_full_match(raw, {_q(_GRAMMAR)})"
        " THEN regexp_replace(raw, '[^0-9]+', '', 'g') END",
        "R": "upper(region)",
        "P": "contains(raw, '+')",
    }
    v["RD"] = f"{v['R']} || ':' || {v['D']}"
    v["PLUS"] = f"({v['P']} AND NOT starts_with({v['D']}, '0'))"
    # Whether a national number starts with the region's IDD, country code or national prefix
    # (else it takes the fast path); after the IDD: its digits, else still "R:digits".
    special = "|".join(
        _keyed({r: p for r, md in regions.items() if (p := getattr(md, a))}, ":")
        for a in ("international_prefix", "national_prefix_for_parsing")
    )
    special += "|" + _keyed({r: str(md.country_code) for r, md in regions.items()}, ":")
    v["SPECIAL"] = (
        f"CASE WHEN NOT {v['PLUS']} THEN regexp_matches({v['RD']},"
        f" {_q('^(?:' + special + ')')}) END"
    )
    v["XB"] = f"CASE WHEN NOT {v['PLUS']} THEN regexp_replace({v['RD']}, {_q(idd)}, '') END"
    v["X"] = f"CASE WHEN {v['PLUS']} THEN {v['D']} ELSE {v['XB']} END"  # international digits
    v["INTL"] = (
        f"({v['PLUS']} OR coalesce("
        + _glue(v["XB"], "NOT contains(__g, ':') AND NOT starts_with(__g, '0') AND __g <> ''")
        + ", FALSE))"
    )
    shared = ["D", "RD", "PLUS", "SPECIAL"]
    by_cc = _metadata()[1]
    for group in _GROUPS:
        ccs = "|".join(sorted(cc for cc in by_cc if cc[0] in group))
        first = ", ".join(map(_q, group))
        v[f"C{group}"] = (
            f"CASE WHEN {v['PLUS']} AND left({v['D']}, 1) IN ({first}) THEN"
            f" regexp_extract({v['D']}, {_q('^(?:' + ccs + ')')}) END"
        )
        shared.append(f"C{group}")
    whens = " ".join(f"WHEN {cond} THEN {out}" for cond, out in (_branch(g, v) for g in _GROUPS))
    # Each shared value twice outside any CASE: DuckDB then computes it once per row (it does
    # not share expressions containing lambdas, so these have none).
    anchors = ", ".join(v[k] for k in shared for _ in (0, 1))
    return f"(row(CASE WHEN length({v['D']}) >= 3 THEN CASE {whens} END END, {anchors}))[1]"


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
    trie: dict = {}
    for k in data:
        if k[:_BUCKET] in deep:
            node = trie
            for ch in k:
                node = node.setdefault(ch, {})

    def rx(node: dict) -> str:
        leaves = "".join(sorted(ch for ch in node if not node[ch]))
        alts = [leaves if len(leaves) == 1 else f"[{leaves}]"] if leaves else []
        alts += [f"{ch}(?:{rx(node[ch])})?" for ch in sorted(ch for ch in node if node[ch])]
        return "|".join(alts)

    _, ccs, _, _, mixed = _tz_table()
    mixed_ccs = sorted({cc for cc, m in zip(ccs, mixed, strict=True) if m})

    def geo(cc_col: str, n: str) -> str:
        branches = {
            cc: _per_country(cc, n, lambda md, cc=cc: _geographical(md, int(cc), n))
            for cc in mixed_ccs
        }
        return _dispatch(cc_col, branches, "TRUE")

    return r"^\+(?:" + "|".join(deep) + ")", "^(?:" + rx(trie) + ")", geo


# --- the fast path -------------------------------------------------------------------------------
#
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
    digits = (
        f"CASE WHEN length({raw}) <= {_MAX_LEN} AND regexp_full_match({raw}, {_q(_GRAMMAR)})"
        f" THEN regexp_replace({raw}, '[^0-9]+', '', 'g') END"
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
    trie: dict = {}
    for k in data:
        if k[:_BUCKET] in deep and k.startswith(cc):
            node = trie
            for ch in k:
                node = node.setdefault(ch, {})

    def rx(node: dict) -> str:
        leaves = "".join(sorted(ch for ch in node if not node[ch]))
        alts = [leaves if len(leaves) == 1 else f"[{leaves}]"] if leaves else []
        alts += [f"{ch}(?:{rx(node[ch])})?" for ch in sorted(ch for ch in node if node[ch])]
        return "|".join(alts)

    return "^(?:" + rx(trie) + ")"


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
