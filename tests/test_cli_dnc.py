"""`dialer dnc`: the suppression table every campaign honours."""

from __future__ import annotations

import json

from .conftest import cli


def test_add_list_remove_any_format(project):
    res = cli("dnc", "add", "(212) 555-0199", "+44 20 7946 0958", "--reason", "asked")
    assert res.exit_code == 0 and res.stdout.strip() == "added 2"
    assert cli("dnc", "add", "212.555.0199").stdout.strip() == "added 0, 1 already listed"
    listed = json.loads(cli("dnc", "list", "--json").stdout)
    assert {r["phone"] for r in listed} == {"+12125550199", "+442079460958"}
    assert all(r["reason"] == "asked" and r["source"] == "cli" for r in listed)
    assert cli("dnc", "remove", "2125550199").stdout.strip() == "removed 1"
    assert [r["phone"] for r in json.loads(cli("dnc", "list", "--json").stdout)] == [
        "+442079460958"
    ]


def test_invalid_numbers_are_reported_not_guessed(project):
    res = cli("dnc", "add", "12", "+1 201-555-0123")
    assert res.exit_code == 1
    assert res.stdout.strip() == "added 1"
    assert "1 not a valid phone number: 12" in res.stderr


def test_import_csv_and_plain_list(project):
    (project / "stop.csv").write_text("Name,Phone Number\nA,(201) 555-0123\nB,+1 312 555 0142\n")
    assert cli("dnc", "import", "stop.csv").stdout.strip() == "added 2"
    (project / "stop.txt").write_text("4155550111\n\n713-555-0188\n")
    assert cli("dnc", "import", "stop.txt").stdout.strip() == "added 2"
    listed = json.loads(cli("dnc", "list", "--json").stdout)
    assert len(listed) == 4 and all(r["source"] == "import" for r in listed)
    res = cli("dnc", "import", "missing.csv")
    assert res.exit_code == 1 and res.stderr.strip() == "missing.csv: file not found"


def test_dnc_numbers_leave_the_plan(project):
    before = json.loads(cli("plan", "campaigns/example.yaml", "--json").stdout)["counts"]
    cli("dnc", "add", "+1 201-555-0123")
    after = json.loads(cli("plan", "campaigns/example.yaml", "--json").stdout)["counts"]
    assert after["suppressed"] == before["suppressed"] + 1
