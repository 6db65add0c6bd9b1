"""API auth: HS256 tokens with roles, 401/403 on every route but health, bind-address rule."""

from __future__ import annotations

import time

import jwt
import pytest

from dialer.errors import DialerError
from dialer.web.auth import (
    Claims,
    TokenError,
    check_bind,
    create_token,
    is_loopback,
    verify_token,
)

from .webapp import SECRET, auth, client, upload


def test_token_round_trip_carries_role_and_subject():
    token = create_token(SECRET, "operator", 3600, subject="ana")
    claims = verify_token(SECRET, token)
    assert (claims.role, claims.subject) == ("operator", "ana")
    assert claims.expires_at - claims.issued_at == 3600
    assert claims.allows("viewer") and claims.allows("operator") and not claims.allows("admin")


def test_roles_nest_admin_operator_viewer():
    def claims(role):
        return Claims(role, None, 0, 1)

    assert claims("admin").allows("operator") and claims("admin").allows("viewer")
    assert not claims("viewer").allows("operator")


@pytest.mark.parametrize(
    "token, message",
    [
        (lambda: create_token(SECRET, "admin", 60, now=time.time() - 3600), "expired"),
        (lambda: create_token("another-secret-" + "z" * 40, "admin", 60), "signature"),
        (
            lambda: jwt.encode(
                {"iss": "dialer", "role": "root", "iat": int(time.time()), "exp": 2**40},
                SECRET,
                algorithm="HS256",
            ),
            "unknown role",
        ),
        (
            lambda: jwt.encode({"iss": "dialer", "role": "admin"}, SECRET, algorithm="HS256"),
            "claim",
        ),
        (lambda: "not.a.token", "not a valid token"),
    ],
)
def test_bad_tokens_are_refused_with_a_clear_reason(token, message):
    with pytest.raises(TokenError, match=message):
        verify_token(SECRET, token())


def test_short_or_missing_secret_and_unknown_role_are_refused():
    with pytest.raises(DialerError, match="too short"):
        create_token("short", "admin", 60)
    with pytest.raises(DialerError, match="unknown role"):
        create_token(SECRET, "root", 60)
    with pytest.raises(DialerError, match="positive"):
        create_token(SECRET, "admin", 0)


def test_non_loopback_bind_needs_a_secret():
    with pytest.raises(DialerError, match="refusing to listen on 0.0.0.0"):
        check_bind("0.0.0.0", None)
    with pytest.raises(DialerError, match="refusing"):
        check_bind("192.168.1.20", "")
    check_bind("0.0.0.0", SECRET)
    for host in ("127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"):
        assert is_loopback(host)
        check_bind(host, None)


def test_every_route_but_health_and_docs_needs_a_token(project):
    with client(project) as c:
        paths = c.get("/openapi.json").json()["paths"]
        checked = []
        for path, operations in paths.items():
            if path == "/api/health":
                continue
            concrete = path.replace("{", "").replace("}", "")  # a value for each parameter
            for method, spec in operations.items():
                res = c.request(method.upper(), concrete)
                assert res.status_code == 401, (method, path, res.text)
                assert res.headers["www-authenticate"].startswith("Bearer")
                assert res.json()["ok"] is False
                assert "401" in spec["responses"] and "403" in spec["responses"]
                checked.append(f"{method} {path}")
        assert len(checked) >= 20, checked
        assert "post /api/agentic/csv/upload" in checked
        health = c.get("/api/health")
        assert health.json()["ok"] is True
        assert health.headers["x-content-type-options"] == "nosniff"
        assert health.headers["x-frame-options"] == "DENY"
        assert "access-control-allow-origin" not in health.headers  # no CORS by default
        assert c.get("/docs").status_code == 200


def test_roles_on_the_api(project):
    with client(project) as c:
        viewer, operator, admin = auth("viewer"), auth("operator"), auth("admin")
        assert c.get("/api/runs", headers=viewer).status_code == 200
        assert c.get("/api/auth/whoami", headers=operator).json()["role"] == "operator"
        # edits need admin: viewer and operator get 403, and nothing changes
        for headers in (viewer, operator):
            res = c.post("/api/dnc", json={"numbers": ["+12015550123"]}, headers=headers)
            assert res.status_code == 403 and "admin" in res.json()["error"]
            res = c.put("/api/campaigns/x", content="name: x", headers=headers)
            assert res.status_code == 403
            res = upload(c, "new.csv", "phone\n+12015550123\n", headers=headers)
            assert res.status_code == 403
        assert not (project / "leads" / "new.csv").exists()
        assert not (project / "campaigns" / "x.yaml").exists()
        assert c.get("/api/dnc", headers=viewer).json()["numbers"] == []
        res = c.post("/api/dnc", json={"numbers": ["+12015550123"]}, headers=admin)
        assert res.status_code == 200 and res.json()["added"] == 1


def test_expired_foreign_and_malformed_tokens_get_401(project):
    with client(project) as c:
        expired = auth("admin", ttl=60, now=time.time() - 120)
        foreign = auth("admin", secret="someone-elses-secret-" + "q" * 40)
        for headers in (
            expired,
            foreign,
            {"Authorization": "Bearer nonsense"},
            {"Authorization": "Basic dXNlcjpwYXNz"},
        ):
            res = c.get("/api/runs", headers=headers)
            assert res.status_code == 401, headers
            assert res.headers["www-authenticate"].startswith("Bearer")
        assert "expired" in c.get("/api/runs", headers=expired).json()["error"]


def test_without_a_configured_secret_tokens_of_the_process_secret_work(project):
    with client(project, jwt_secret=None) as c:
        state = c.app.state.server
        assert state.ephemeral_secret and len(state.secret) >= 32
        assert c.get("/api/runs", headers=auth("viewer", secret=state.secret)).status_code == 200
        assert c.get("/api/runs", headers=auth("viewer")).status_code == 401


def test_security_headers_and_no_cors_by_default(project):
    with client(project) as c:
        page = c.get("/")
        assert page.status_code == 200 and "<title>" in page.text
        csp = page.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert "connect-src 'self'" in csp and "http" not in csp  # nothing from elsewhere
        for res in (page, c.get("/api/health"), c.get("/api/runs", headers=auth("viewer"))):
            assert res.headers["X-Frame-Options"] == "DENY"
            assert res.headers["X-Content-Type-Options"] == "nosniff"
            assert res.headers["Referrer-Policy"] == "no-referrer"
        # CORS is off: a cross-origin preflight gets no allow-origin
        pre = c.options(
            "/api/runs",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        )
        assert "access-control-allow-origin" not in pre.headers
