"""The console entry point builds only the command it runs: it must behave as the whole app."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from dialer.cli import _command_name, _only, app

from .conftest import REPO

# the same program through the whole app and through the entry point (`main`)
WHOLE = "import sys; sys.argv[0] = 'dialer'; from dialer.cli import app; app(prog_name='dialer')"
ENTRY = "import sys; sys.argv[0] = 'dialer'; from dialer.cli import main; main()"


def _run(program: str, args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", program, *args],
        cwd=REPO,
        env={**os.environ, "COLUMNS": "100", "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--help", "validate"],  # the app's help, not the command's
        ["-h", "dnc"],
        ["validate", "--help"],
        ["--debug", "plan", "--help"],
        ["dnc", "--help"],
        ["dnc", "add", "--help"],
        ["test", "--help"],
        ["import-legacy", "--help"],
        ["valdate"],  # a typo: the error suggests the command
        ["validate", "--no-such-option"],
    ],
)
def test_the_entry_point_answers_as_the_whole_app(args):
    whole, entry = _run(WHOLE, args), _run(ENTRY, args)
    assert (entry.returncode, entry.stdout, entry.stderr) == (
        whole.returncode,
        whole.stdout,
        whole.stderr,
    )
    assert whole.stdout or whole.stderr


def test_the_entry_point_runs_a_command_after_the_apps_own_option():
    done = _run(ENTRY, ["--debug", "validate", "campaigns/q4.yaml"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok    campaigns/q4.yaml")


def test_only_the_named_command_is_built():
    assert _command_name(["--debug", "plan", "c.yaml"]) == "plan"
    assert _command_name(["--help"]) is None
    assert _command_name(["--help", "validate"]) is None
    assert _command_name(["validate", "--help"]) == "validate"
    lean = _only("validate")
    assert [c.callback.__name__ for c in lean.registered_commands] == ["validate"]
    assert lean.registered_groups == []
    assert [g.name for g in _only("dnc").registered_groups] == ["dnc"]
    assert _only("import-legacy").registered_commands[0].name == "import-legacy"
    assert _only("no-such-command") is app
    assert _only(None) is app
    assert len(app.registered_commands) > 10  # the app itself is left whole
