"""SQL and regex text that the phone compilers build from: quoting, CASE dispatch, lambdas that
glue regex results, "keyed" patterns, and the lengths a pattern or a set of numbers allows."""

from __future__ import annotations

import re

_GRAMMAR = r"[\s(]*\+*[0-9 ().\-/]*\s*"  # the written forms the SQL reads; anything else is NULL
_MAX_LEN = 250  # phonenumbers refuses longer input


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
