"""`dialer diff`: a reviewer's view of a campaign change against git."""

from __future__ import annotations

import json
import subprocess

import pytest

from .conftest import cli


def git(project, *args):
    subprocess.run(["git", *args], cwd=project, check=True, capture_output=True)


@pytest.fixture
def repo(project):
    git(project, "init", "-q")
    git(project, "-c", "user.email=t@example.com", "-c", "user.name=t", "add", "-A")
    git(project, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "start")
    return project


def test_diff_prompts_settings_and_lead_delta(repo):
    path = repo / "campaigns" / "example.yaml"
    text = path.read_text()
    text = text.replace("Do you have a minute?", "Is now a good time?")
    text = text.replace('where: "score >= 50"', 'where: "score >= 60"')
    text = text.replace("max_concurrent: 2", "max_concurrent: 4")
    text = text.replace('end: "17:00"', 'end: "18:00"')
    text = text.replace("busy: 20m", "busy: 10m")
    path.write_text(text)
    res = cli("diff", "campaigns/example.yaml", "--lead", "1", "--json")
    assert res.exit_code == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["sample_row"] == 1
    lines = data["prompt_diff"].splitlines()
    assert any(line.startswith("-Hi Avery") and "Do you have a minute?" in line for line in lines)
    assert any(line.startswith("+Hi Avery") and "Is now a good time?" in line for line in lines)
    settings = "\n".join(data["settings"])
    assert "pacing.max_concurrent: 2 → 4 (faster)" in settings
    assert "pacing.window.end: 17:00 → 18:00 (calls end later)" in settings
    assert "pacing.retry.busy: 20m → 10m (retries sooner)" in settings
    assert "leads.where: score >= 50 → score >= 60" in settings
    leads = data["leads"]
    assert leads["entering"] == 0 and leads["leaving"] == 4
    assert leads["after"] == leads["before"] - 4
    assert {e["name"] for e in leads["leaving_examples"]} == {
        "Gray Morgan",
        "Vale Porter",
        "Parker Quinn",
        "Kai Thompson",
    }


def test_diff_sees_prompt_file_changes(repo):
    (repo / "campaigns" / "agent.md").write_text("Hello from the file, {{ lead.prospect_name }}.\n")
    path = repo / "campaigns" / "example.yaml"
    text = path.read_text()
    start = text.index("  instructions: |")
    end = text.index("  opening:")
    path.write_text(text[:start] + "  instructions_file: agent.md\n" + text[end:])
    git(repo, "-c", "user.email=t@example.com", "-c", "user.name=t", "add", "-A")
    git(repo, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "file")
    (repo / "campaigns" / "agent.md").write_text("Changed, {{ lead.prospect_name }}.\n")
    res = cli("diff", "campaigns/example.yaml", "--lead", "1", "--json")
    data = json.loads(res.stdout)
    assert "-Hello from the file, Avery Johnson." in data["prompt_diff"]
    assert "+Changed, Avery Johnson." in data["prompt_diff"]
    assert data["settings"] == []


def test_diff_new_campaign_and_bad_rev(repo):
    (repo / "campaigns" / "new.yaml").write_text(
        (repo / "campaigns" / "example.yaml").read_text().replace("Example outreach", "New one")
    )
    res = cli("diff", "campaigns/new.yaml")
    assert res.exit_code == 0, res.stderr
    assert "the campaign is new" in res.stdout
    res = cli("diff", "campaigns/example.yaml", "--rev", "nope123")
    assert res.exit_code == 1 and "unknown git revision 'nope123'" in res.stderr


def test_diff_outside_git(project):
    res = cli("diff", "campaigns/example.yaml")
    assert res.exit_code == 1 and "not in a git repository" in res.stderr
