"""What the route modules share: the error body and the responses each route documents."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    """Every refusal: `{"ok": false, "error": "...", "hint"?: "...", "errors"?: [...]}`."""

    ok: bool = Field(False, description="Always false.")
    error: str = Field(description="What went wrong, one line.")
    hint: str | None = Field(None, description="What to do about it, when known.")
    errors: list[dict[str, Any]] | None = Field(
        None, description="Every validation error (campaign writes, invalid requests)."
    )


# The largest row count, offset or page number a query parameter takes: more rows than any table
# here holds, and far inside the 64-bit LIMIT/OFFSET of DuckDB (a bigger number was a 500).
MAX_ROWS = 1_000_000_000

_DESCRIPTIONS = {
    400: "Bad input (a file name, a number, a field)",
    401: "No bearer token, or one that does not verify (expired, wrong secret)",
    403: "The token's role is too low for this",
    404: "Not found",
    409: "Conflicts with what exists",
    413: "Too large",
    422: "Does not validate; `errors` lists every problem",
    429: "Too many requests from this client; see Retry-After",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for a protected route: 401, 403, 422 and `codes`."""
    return {
        code: {"model": ErrorBody, "description": _DESCRIPTIONS[code]}
        for code in sorted({401, 403, 422, *codes})
    }


def text_body(description: str, *media_types: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for a 200 whose body is text in one of `media_types` (a CSV download,
    an HTML page). A route that answers only in these also sets `response_class=Response`, so
    that its 200 does not claim JSON as well."""
    return {
        200: {
            "description": description,
            "content": {t: {"schema": {"type": "string"}} for t in media_types},
        }
    }


_EVENT = {
    "type": "object",
    "properties": {
        "data": {"type": "string", "contentMediaType": "application/json"},
        "event": {"type": "string"},
        "id": {"type": "string"},
        "retry": {"type": "integer", "minimum": 0},
    },
}


def event_stream(description: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for a 200 that is a stream of server-sent events whose `data` is
    JSON, described one event at a time (`itemSchema`) as FastAPI describes its own streams.
    The route also sets `response_class=Response`: the stream is not JSON."""
    return {
        200: {"description": description, "content": {"text/event-stream": {"itemSchema": _EVENT}}}
    }
