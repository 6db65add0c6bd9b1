"""`dialer render`: one lead's prompts per variant, --json, and --watch re-rendering on save."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time

from .conftest import REPO, cli, write_campaign


def test_render_by_row(project):
    res = cli("render", "campaigns/example.yaml", "--lead", "1")
    assert res.exit_code == 0, res.stderr
    assert "Hi Avery Johnson, this is Sam from Demandify." in res.stdout
    assert (
        "You are speaking with Avery Johnson, VP Engineering at Northwind Analytics." in res.stdout
    )
    assert "## Lead Context" in res.stdout


def test_render_by_phone_any_format_json(project):
    res = cli("render", "campaigns/example.yaml", "--phone", "(212) 555 0199", "--json")
    assert res.exit_code == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["lead"]["prospect_name"] == "Blake Rivera"
    assert data["lead"]["phone"] == "+12125550199"
    assert data["lead"]["timezone"] == "America/New_York"  # derived from the number
    assert data["rendered"][0]["opening"].startswith("Hi Blake Rivera")


def test_render_every_variant(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    res = cli("render", "campaigns/q4.yaml", "--lead", "1", "--json")
    assert res.exit_code == 0, res.stderr
    data = json.loads(res.stdout)
    assert [r["variant"] for r in data["rendered"]] == ["direct", "question"]
    assert "how does Northwind Analytics forecast" in data["rendered"][1]["opening"]
    assert data["assigned_variant"] in ("direct", "question")


def test_render_tells_why_a_lead_is_not_callable(project):
    res = cli("render", "campaigns/example.yaml", "--lead", "15")  # on leads/dnc.csv
    assert res.exit_code == 0
    assert "not callable: on a suppression list" in res.stdout


def test_render_errors(project):
    assert (
        "no lead at row 99: the lead source has 24 rows"
        in cli("render", "campaigns/example.yaml", "--lead", "99").stderr
    )
    assert cli("render", "campaigns/example.yaml").exit_code == 2
    res = cli("render", "campaigns/example.yaml", "--phone", "12")
    assert res.exit_code == 1 and "not a valid phone number" in res.stderr


def _reader(stream, q):
    for line in iter(stream.readline, ""):
        q.put(line)


def _wait_for(q, text, timeout=20.0):
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = q.get(timeout=0.2)
        except queue.Empty:
            continue
        seen.append(line)
        if text in line:
            return seen
    raise AssertionError(f"{text!r} never appeared; saw {seen!r}")


def test_render_watch_rerenders_and_survives_bad_edits(project):
    path = project / "campaigns" / "example.yaml"
    original = path.read_text()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dialer",
            "render",
            "campaigns/example.yaml",
            "--lead",
            "1",
            "--watch",
        ],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    out, err = queue.Queue(), queue.Queue()
    threading.Thread(target=_reader, args=(proc.stdout, out), daemon=True).start()
    threading.Thread(target=_reader, args=(proc.stderr, err), daemon=True).start()
    try:
        _wait_for(out, "Hi Avery Johnson")
        time.sleep(0.3)
        path.write_text(original.replace("Do you have a minute?", "Got a minute, friend?"))
        _wait_for(out, "Got a minute, friend?")
        path.write_text(original.replace("name: Example outreach", "name: [broken"))
        _wait_for(err, "invalid YAML")
        assert proc.poll() is None, "an invalid edit must not stop --watch"
        write_campaign(
            project, original.replace("Do you have a minute?", "Back again?"), "example.yaml"
        )
        _wait_for(out, "Back again?")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
