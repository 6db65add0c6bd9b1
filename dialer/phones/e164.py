"""The body of the `dialer_e164(raw, region)` macro: phonenumbers.parse + is_valid_number
compiled from phonenumbers' metadata into one DuckDB expression."""

from __future__ import annotations

import functools
import re

from dialer.phones.metadata import _metadata, _types
from dialer.phones.sqltext import (
    _GRAMMAR,
    _MAX_LEN,
    _dispatch,
    _glue,
    _ints,
    _keyed,
    _lengths,
    _q,
)

_GROUPS = ("12", "345", "6789")  # first digit of the country code: one validity regex each

# The parse follows phonenumbers.parse: (1) a "+" with a country code, or the region's
# international prefix (IDD) and a country code, give an international number; (2) a national
# number starting with the region's country code is read as international when phonenumbers'
# viability rules say so; (3) the national prefix is stripped when the stripped number is viable
# and of a possible length; (4) the number must match one of its region's number types.
# Patterns are "keyed": region-keyed ones run on "US:2015550123", cc-keyed ones on "12015550123".


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
