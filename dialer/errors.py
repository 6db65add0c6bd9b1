"""The one exception family users see: errors that carry a location and a hint."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """Where a problem is: a file, and the line and column in it when known (1-based)."""

    path: str | None = None
    line: int | None = None
    col: int | None = None

    def __str__(self) -> str:
        parts = [self.path or "<input>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.col is not None:
                parts.append(str(self.col))
        return ":".join(parts)


class DialerError(Exception):
    """A failure the user can act on: printed as `path:line:col: message`, exit code 1."""

    def __init__(
        self,
        message: str,
        location: Location | None = None,
        hint: str | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.location = location
        self.hint = hint
        self.field = field

    def format(self) -> str:
        text = self.message
        if self.field:
            text = f"{self.field}: {text}"
        if self.location is not None:
            text = f"{self.location}: {text}"
        if self.hint:
            text = f"{text} (hint: {self.hint})"
        return text

    def to_dict(self) -> dict:
        loc = self.location or Location()
        return {
            "path": loc.path,
            "line": loc.line,
            "col": loc.col,
            "field": self.field,
            "message": self.message,
            "hint": self.hint,
        }

    def __str__(self) -> str:
        return self.format()


class CampaignInvalid(DialerError):
    """A campaign file has one or more errors; all of them are in `errors`."""

    def __init__(self, errors: list[DialerError]) -> None:
        first = errors[0] if errors else DialerError("invalid campaign")
        super().__init__(first.message, first.location, first.hint, first.field)
        self.errors = errors

    def format(self) -> str:
        return "\n".join(e.format() for e in self.errors)


class LeadSourceError(DialerError):
    """A lead file or suppression list can not be read as leads."""


class RunLogLocked(DialerError):
    """Another process holds the run log (DuckDB allows one writer)."""
