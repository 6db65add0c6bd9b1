"""Bearer tokens for the API: HS256 JWTs that carry a role, viewer < operator < admin.

viewer reads everything; operator also dials and stops runs; admin also edits campaigns, lead
files and the do-not-call list. The secret comes from `DIALER_JWT_SECRET`; `dialer serve` on a
loopback address without one makes a secret that lives as long as the process.
"""

# No `from __future__ import annotations` here: FastAPI reads the dependency's annotations.

import ipaddress
import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt

from dialer.errors import DialerError

ROLES = ("viewer", "operator", "admin")  # each includes the ones before it
SECRET_ENV = "DIALER_JWT_SECRET"
MIN_SECRET_LENGTH = 32
ISSUER = "dialer"
_ALGORITHM = "HS256"


class TokenError(DialerError):
    """A bearer token that can not be accepted: bad signature, expired, malformed, unknown role."""


@dataclass(frozen=True)
class Claims:
    """What a verified token says."""

    role: str
    subject: str | None
    issued_at: int
    expires_at: int

    def allows(self, role: str) -> bool:
        """Whether this token's role includes `role`."""
        return ROLES.index(self.role) >= ROLES.index(role)

    def to_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "subject": self.subject,
            "issued_at": self.issued_at,
            "expires_at": self.expires_at,
        }


def new_secret() -> str:
    """A fresh random secret, long enough for HS256."""
    return secrets.token_urlsafe(MIN_SECRET_LENGTH)


def check_secret(secret: str | None) -> str:
    """The secret itself, or a DialerError saying why it can not sign tokens."""
    if not secret:
        raise DialerError(
            f"{SECRET_ENV} is not set",
            hint=f"set {SECRET_ENV} to a random string of {MIN_SECRET_LENGTH}+ characters, e.g. "
            'python -c "import secrets; print(secrets.token_urlsafe(32))"',
        )
    if len(secret) < MIN_SECRET_LENGTH:
        raise DialerError(
            f"{SECRET_ENV} is too short for HS256: expected at least {MIN_SECRET_LENGTH} "
            f"characters, got {len(secret)}",
            hint='python -c "import secrets; print(secrets.token_urlsafe(32))" makes one',
        )
    return secret


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise TokenError(f"unknown role {role!r}: expected one of {', '.join(ROLES)}")
    return role


def create_token(
    secret: str,
    role: str,
    ttl_seconds: float,
    subject: str | None = None,
    *,
    now: float | None = None,
) -> str:
    """A signed token for `role`, valid for `ttl_seconds` from `now` (default: the wall clock)."""
    check_secret(secret)
    _check_role(role)
    if not ttl_seconds > 0:
        raise DialerError(f"token lifetime must be positive, got {ttl_seconds!r} seconds")
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "role": role,
        "iat": issued,
        "exp": issued + int(ttl_seconds),
    }
    if subject is not None:
        claims["sub"] = str(subject)
    return jwt.encode(claims, secret, algorithm=_ALGORITHM)


def verify_token(secret: str, token: str) -> Claims:
    """The token's claims; TokenError when its signature, expiry, issuer or role is wrong."""
    try:
        data = jwt.decode(
            token,
            secret,
            algorithms=[_ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "iat", "iss", "role"]},
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("token has expired", hint="get a new one: dialer token create") from None
    except jwt.InvalidSignatureError:
        raise TokenError(
            "token signature does not match: it was signed with another secret"
        ) from None
    except jwt.MissingRequiredClaimError as exc:
        raise TokenError(f"token lacks the {exc.claim!r} claim") from None
    except jwt.InvalidIssuerError:
        raise TokenError("token was not issued by dialer") from None
    except jwt.InvalidTokenError as exc:
        raise TokenError(f"not a valid token: {exc}") from None
    role = data.get("role")
    if not isinstance(role, str):
        raise TokenError(f"token role must be a string, got {role!r}")
    _check_role(role)
    return Claims(role, data.get("sub"), int(data["iat"]), int(data["exp"]))


def is_loopback(host: str) -> bool:
    """Whether `host` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, secret: str | None) -> None:
    """Refuse to listen beyond loopback without a configured secret (anyone could get in)."""
    if secret:
        check_secret(secret)
    elif not is_loopback(host):
        raise DialerError(
            f"refusing to listen on {host} without {SECRET_ENV}: the API would be open to the "
            "network with a throwaway secret",
            hint=f"set {SECRET_ENV} (and hand out tokens with dialer token create), "
            "or listen on 127.0.0.1",
        )


def require(role: str):
    """A FastAPI dependency: the request's verified Claims, if its role includes `role`.

    401 (with `WWW-Authenticate: Bearer`) when the `Authorization: Bearer ...` header is missing
    or the token does not verify; 403 when the token's role is too low.
    """
    _check_role(role)
    from fastapi import Depends, HTTPException, Request
    from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

    scheme = HTTPBearer(
        auto_error=False,
        scheme_name="bearer",
        description="A token from `dialer token create --role viewer|operator|admin`.",
    )

    async def dependency(  # async: no thread needed to check a signature
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Depends(scheme),
    ) -> Claims:
        if credentials is None:
            raise HTTPException(
                401,
                "a bearer token is required (Authorization: Bearer TOKEN)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        try:
            claims = verify_token(request.app.state.server.secret, credentials.credentials)
        except TokenError as exc:
            raise HTTPException(
                401, exc.message, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
            ) from None
        if not claims.allows(role):
            raise HTTPException(403, f"this needs the {role} role; the token has {claims.role}")
        request.state.claims = claims
        return claims

    return dependency
