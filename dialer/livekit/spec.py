"""What the runner and a `dialer agent` worker exchange: the call spec and the signed call report.

The runner puts a `CallSpec` (JSON) into the metadata of an explicit LiveKit agent dispatch; the
worker places that one call and POSTs exactly one `CallReport` (JSON) to `spec.report_url`,
signed the way LiveKit signs webhooks: an HS256 JWT from the API key and secret whose `sha256`
claim is the base64 SHA-256 of the body, in the `Authorization` header. Both sides are Python
here, but the shapes are plain JSON so another worker implementation could speak them too.

livekit is imported only inside `sign_report`/`verify_report`. The statuses are the campaign
schema's `CALL_STATUSES`, the run log's `attempts.status` values.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

from dialer.campaign.schema import CALL_STATUSES as FINAL_STATUSES

SPEC_VERSION = 1
# SIP final responses an outbound INVITE can get, as call statuses (the SIP code is kept too).
SIP_BUSY = frozenset({486, 600, 603})
SIP_NO_ANSWER = frozenset({408, 480, 487})
SIP_INVALID = frozenset({404, 484})


# The metadata of `dialer doctor`'s probe dispatch: a worker takes the job and ends it at once.
PROBE_METADATA = '{"probe": "dialer doctor"}'


def is_probe(metadata: str) -> bool:
    return metadata.strip() == PROBE_METADATA


class SpecError(ValueError):
    """A call spec or report that does not have the expected shape; the message names the field."""


def status_for_sip(code: int | None, *, timed_out: bool = False) -> str:
    """The call status for a failed dial: its SIP code, or a ring timeout with no code."""
    if code is None:
        return "no_answer" if timed_out else "failed"
    if code in SIP_BUSY:
        return "busy"
    if code in SIP_NO_ANSWER:
        return "no_answer"
    if code in SIP_INVALID:
        return "invalid_number"
    return "failed"


@dataclass
class CallSpec:
    """One call, as the worker needs it: who, from which trunk, what to say, where to report."""

    attempt_id: str
    campaign: str
    phone: str
    instructions: str
    opening: str
    report_url: str
    sip_trunk_id: str = ""
    caller_id: str = ""
    transfer_to: str = ""
    lead_timezone: str = ""
    voice: str = "Leda"
    model: str = ""
    temperature: float = 0.2
    max_call_duration: float = 300.0
    ring_timeout: float = 30.0
    dispositions: list[str] = field(default_factory=list)
    voicemail: str | None = None  # the message to leave; None: hang up on a machine
    recording: bool = False
    noise_cancellation: bool = True
    variant: str | None = None
    revision: str = ""
    version: int = SPEC_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> CallSpec:
        return cls(**_checked(cls, _object(text, "call spec")))


@dataclass
class TranscriptLine:
    role: str  # "agent" or "lead"
    text: str
    at: float | None = None  # epoch seconds


@dataclass
class CallReport:
    """How one call ended, from the worker that carried it. Times are epoch seconds (UTC)."""

    attempt_id: str
    status: str
    disposition: str | None = None
    callback_at: str | None = None  # ISO 8601 with offset, in the lead's timezone
    notes: str = ""
    dialed_at: float | None = None
    answered_at: float | None = None
    ended_at: float | None = None
    first_audio_latency_s: float | None = None  # answer -> first agent audio
    sip_status: int | None = None
    error: str | None = None
    transcript: list[TranscriptLine] = field(default_factory=list)
    usage: dict[str, Any] = field(default_factory=dict)
    room: str = ""
    version: int = SPEC_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> CallReport:
        data = _checked(cls, _object(text, "call report"))
        if data["status"] not in FINAL_STATUSES:
            raise SpecError(f"status: {data['status']!r} is not one of {', '.join(FINAL_STATUSES)}")
        lines = data.get("transcript") or []
        if not isinstance(lines, list):
            raise SpecError("transcript: expected a list")
        transcript = []
        for i, line in enumerate(lines):
            if not isinstance(line, dict):
                raise SpecError(f"transcript[{i}]: expected an object")
            transcript.append(TranscriptLine(**_checked(TranscriptLine, line, f"transcript[{i}]")))
        data["transcript"] = transcript
        return cls(**data)


def _object(text: str | bytes, what: str) -> dict:
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SpecError(f"{what} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise SpecError(f"{what} must be a JSON object")
    if data.get("version", SPEC_VERSION) != SPEC_VERSION:
        raise SpecError(
            f"{what} version {data.get('version')!r}; this dialer speaks {SPEC_VERSION}"
        )
    return data


_TYPES = {"str": str, "int": int, "float": (int, float), "bool": bool, "list[str]": list}


def _checked(cls, data: dict, prefix: str = "") -> dict:
    """`data` restricted to `cls`'s fields, with required ones present and scalars type-checked."""
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise SpecError(f"{prefix}{'.' if prefix else ''}{unknown[0]}: unknown field")
    for name, f in known.items():
        where = f"{prefix}.{name}" if prefix else name
        if name not in data:
            if f.default is MISSING and f.default_factory is MISSING:
                raise SpecError(f"{where}: missing")
            continue
        value, kind = data[name], str(f.type).replace(" ", "")
        base = kind.split("|")[0]
        nullable = "None" in kind
        if value is None and nullable:
            continue
        expected = _TYPES.get(base)
        if expected and (
            not isinstance(value, expected) or (base != "bool" and isinstance(value, bool))
        ):
            raise SpecError(f"{where}: expected {base}, got {type(value).__name__}")
    return dict(data)


def sign_report(body: bytes, api_key: str, api_secret: str, ttl_s: float = 600) -> str:
    """The Authorization header value for a report body (LiveKit's webhook signing scheme)."""
    import datetime

    from livekit import api

    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    token = (
        api.AccessToken(api_key, api_secret)
        .with_sha256(digest)
        .with_ttl(datetime.timedelta(seconds=ttl_s))
    )
    return "Bearer " + token.to_jwt()


def verify_report(body: bytes, authorization: str | None, api_key: str, api_secret: str) -> None:
    """Raise SpecError unless `authorization` is a valid, unexpired token for exactly `body`."""
    from livekit import api

    if not authorization:
        raise SpecError("missing Authorization header")
    token = authorization.removeprefix("Bearer ").strip()
    try:
        claims = api.TokenVerifier(api_key, api_secret).verify(token)
    except Exception as exc:  # jwt raises many types: expired, bad signature, wrong issuer
        raise SpecError(f"bad signature: {exc}") from None
    if not claims.sha256:
        raise SpecError("token carries no body hash")
    try:
        expected = base64.b64decode(claims.sha256)
    except ValueError:
        raise SpecError("token's body hash is not base64") from None
    if hashlib.sha256(body).digest() != expected:
        raise SpecError("body does not match its signature")
