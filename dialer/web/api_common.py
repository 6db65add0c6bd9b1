"""What the route modules share: the error body and the statuses each route documents."""

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
