"""`dialer init`: a new project that validates, without overwriting anything."""

from __future__ import annotations

from dialer.scaffold import init_project

from .conftest import REPO, cli


def test_init_creates_a_project_that_validates(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = cli("init", "proj")
    assert res.exit_code == 0
    root = tmp_path / "proj"
    for rel in (
        "campaigns/example.yaml",
        "campaigns/campaign.schema.json",
        "leads/sample.csv",
        "leads/dnc.csv",
        "runs/.gitignore",
        ".gitignore",
        ".env.example",
    ):
        assert (root / rel).is_file(), rel
    header = (root / "leads" / "sample.csv").read_text().splitlines()[0]
    assert header.startswith(
        "prospect_name,company_name,job_title,phone,email,timezone,resource_name"
    )
    monkeypatch.chdir(root)
    assert cli("validate").exit_code == 0


def test_init_keeps_existing_files(tmp_path):
    (tmp_path / "campaigns").mkdir()
    (tmp_path / "campaigns" / "example.yaml").write_text("mine")
    lines = init_project(tmp_path)
    assert (tmp_path / "campaigns" / "example.yaml").read_text() == "mine"
    assert any("kept" in line and "example.yaml" in line for line in lines)


def test_repo_sample_leads_match_the_scaffold():
    for name in ("sample.csv", "dnc.csv"):
        assert (REPO / "leads" / name).read_text() == (
            REPO / "dialer" / "scaffold" / "leads" / name
        ).read_text()
