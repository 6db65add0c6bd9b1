"""Fixtures: every test gets its own small project (campaigns + leads) in tmp_path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dialer.cli import app
from dialer.scaffold import init_project

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    # campaign interpolation and DIALER_DB must not see the developer's environment
    monkeypatch.delenv("DIALER_DB", raising=False)
    monkeypatch.delenv("SIP_OUTBOUND_TRUNK_ID", raising=False)
    monkeypatch.delenv("SIP_CALLER_ID", raising=False)


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A fresh `dialer init` project; the current folder is its root."""
    init_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_campaign(project: Path, text: str, name: str = "c.yaml") -> Path:
    path = project / "campaigns" / name
    path.write_text(text, encoding="utf-8")
    return path


MINIMAL = """\
name: Minimal
leads:
  source: ../leads/sample.csv
agent:
  instructions: "You are {{ lead.resource_name }}."
  opening: "Hi {{ lead.prospect_name }}."
"""


class Result:
    def __init__(self, code: int, stdout: str, stderr: str) -> None:
        self.exit_code, self.stdout, self.stderr = code, stdout, stderr


def cli(*args: str, input: str | None = None) -> Result:
    """Run the real CLI app in-process (Typer's runner), stdout and stderr apart."""
    runner = CliRunner()
    res = runner.invoke(app, list(args), input=input, catch_exceptions=False)
    return Result(res.exit_code, res.stdout, res.stderr)


def run_dialer(*args: str, cwd: Path, env: dict | None = None, timeout: float = 60):
    """Run `python -m dialer` as a subprocess, the way a user's shell does."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "dialer", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def call_project(project):
    """A project whose leads sit in known states for single calls (see tests/test_cli_call.py):
    row 1 callable now, 2 outside its window, 3 suppressed, 4 a duplicate of 1, 5 callable."""
    from .test_cli_call import build_call_project

    return build_call_project(project)
