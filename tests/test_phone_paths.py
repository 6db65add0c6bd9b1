"""Large lead lists normalise phones in compiled SQL, small ones with phonenumbers: same result."""

from __future__ import annotations

import phonenumbers
import pytest

import dialer.leads as leads_module
from dialer.campaign.load import load_campaign
from dialer.leads import fetch_leads, select_leads
from dialer.phones import normalize_phone, timezones_for_phone

from .conftest import write_campaign

WRITTEN = [
    "+1 201-555-0123",
    "(212) 555-0199",
    "312.555.0142",
    "1-415-555-0111",
    "001 617 555 0100",
    "011 44 20 7946 0958",
    "+44 20 7946 0958",
    "+61 2 9123 4567",
    "+49 30 901820",
    "+91 98765 43210",
    "+1 800 555 0100",
    "not a number",
    "12",
    "",
    "+1 201 555 01234",
    "+33 1 23 45 67 89",
    "+81 3-1234-5678",
    "+55 11 91234-5678",
    "+7 495 123-45-67",
]


def selection(project, monkeypatch, small: bool):
    rows = "\n".join(f'"{w}",{i}' for i, w in enumerate(WRITTEN))
    (project / "leads" / "mixed.csv").write_text("phone,n\n" + rows + "\n")
    path = write_campaign(
        project,
        "name: P\nleads: {source: ../leads/mixed.csv}\nagent: {instructions: x, opening: y}\n",
    )
    monkeypatch.setattr(leads_module, "SMALL_SOURCE", 10_000 if small else 0)
    sel = select_leads(load_campaign(path, env={}))
    return {
        lead["n"]: (lead["phone"], tuple(lead["timezones"]))
        for lead in fetch_leads(sel, "true", order="__row")
        if lead["key"]
    }


def test_sql_path_agrees_with_phonenumbers(project, monkeypatch):
    python = selection(project, monkeypatch, small=True)
    sql = selection(project, monkeypatch, small=False)
    assert python, "the Python path found no valid number"
    # the SQL may refuse a number phonenumbers accepts (do not dial), never the reverse
    assert set(sql) <= set(python)
    for n, value in sql.items():
        assert value == python[n], WRITTEN[n]
    assert set(python) == {i for i, w in enumerate(WRITTEN) if normalize_phone(w) is not None}
    assert len(sql) >= 12, sorted(set(python) - set(sql))  # the common written forms all parse


@pytest.mark.parametrize("region", ["US", "GB", "DE", "IN", "AU", "BR"])
def test_example_numbers_of_regions(region):
    example = phonenumbers.example_number(region)
    e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
    national = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)
    assert normalize_phone(national, region) == e164
    assert timezones_for_phone(e164)
