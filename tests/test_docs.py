"""The README stays true: every command is documented and has help; start-up stays light."""

from __future__ import annotations

import subprocess
import sys

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
