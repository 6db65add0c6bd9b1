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

The package, by concern: this module is the Python side (phonenumbers itself) and the public
names; `sql` installs the full compiler on a connection (the `dialer_e164` macro, compiled in
`e164`, and the timezone prefix cells) and joins numbers to their zones; `fast` is the fast path;
`metadata` and `sqltext` hold what the compilers share.
"""

from __future__ import annotations

import functools

from dialer.phones.fast import fast_phone_sql, fast_timezones_sql, install_fast_phone_sql
from dialer.phones.sql import install_phone_sql, with_timezones_sql

__all__ = [
    "PHONE_HEADERS",
    "fast_phone_sql",
    "fast_timezones_sql",
    "install_fast_phone_sql",
    "install_phone_sql",
    "normalize_phone",
    "timezones_for_phone",
    "with_timezones_sql",
]

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
