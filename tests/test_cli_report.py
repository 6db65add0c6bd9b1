"""`dialer report` and `dialer runs` over a simulated run log."""

from __future__ import annotations

import json

from .conftest import REPO, cli

MONDAY = "2026-11-23T13:00:00+00:00"


def simulate(project):
    res = cli(
        "run",
        str(REPO / "campaigns" / "q4.yaml"),
        "--virtual-time",
        "--start",
        MONDAY,
        "--days",
        "7",
        "--json",
    )
    assert res.exit_code == 0, res.stderr
    return json.loads(res.stdout)


def test_report_rates_revisions_variants_and_progress(project):
    summary = simulate(project)
    res = cli("report", str(REPO / "campaigns" / "q4.yaml"), "--json")
    assert res.exit_code == 0, res.stderr
    data = json.loads(res.stdout)
    t = data["totals"]
    assert t["dials"] == summary["dialed"]
    assert t["connected"] == summary["statuses"].get("completed", 0)
    assert t["connect_rate"] == round(t["connected"] / t["dials"], 4)
    assert sum(data["dispositions"].values()) == t["with_disposition"]
    assert {v["key"] for v in data["by_variant"]} <= {"direct", "question"}
    assert sum(v["dials"] for v in data["by_variant"]) == t["dials"]
    assert [r["key"] for r in data["by_run"]] == [summary["run_id"]]
    assert data["progress"]["source_rows"] == 24


def test_report_html_has_charts(project):
    simulate(project)
    res = cli("report", str(REPO / "campaigns" / "q4.yaml"), "--html", "report.html")
    assert res.exit_code == 0, res.stderr
    page = (project / "report.html").read_text()
    assert "outcomes over time" in page and "by variant" in page and "Plotly" in page


def test_runs_lists_history(project):
    summary = simulate(project)
    rows = json.loads(cli("runs", "--json").stdout)
    assert rows[0]["run_id"] == summary["run_id"] and rows[0]["status"] == "completed"
    assert rows[0]["dials"] == summary["dialed"]
    assert summary["run_id"] in cli("runs").stdout


def test_report_without_log(project):
    res = cli("report")
    assert res.exit_code == 1 and "no run log yet" in res.stderr
