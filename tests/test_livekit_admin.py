"""`dialer trunk list|create` and `dialer doctor`, against the local Twirp fake."""

from __future__ import annotations

import json

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
    with TwirpFake(trunks=[trunk]) as fake:
        use(monkeypatch, fake)
        res = cli("doctor", "--trunk", "ST_1")
    assert res.exit_code == 0, res.stdout
    lines = res.stdout.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "ok    credentials",
        "ok    livekit",
        "ok    trunk",
        "ok    google",
        "ok    run log",
        "ok    report endpoint",
    ]


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
        res = cli("doctor", "--json", "--trunk", "ST_missing")
        checks = {c["name"]: c for c in json.loads(res.stdout)}
        assert checks["livekit"]["ok"] and not checks["trunk"]["ok"]
    res = cli("doctor", "--json")  # the fake has stopped
    checks = {c["name"]: c for c in json.loads(res.stdout)}
    assert res.exit_code == 1 and checks["livekit"]["detail"].startswith("LiveKit unreachable")
