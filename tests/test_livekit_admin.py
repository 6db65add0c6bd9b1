"""`dialer trunk list|create` and `dialer doctor`, against the local Twirp fake."""

from __future__ import annotations

import asyncio
import http.server
import json
import threading

from livekit import api  # noqa: TID253 - tests decode the real protobufs

from .conftest import cli
from .twirp_fake import TwirpError, TwirpFake


def use(monkeypatch, fake):
    for name, value in fake.env().items():
        monkeypatch.setenv(name, value)


def test_trunk_create_then_list(project, monkeypatch):
    (project / ".env").write_text(
        "SIP_ADDRESS=example.pstn.twilio.com\nSIP_NUMBERS=+15550001111, +15550002222\n"
        "SIP_USERNAME=user\nSIP_PASSWORD=secret\n"
    )
    with TwirpFake() as fake:
        use(monkeypatch, fake)
        res = cli("trunk", "create", "--json")
        assert res.exit_code == 0, res.stderr
        created = json.loads(res.stdout)
        assert created["trunk_id"] == "ST_fake1"
        res = cli("trunk", "list", "--json")
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout) == [created]
    (req,) = fake.calls("SIP/CreateSIPOutboundTrunk")
    assert isinstance(req, api.CreateSIPOutboundTrunkRequest)
    assert req.trunk.address == "example.pstn.twilio.com"
    assert list(req.trunk.numbers) == ["+15550001111", "+15550002222"]
    assert (req.trunk.auth_username, req.trunk.auth_password) == ("user", "secret")


def test_trunk_create_names_missing_settings(project, monkeypatch):
    with TwirpFake() as fake:
        use(monkeypatch, fake)
        res = cli("trunk", "create")
    assert res.exit_code == 1
    assert res.stderr.startswith("trunk settings missing: SIP_ADDRESS, SIP_NUMBERS")
    assert fake.calls("SIP/CreateSIPOutboundTrunk") == []


def test_trunk_list_refused_is_one_line(project, monkeypatch):
    denied = TwirpError(401, "unauthenticated", "invalid token")
    with TwirpFake(errors={"SIP/ListSIPOutboundTrunk": denied}) as fake:
        use(monkeypatch, fake)
        res = cli("trunk", "list")
    assert res.exit_code == 1
    assert res.stderr.strip() == "LiveKit refused: unauthenticated: invalid token"


def test_doctor_passes(project, monkeypatch):
    trunk = api.SIPOutboundTrunkInfo(sip_trunk_id="ST_1", name="t", address="a", numbers=["+1"])
    monkeypatch.setenv("GOOGLE_API_KEY", "x")
    monkeypatch.setenv("DIALER_REPORT_PORT", "0")
    # the project's campaigns keep noise cancellation (the default): LiveKit Cloud is needed,
    # and this fake is not it, so turn it off where it is on
    for path in (project / "campaigns").glob("*.yaml"):
        text = path.read_text()
        path.write_text(text + "\ntelephony: {noise_cancellation: false}\n")
    with TwirpFake(lambda spec: None, trunks=[trunk]) as fake:
        use(monkeypatch, fake)
        res = cli("doctor", "--trunk", "ST_1")
    assert res.exit_code == 0, res.stdout
    lines = res.stdout.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "ok    credentials",
        "ok    livekit",
        "ok    trunk",
        "ok    agent worker",
        "ok    google",
        "ok    noise cancellation",
        "ok    run log",
        "ok    report endpoint",
    ]
    assert "worker AW_fake takes jobs for 'dialer'" in lines[3]
    assert "workers reach http://127.0.0.1:" in lines[7]
    # the probe was an explicit, never-restarted dispatch with the probe metadata, tidied up
    (probe,) = fake.calls("AgentDispatchService/CreateDispatch")
    assert probe.agent_name == "dialer" and probe.restart_policy == api.JobRestartPolicy.JRP_NEVER
    assert [r.room for r in fake.calls("RoomService/DeleteRoom")] == [probe.room]
    assert fake.dispatches == []


def test_doctor_finds_no_worker_and_noise_cancellation_off_cloud(project, monkeypatch):
    monkeypatch.setenv("DIALER_REPORT_PORT", "0")
    with TwirpFake(lambda spec: None, agent_names=("other",)) as fake:
        use(monkeypatch, fake)
        res = cli("doctor", "--json", "--worker-timeout", "0.5")
    assert res.exit_code == 1
    checks = {c["name"]: c for c in json.loads(res.stdout)}
    assert not checks["agent worker"]["ok"]
    assert checks["agent worker"]["detail"] == (
        "no worker took a job for agent name 'dialer' within 0.5s: "
        "start one with `dialer agent start --agent-name dialer`"
    )
    noise = checks["noise cancellation"]
    assert not noise["ok"] and "BVCTelephony needs LiveKit Cloud" in noise["detail"]
    assert "campaigns/example.yaml" in noise["detail"]
    # a LiveKit Cloud URL is fine for noise cancellation
    monkeypatch.setenv("LIVEKIT_URL", "wss://nowhere-test.livekit.cloud")
    res = cli("doctor", "--json", "--worker-timeout", "0.1")
    checks = {c["name"]: c for c in json.loads(res.stdout)}
    assert checks["noise cancellation"] == {
        "name": "noise cancellation",
        "ok": True,
        "detail": "BVCTelephony available (LiveKit Cloud)",
    }


def test_doctor_report_endpoint(project, monkeypatch):
    import socket

    from dialer.livekit.admin import _endpoint_check

    # a public URL that does not lead to this machine's endpoint: said so
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        dead = other.getsockname()[1]
    env = {"DIALER_REPORT_PORT": "0", "DIALER_REPORT_URL": f"http://127.0.0.1:{dead}/reports"}
    check = asyncio.run(_endpoint_check(env))
    assert not check.ok and f"http://127.0.0.1:{dead}/health" in check.detail
    # a port held by a web server that is not a dialer run
    other = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    port = other.server_address[1]
    thread = threading.Thread(target=other.serve_forever, daemon=True)
    thread.start()
    try:
        check = asyncio.run(_endpoint_check({"DIALER_REPORT_PORT": str(port)}))
    finally:
        other.shutdown()
        other.server_close()
    assert not check.ok and check.detail == f"127.0.0.1:{port} is in use by another program"


def test_doctor_fails_each_check(project, monkeypatch):
    for name in ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DIALER_REPORT_PORT", "0")
    res = cli("doctor", "--json")
    assert res.exit_code == 1
    checks = {c["name"]: c for c in json.loads(res.stdout)}
    assert not checks["credentials"]["ok"] and "LIVEKIT_URL" in checks["credentials"]["detail"]
    assert not checks["livekit"]["ok"] and not checks["google"]["ok"]
    assert checks["report endpoint"]["ok"]
    # reachable but the trunk is not there; LiveKit down
    with TwirpFake() as fake:
        use(monkeypatch, fake)
        res = cli("doctor", "--json", "--trunk", "ST_missing", "--worker-timeout", "0.2")
        checks = {c["name"]: c for c in json.loads(res.stdout)}
        assert checks["livekit"]["ok"] and not checks["trunk"]["ok"]
    res = cli("doctor", "--json")  # the fake has stopped
    checks = {c["name"]: c for c in json.loads(res.stdout)}
    assert res.exit_code == 1 and checks["livekit"]["detail"].startswith("LiveKit unreachable")
