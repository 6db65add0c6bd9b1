"""phonenumbers' metadata, loaded once, and its number-type tests as SQL conditions."""

from __future__ import annotations

import functools

from dialer.phones.sqltext import _lengths, _lens_in, _q

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
