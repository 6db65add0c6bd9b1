"""Large lead lists normalise phones in compiled SQL, small ones with phonenumbers: same result."""

from __future__ import annotations

from pathlib import Path

import phonenumbers
import pytest

import dialer.leads as leads_module
from dialer.campaign.load import load_campaign
from dialer.errors import LeadSourceError
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
    "\t(646) 555-0177 ",  # a tab: not one of the usual separators
]
STOP = ["+1 312 555 0142", "+44 20 7946 0958"]


def selection(project, monkeypatch, small: bool, in_scan: bool = False, written=WRITTEN, stop=STOP):
    rows = "\n".join(f'"{w}",{i}' for i, w in enumerate(written))
    (project / "leads" / "mixed.csv").write_text("phone,n\n" + rows + "\n")
    (project / "leads" / "stop.csv").write_text("phone\n" + "\n".join(stop) + "\n")
    path = write_campaign(
        project,
        "name: P\nleads: {source: ../leads/mixed.csv}\nsuppress: [../leads/stop.csv]\n"
        "agent: {instructions: x, opening: y}\n",
    )
    monkeypatch.setattr(leads_module, "SMALL_SOURCE", 10_000 if small else 0)
    # a source this big has its numbers read in the pass that reads it
    monkeypatch.setattr(leads_module, "BIG_SOURCE_BYTES", 0 if in_scan else 10**12)
    sel = select_leads(load_campaign(path, env={}))
    return sel, {
        lead["n"]: (lead["phone"], tuple(lead["timezones"]), lead["__stage"])
        for lead in fetch_leads(sel, "true", order="__row")
        if lead["key"]
    }


@pytest.mark.parametrize("in_scan", [False, True])
def test_sql_path_agrees_with_phonenumbers(project, monkeypatch, in_scan):
    _, python = selection(project, monkeypatch, small=True)
    _, sql = selection(project, monkeypatch, small=False, in_scan=in_scan)
    assert python, "the Python path found no valid number"
    # the SQL may refuse a number phonenumbers accepts (do not dial), never the reverse
    assert set(sql) <= set(python)
    for n, value in sql.items():
        assert value == python[n], WRITTEN[n]
    assert set(python) == {i for i, w in enumerate(WRITTEN) if normalize_phone(w) is not None}
    assert len(sql) >= 12, sorted(set(python) - set(sql))  # the common written forms all parse
    stages = {n: stage for n, (_, _, stage) in sql.items()}
    assert stages[2] == stages[5] == "suppressed"  # listed in another form, and from abroad
    assert stages[6] == "duplicate"  # the number of row 5 again, in another form
    assert sql[len(WRITTEN) - 1][0] == "+16465550177"  # around the tab, by regexp_replace


@pytest.mark.parametrize("in_scan", [False, True])
def test_usual_forms_need_no_compiled_macro(project, monkeypatch, in_scan):
    # the region's usual forms take the fast path; dialer_e164 (slow to compile) only when
    # some number needs it
    usual = ["(212) 555-0199", "312.555.0142", "1-415-555-0111", "+1 201-555-0123", "n/a"]
    stop = ["312-555-0142"]
    sel, sql = selection(project, monkeypatch, False, in_scan, written=usual, stop=stop)
    macros = "SELECT count(*) FROM duckdb_functions() WHERE function_name = 'dialer_e164'"
    assert sel.con.execute(macros).fetchone() == (0,)
    assert {n: phone for n, (phone, _, _) in sql.items()} == {
        0: "+12125550199",
        1: "+13125550142",
        2: "+14155550111",
        3: "+12015550123",
    }
    assert sql[1][2] == "suppressed"
    sel, _ = selection(project, monkeypatch, small=False, in_scan=in_scan)
    assert sel.con.execute(macros).fetchone() == (1,)


@pytest.mark.parametrize("region", ["US", "GB", "DE", "IN", "AU", "BR"])
def test_example_numbers_of_regions(region):
    example = phonenumbers.example_number(region)
    e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
    national = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)
    assert normalize_phone(national, region) == e164
    assert timezones_for_phone(e164)


@pytest.mark.parametrize(("small", "in_scan"), [(True, False), (False, False), (False, True)])
def test_a_listed_number_is_suppressed_however_it_is_written(project, monkeypatch, small, in_scan):
    # a suppression list is read by phonenumbers where the SQL does not read an entry: an
    # extension, a label, other digits, letters; the number is suppressed on every path
    leads = ["(201) 555-0177", "646.555.0100", "212-555-0199", "+1 800 356 9377", "312-555-0142"]
    stop = [
        "201-555-0177 ext. 12",
        "Tel: 646-555-0100",
        "２１２５５５０１９９",
        "1-800-FLOWERS",
        "n/a",
    ]
    _, found = selection(project, monkeypatch, small, in_scan, written=leads, stop=stop)
    assert {n: stage for n, (_, _, stage) in found.items()} == {
        0: "suppressed",
        1: "suppressed",
        2: "suppressed",
        3: "suppressed",
        4: "selected",
    }


@pytest.mark.parametrize(("small", "in_scan"), [(True, False), (False, False), (False, True)])
@pytest.mark.parametrize(
    ("entry", "line"),
    [
        ("3125550142.0", 4),  # a number a spreadsheet wrote as a decimal
        ("(312) 555-0142 (cell)", 4),
        ("201 555 0177 / 646 555 0100", 4),  # two numbers in one cell
        # a local number without its area code (which number was meant?), on its own line,
        # not the line above that has a number ending in it
        ("555-0100", 4),
    ],
)
def test_a_list_entry_no_one_can_read_stops_the_campaign(
    project, monkeypatch, small, in_scan, entry, line
):
    # what can not be read can not be suppressed: the lists are refused, with the entry and
    # its line, rather than dialing a number that was listed in a form nothing reads
    stop = ["+1 646 555 0122", "n/a", "212-555-0100", entry, "212-555-0199"]
    line += 1
    with pytest.raises(LeadSourceError) as info:
        selection(project, monkeypatch, small, in_scan, written=["(201) 555-0177"], stop=stop)
    text = info.value.format()
    where, at = text.split(": ")[0].rsplit(":", 1)
    assert (Path(where).resolve(), int(at)) == ((project / "leads" / "stop.csv").resolve(), line)
    assert f"suppression list entry {entry!r} is not a phone number" in text, text


def test_whole_numbers_that_are_not_valid_and_comments_are_no_errors(project, monkeypatch):
    # a whole number that is not valid can be no lead's number either; a text list may carry
    # comment lines; both pass, and the list's numbers are suppressed
    (project / "leads" / "stop.txt").write_text(
        "# exported 2026-11-24 from the CRM\n+1 999 555 0123\n\n212-555-0199\n"
    )
    (project / "leads" / "mixed.csv").write_text('phone,n\n"(212) 555-0199",0\n"312-555-0142",1\n')
    path = write_campaign(
        project,
        "name: P\nleads: {source: ../leads/mixed.csv}\nsuppress: [../leads/stop.txt]\n"
        "agent: {instructions: x, opening: y}\n",
    )
    for small in (True, False):
        monkeypatch.setattr(leads_module, "SMALL_SOURCE", 10_000 if small else 0)
        sel = select_leads(load_campaign(path, env={}))
        stages = {lead["n"]: lead["__stage"] for lead in fetch_leads(sel, "true", order="__row")}
        assert stages == {0: "suppressed", 1: "selected"}, small
