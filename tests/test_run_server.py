"""`dialer run --server URL`: the run goes to a running `dialer serve`, which owns the run log;
the command follows it, stops it on Ctrl-C, and refuses what the server would not run."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from .conftest import run_dialer, write_campaign
from .test_cli_call import campaign
from .test_web_server import start_server
from .webapp import auth

# answered calls that talk for a minute: still in progress when the test interrupts them
LONG = (
    campaign(answer=1.0, busy=0.0)
    .replace("talk_time: {min: 0s, max: 0s}", "talk_time: {min: 60s, max: 60s}")
    .replace("name: Call test", "name: Long calls")
)


@pytest.fixture
def server(call_project):
    proc, killer, url = start_server(call_project)
    try:
        yield call_project, url
    finally:
        killer.cancel()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def token(role: str = "operator") -> str:
    return auth(role)["Authorization"].split()[1]


def server_runs(url: str) -> list[dict]:
    return httpx.get(f"{url}/api/runs", headers=auth("viewer"), timeout=10).json()["runs"]


def test_the_run_executes_in_the_server_and_is_followed_here(server):
    project, url = server
    res = run_dialer(
        "run", "campaigns/c.yaml", "--server", url, "--max-calls", "1", "--json", "--quiet",
        cwd=project, env={"DIALER_TOKEN": token()},
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["dialed"] == 1 and summary["statuses"] == {"busy": 1}
    assert summary["status"] == "completed"
    assert f"run {summary['run_id']} started on {url}" in res.stderr
    # it is the server's run: in the log the server holds, which no other process could open
    runs = server_runs(url)
    assert [r["run_id"] for r in runs] == [summary["run_id"]]
    # the plain summary line, as a local run prints it
    res = run_dialer(
        "run", "campaigns/c.yaml", "--server", url, "--token", token(), "--max-calls", "1",
        "--quiet", cwd=project,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("run ") and "1 dial(s) (busy 1)" in res.stdout
    assert len(server_runs(url)) == 2


def test_ctrl_c_stops_the_server_run_and_twice_hangs_up(server):
    project, url = server
    write_campaign(project, LONG, "long.yaml")
    proc = subprocess.Popen(
        [sys.executable, "-m", "dialer", "run", "campaigns/long.yaml", "--server", url,
         "--json", "--quiet"],
        cwd=project, env={**os.environ, "DIALER_TOKEN": token()},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        status = {}
        while time.monotonic() < deadline:  # wait until the server has a call in progress
            status = httpx.get(f"{url}/api/call/status", headers=auth("viewer")).json()
            if status["in_flight"]:
                break
            time.sleep(0.1)
        assert status["in_flight"] == 1 and status["state"] == "running", status
        proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the server stops dialing; the call goes on
            status = httpx.get(f"{url}/api/call/status", headers=auth("viewer")).json()
            if status["state"] == "stopping":
                break
            time.sleep(0.1)
        assert status["state"] == "stopping" and status["in_flight"] == 1, status
        proc.send_signal(signal.SIGINT)  # again: hang up
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["status"] == "stopped"
    assert summary["statuses"] == {"canceled": 1}
    assert "stopping: no new dials" in err and "hanging up" in err
    assert httpx.get(f"{url}/api/call/status", headers=auth("viewer")).json()["state"] == "idle"


def test_a_different_local_copy_is_refused_and_nothing_dials(server, tmp_path):
    project, url = server
    elsewhere = tmp_path / "checkout" / "campaigns"
    elsewhere.mkdir(parents=True)
    (project / "leads").rename(tmp_path / "checkout" / "leads")  # same leads, other folder
    try:
        local = elsewhere / "c.yaml"
        local.write_text((project / "campaigns" / "c.yaml").read_text() + "# edited\n")
        res = run_dialer("run", str(local), "--server", url, "--token", token(), cwd=tmp_path)
    finally:
        (tmp_path / "checkout" / "leads").rename(project / "leads")
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr
    assert "the server's c.yaml is revision" in lines[0] and "(HTTP 409)" in lines[0]
    assert server_runs(url) == []


@pytest.mark.parametrize(
    ("role", "expected"),
    [(None, "HTTP 401"), ("viewer", "HTTP 403")],
)
def test_without_an_operator_token_it_says_what_to_do(server, role, expected):
    project, url = server
    env = {"DIALER_TOKEN": token(role) if role else ""}
    res = run_dialer("run", "campaigns/c.yaml", "--server", url, cwd=project, env=env)
    assert res.returncode == 1
    assert expected in res.stderr and "operator" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert server_runs(url) == []


def test_no_server_and_local_only_flags_are_clear_errors(call_project):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    res = run_dialer(
        "run", "campaigns/c.yaml", "--server", f"http://127.0.0.1:{port}", cwd=call_project
    )
    assert res.returncode == 1
    assert f"no dialer server answers at http://127.0.0.1:{port}" in res.stderr
    assert "dialer serve" in res.stderr and "Traceback" not in res.stderr
    res = run_dialer("run", "campaigns/c.yaml", "--server", "127.0.0.1:4100", cwd=call_project)
    assert res.returncode == 1 and "expected a URL like http://" in res.stderr
    res = run_dialer(
        "run", "campaigns/c.yaml", "--server", "http://127.0.0.1:1", "--virtual-time",
        "--backend", "livekit", cwd=call_project,
    )  # fmt: skip
    assert res.returncode == 2
    assert "--backend, --virtual-time can not go with --server" in res.stderr
    # nothing was written locally: no run log appeared
    assert not (call_project / "runs" / "dialer.duckdb").exists()
