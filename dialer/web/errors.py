"""The kinds of refusal the API reports, each a DialerError the app maps to one HTTP status."""

from __future__ import annotations

from typing import Any

from dialer.errors import CampaignInvalid, DialerError, LeadSourceError, Location, RunLogLocked


class ApiError(DialerError):
    """A refusal with extra JSON fields for the response (`errors`, `retry_after`, ...)."""

    status = 400

    def __init__(
        self,
        message: str,
        location: Location | None = None,
        hint: str | None = None,
        field: str | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message, location, hint, field)
        self.extra = extra


class BadInput(ApiError):
    """The request names something unacceptable (a bad file name, a file that is not CSV)."""

    status = 400


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    """The request clashes with what is there (a campaign that already exists)."""

    status = 409


class TooLarge(ApiError):
    status = 413


class Invalid(ApiError):
    """What was sent parses but does not validate; `errors` holds every problem."""

    status = 422


class TooMany(ApiError):
    status = 429


def status_of(exc: DialerError) -> int:
    """The HTTP status for a library error."""
    if isinstance(exc, ApiError):
        return exc.status
    if isinstance(exc, CampaignInvalid | LeadSourceError):
        return 422  # the campaign (or its lead file) is what needs fixing, not the request
    if isinstance(exc, RunLogLocked):
        return 503
    return 400


def body_of(exc: DialerError, root: str | None = None) -> dict[str, Any]:
    """`{"ok": false, "error": ..., "hint"?, "errors"?, ...}`; paths shown relative to `root`."""
    body: dict[str, Any] = {"ok": False, "error": _relative(_text(exc), root)}
    if exc.hint:
        body["hint"] = exc.hint
    if isinstance(exc, CampaignInvalid):
        body["error"] = "campaign is invalid"
        body["errors"] = [error_dict(e, root) for e in exc.errors]
    if isinstance(exc, ApiError):
        body.update(exc.extra)
    return body


def error_dict(exc: DialerError, root: str | None = None) -> dict[str, Any]:
    """One error as JSON (what `dialer validate --json` prints), its path relative to `root`."""
    out = exc.to_dict()
    if out.get("path"):
        out["path"] = _relative(out["path"], root)
    out["text"] = _relative(exc.format(), root)
    return out


def _text(exc: DialerError) -> str:
    """The error's one line without its hint (the hint has its own JSON field)."""
    text = f"{exc.field}: {exc.message}" if exc.field else exc.message
    return f"{exc.location}: {text}" if exc.location is not None else text


def _relative(text: str, root: str | None) -> str:
    if not root:
        return text
    return text.replace(root.rstrip("/") + "/", "")
