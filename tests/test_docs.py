"""The README stays true: every command is documented and has help; start-up stays light."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import typer

from dialer.cli import app

from .conftest import REPO, cli


def commands() -> list[str]:
    group = typer.main.get_command(app)
    return sorted(group.commands)


def test_every_command_is_in_the_readme_and_has_help():
    readme = (REPO / "README.md").read_text()
    assert commands(), "no commands registered"
    for name in commands():
        assert f"`dialer {name}" in readme, f"README does not document `dialer {name}`"
        res = cli(name, "--help")
        assert res.exit_code == 0
        help_text = typer.main.get_command(app).commands[name].help
        assert help_text and len(help_text) > 20, f"{name} has no help text"


def test_readme_opens_with_the_two_commands():
    readme = (REPO / "README.md").read_text()
    first_blocks = readme.split("```sh")[1:3]
    assert "dialer plan campaigns/q4.yaml" in first_blocks[0] or "dialer run" in first_blocks[0]
    assert "./scripts/test" in first_blocks[1]
    assert "./scripts/test" in (REPO / ".ci" / "run").read_text()


def test_help_and_validate_do_not_import_heavy_packages():
    code = (
        "import sys; from dialer.cli import app; import dialer.validate, dialer.plan; "
        "heavy = [m for m in sys.modules if m.split('.')[0] in "
        "('livekit', 'fastapi', 'uvicorn', 'google', 'textual', 'watchfiles')]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _readme_block(marker: str) -> str:
    """The fenced block that follows `<!-- marker ... -->` in the README."""
    readme = (REPO / "README.md").read_text()
    after = readme.split(f"<!-- {marker}", 1)[1]
    return after.split("```sh\n", 1)[1].split("```", 1)[0]


def test_the_readme_legacy_curl_calls_work_against_a_real_server(project):
    """The legacy Node backend's calls, exactly as the README shows them, through curl."""
    import json
    import os
    import shutil

    import pytest

    from .test_web_server import start_server
    from .webapp import SECRET

    if shutil.which("curl") is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs curl for the README's API examples (scripts/test installs it)")
        pytest.skip("curl is not installed")
    script = _readme_block("legacy-integration")
    assert script.count("curl ") >= 8, script
    proc, killer, url = start_server(project)
    try:
        script = script.replace("BASE=http://127.0.0.1:4100", f"BASE={url}", 1)
        assert f"BASE={url}" in script
        env = {
            **os.environ,
            "DIALER_JWT_SECRET": SECRET,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        res = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=project, env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    finally:
        killer.cancel()
        proc.kill()
        proc.wait(timeout=10)
    assert res.returncode == 0, res.stderr + res.stdout
    answers, rest = [], res.stdout.strip()  # curl prints each body without a newline
    while rest:
        answer, end = json.JSONDecoder().raw_decode(rest)
        answers.append(answer)
        rest = rest[end:].strip()
    assert len(answers) == script.count("curl "), res.stdout
    assert all(a["ok"] for a in answers), answers
    upload, listing, preview, selected, before, created, updated, status = answers
    assert upload["phone_column"] == "phone" and upload["invalid"]["count"] >= 1
    assert "sample.csv" in [f["name"] for f in listing["files"]]
    assert len(preview["rows"]) == 5
    assert selected["active"] == "sample.csv"
    assert before["custom"] == [] and before["builtin"]
    assert created["created"] is True and created["module"] == "acme_demo"
    assert updated["created"] is False and updated["revision"] != created["revision"]
    assert status["state"] == "idle"
    # the campaign the backend made is a real campaign file: it validates and renders
    text = (project / "campaigns" / "acme_demo.yaml").read_text()
    assert "source: ../leads/sample.csv" in text
    assert "Hello [Prospect Name], it is [Resource Name] from Acme." in text
    assert cli("validate", "campaigns/acme_demo.yaml").exit_code == 0
    rendered = cli("render", "campaigns/acme_demo.yaml", "--lead", "1")
    assert rendered.exit_code == 0
    assert "Hello Avery Johnson, it is Sam from Acme." in rendered.stdout
