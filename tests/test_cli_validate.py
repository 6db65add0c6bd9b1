"""`dialer validate`: every campaign in one pass, compiler-style errors, exit codes, --json."""

from __future__ import annotations

import json

from .conftest import MINIMAL, REPO, cli, run_dialer, write_campaign


def test_scaffold_validates(project):
    res = cli("validate")
    assert res.exit_code == 0, res.stderr
    assert "ok    campaigns/example.yaml (Example outreach" in res.stdout


def test_shipped_campaigns_validate():
    res = run_dialer("validate", cwd=REPO, env={"DIALER_DB": "/nonexistent/dialer.duckdb"})
    assert res.returncode == 0, res.stderr
    for name in ("q4", "google", "hxb", "gbr"):
        assert f"campaigns/{name}.yaml" in res.stdout


def test_errors_of_several_files_in_one_run(project):
    write_campaign(project, MINIMAL.replace("agent:\n", "agent:\n  voice: [x]\n"), "a.yaml")
    write_campaign(
        project, MINIMAL.replace("Minimal", "B").replace("resource_name", "nickname"), "b.yaml"
    )
    res = cli("validate")
    assert res.exit_code == 1
    lines = res.stderr.splitlines()
    assert any(
        line.startswith("campaigns/a.yaml:5:10: agent.voice: input should be a valid string")
        for line in lines
    ), lines
    assert any(
        line.startswith("campaigns/b.yaml:5:") and "lead.nickname is not a lead column" in line
        for line in lines
    ), lines
    assert lines[-1] == "2 error(s) in 2 of 3 file(s)"
    assert "Traceback" not in res.stderr


def test_undefined_at_render_names_lead_row(project):
    write_campaign(
        project, MINIMAL.replace("You are {{ lead.resource_name }}.", "{{ vars.offer }}")
    )
    res = cli("validate", "campaigns/c.yaml")
    assert res.exit_code == 1
    assert (
        "campaigns/c.yaml:5: agent.instructions: vars.offer is undefined "
        "(not in the campaign's vars) (lead row 1)" in res.stderr
    )


def test_compliance_lints(project):
    text = MINIMAL + (
        "pacing:\n  window: {start: '07:00', end: '22:00'}\n"
        "recording: {enabled: true}\n"
        "dispositions: [interested, not_interested]\n"
    )
    write_campaign(project, text)
    res = cli("validate", "campaigns/c.yaml")
    assert res.exit_code == 1
    assert "pacing.window: calling window 07:00-22:00 leaves the 08:00-21:00" in res.stderr
    assert "agent.opening: recording is on, so the opening must tell the callee" in res.stderr
    assert "dispositions: a do_not_call disposition is required" in res.stderr
    fixed = text.replace("end: '22:00'}", "end: '22:00', override_reason: 'B2B, callee's request'}")
    write_campaign(
        project,
        fixed.replace(
            "end: '22:00', override_reason: 'B2B, callee's request'",
            "end: '22:00', override_reason: \"B2B on request\"",
        ),
    )
    assert "leaves the 08:00-21:00" not in cli("validate", "campaigns/c.yaml").stderr


def test_duplicate_campaign_names(project):
    write_campaign(project, MINIMAL, "a.yaml")
    write_campaign(project, MINIMAL, "b.yaml")
    res = cli("validate")
    assert res.exit_code == 1
    assert (
        "campaigns/b.yaml:1:7: name: campaign name 'Minimal' is already used by campaigns/a.yaml"
        in res.stderr
    )


def test_json_output(project):
    write_campaign(project, MINIMAL.replace("source: ../leads/sample.csv", "source: nope.csv"))
    res = cli("validate", "--json")
    assert res.exit_code == 1
    data = json.loads(res.stdout)
    assert data["ok"] is False
    bad = next(f for f in data["files"] if f["path"].endswith("c.yaml"))
    assert bad["errors"][0]["line"] == 3 and bad["errors"][0]["field"] == "leads.source"
    good = next(f for f in data["files"] if f["path"].endswith("example.yaml"))
    assert good["ok"] and good["leads_selected"] > 0


def test_usage_error_exits_2_and_missing_path_exits_1(project):
    assert cli("validate", "--nope").exit_code == 2
    res = cli("validate", "nowhere.yaml")
    assert res.exit_code == 1 and res.stderr.strip() == "nowhere.yaml: no such file or folder"


def test_subprocess_entry_point_no_traceback(project):
    write_campaign(project, "name: [unclosed\n")
    res = run_dialer("validate", "campaigns/c.yaml", cwd=project)
    assert res.returncode == 1
    assert res.stderr.startswith("campaigns/c.yaml:2:1: invalid YAML")
    assert "Traceback" not in res.stderr


def test_files_validated_in_parallel_share_nothing_unsafe(tmp_path):
    # validate checks files on parallel threads; shared DuckDB connections (the SQL parser)
    # used to make one file fail now and then with "connection is busy"
    import shutil

    from dialer.validate import validate_paths

    shutil.copytree(REPO / "campaigns", tmp_path / "campaigns")
    shutil.copytree(REPO / "leads", tmp_path / "leads")
    for n in range(12):
        text = (tmp_path / "campaigns" / "q4.yaml").read_text()
        (tmp_path / "campaigns" / f"q4_{n}.yaml").write_text(
            text.replace("name: Q4 SaaS outreach", f"name: Q4 copy {n}")
        )
    for _ in range(5):
        reports = validate_paths([tmp_path / "campaigns"])
        assert len(reports) == 16
        assert [str(e) for r in reports for e in r.errors] == []
