"""`serve`: the real app under uvicorn on 127.0.0.1, over real HTTP, holding the run log."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading

import httpx
import pytest

from dialer.errors import DialerError, RunLogLocked
from dialer.store.connect import open_run_log
from dialer.web.server import serve

from .conftest import run_dialer
from .webapp import SECRET, auth, config

SERVE = (
    "import sys; from pathlib import Path; from dialer.web.config import WebConfig; "
    "from dialer.web.server import serve; "
    "serve(WebConfig.from_env(Path(sys.argv[1])), '127.0.0.1', 0, "
    "announce=lambda line: print(line, flush=True))"
)


def start_server(project):
    env = {**os.environ, "DIALER_JWT_SECRET": SECRET}
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(project)],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    killer = threading.Timer(30, proc.kill)  # never let a stuck server hang the suite
    killer.start()
    for line in proc.stdout:
        if line.startswith("dialer serve: "):
            return proc, killer, line.split()[2].rstrip("/")
    killer.cancel()
    raise AssertionError(f"server did not start: {proc.wait()} {proc.stderr.read()}")


def test_real_server_holds_the_run_log_and_serves_http(project):
    db = project / "runs" / "dialer.duckdb"
    proc, killer, url = start_server(project)
    try:
        assert url.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=url, timeout=10) as http:
            assert http.get("/api/health").json()["run_log"] == "open"
            assert http.get("/api/runs").status_code == 401
            assert http.get("/api/runs", headers=auth("viewer")).json() == {"ok": True, "runs": []}
            res = http.post("/api/dnc", json={"numbers": ["+12015550123"]}, headers=auth())
            assert res.json()["added"] == 1
            assert http.delete("/api/dnc/%2B12015550123", headers=auth()).status_code == 200
            leads = http.get("/api/campaigns/example/leads", headers=auth("viewer")).json()
            assert leads["total"] == 20  # a plan on the server's worker threads
            # another process can not take the run log while the server holds it
            with pytest.raises(RunLogLocked, match=f"process {proc.pid}"):
                open_run_log(db)
            with pytest.raises(RunLogLocked):
                serve(config(project), "127.0.0.1", 0)
            ran = run_dialer("run", "campaigns/example.yaml", "--quiet", cwd=project)
            assert ran.returncode == 1
            assert f"run log is in use by process {proc.pid}" in ran.stderr
            assert "Traceback" not in ran.stderr
            assert http.get("/api/health").status_code == 200  # still serving
        proc.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal: exit status says SIGTERM
        # (not SIGABRT: no thread that ran DuckDB may outlive the interpreter)
        assert proc.wait(timeout=15) in (0, -signal.SIGTERM)
    finally:
        killer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    logs = proc.stdout.read() + proc.stderr.read()  # uvicorn's access log is on stdout
    assert "Application shutdown complete" in logs
    assert "DELETE /api/dnc/***0123" in logs  # the access log, number masked
    assert "2015550123" not in logs and "Traceback" not in logs
    con = open_run_log(db)  # released on shutdown, and the server's writes are in it
    try:
        assert con.execute("SELECT count(*) FROM dnc").fetchone()[0] == 0
    finally:
        con.close()


EXIT_AFTER_REQUESTS = """
import sys
from pathlib import Path
from fastapi.testclient import TestClient
from dialer.web.app import create_app
from dialer.web.auth import create_token
from dialer.web.config import WebConfig
config = WebConfig.from_env(Path(sys.argv[1]))
with TestClient(create_app(config)) as c:
    h = {"Authorization": "Bearer " + create_token(config.jwt_secret, "viewer", 60)}
    assert c.get("/api/campaigns/example/leads", headers=h).status_code == 200
    assert c.get("/api/campaigns/example", headers=h).status_code == 200
print("served")
"""


def test_the_process_exits_cleanly_after_serving_plans(project):
    # Blocking work runs on the server's own threads, joined at shutdown: a framework thread
    # that ran the campaign checks would die with the interpreter and abort the process.
    env = {**os.environ, "DIALER_JWT_SECRET": SECRET}
    done = subprocess.run(
        [sys.executable, "-c", EXIT_AFTER_REQUESTS, str(project)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout.strip()) == (0, "served"), done.stderr
    assert "FATAL" not in done.stderr


def test_serve_refuses_before_touching_anything(project):
    db = project / "runs" / "dialer.duckdb"
    with pytest.raises(DialerError, match="refusing to listen on 0.0.0.0"):
        serve(config(project, jwt_secret=None), "0.0.0.0", 0)
    assert not db.exists()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(DialerError, match=f"port {port} on 127.0.0.1 is already in use"):
            serve(config(project), "127.0.0.1", port)
    open_run_log(db).close()  # the failed start let go of the run log
