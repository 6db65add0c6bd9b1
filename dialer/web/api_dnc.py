"""Routes for the do-not-call list (the run log's `dnc` table): list, add, remove."""

# No `from __future__ import annotations`: FastAPI reads these handlers' annotations at runtime.

import threading

from pydantic import BaseModel, Field

from dialer.store.dnc import add_numbers, list_numbers, remove_numbers
from dialer.web.api_common import MAX_ROWS, errors, text_body
from dialer.web.auth import require
from dialer.web.csvexport import to_csv
from dialer.web.errors import BadInput, Invalid, NotFound
from dialer.web.state import ServerState

_COLUMNS = ("phone", "added_at", "source", "reason", "campaign")


class DncAdd(BaseModel):
    """Numbers to add to the do-not-call list."""

    numbers: list[str] = Field(
        min_length=1, max_length=10_000, description="Phone numbers, any common format."
    )
    reason: str | None = Field(None, max_length=500, description="Why (kept in the run log).")
    region: str = Field(
        "US", pattern=r"^[A-Za-z]{2}$", description="Country for numbers without +country code."
    )


def router(state: ServerState):
    """The do-not-call routes of one app (viewer lists, admin changes)."""
    from typing import Literal

    from fastapi import APIRouter, Depends, Query
    from fastapi.responses import Response

    api = APIRouter(tags=["do-not-call"])
    viewer, admin = [Depends(require("viewer"))], [Depends(require("admin"))]
    # add_numbers reads then inserts: two API writes of one number must not interleave
    write = threading.Lock()

    @api.get(
        "/api/dnc",
        dependencies=viewer,
        responses={**errors(), **text_body("JSON, or CSV with format=csv", "text/csv")},
    )
    async def dnc_list(
        limit: int | None = Query(
            None, ge=1, le=MAX_ROWS, description="At most this many, newest first."
        ),
        format: Literal["json", "csv"] = Query("json", description="json, or csv to download."),
    ):
        """The do-not-call numbers, newest first: `{"ok": true, "count", "numbers": [{"phone",
        "added_at", "source", "reason", "campaign"}]}`; `format=csv` downloads them, cells a
        spreadsheet would run as formulas (`= + - @`, so E.164 numbers too) prefixed with `'`."""
        rows = await state.query(lambda cur: list_numbers(cur, limit))
        if format == "csv":
            return Response(
                to_csv(_COLUMNS, ([r[c] for c in _COLUMNS] for r in rows)),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": 'attachment; filename="dnc.csv"'},
            )
        return {"ok": True, "count": len(rows), "numbers": rows}

    # 400: a body that is not UTF-8 JSON at all (FastAPI refuses it before validation)
    @api.post("/api/dnc", dependencies=admin, responses=errors(400))
    async def dnc_add(body: DncAdd):
        """Add numbers (admin), normalised to E.164: `{"ok": true, "added", "already",
        "invalid": [...]}`; 422 when none of them is a valid number."""

        def add(cur):
            with write:
                return add_numbers(cur, body.numbers, body.region.upper(), "api", body.reason)

        change = await state.query(add)
        if change.invalid and not (change.added or change.already):
            raise Invalid("no valid phone number given", invalid=change.invalid)
        return {
            "ok": True,
            "added": change.added,
            "already": change.already,
            "invalid": change.invalid,
        }

    @api.delete("/api/dnc/{phone}", dependencies=admin, responses=errors(400, 404))
    async def dnc_remove(
        phone: str,
        region: str = Query("US", pattern=r"^[A-Za-z]{2}$", description="For national numbers."),
    ):
        """Remove a number (admin; URL-encode the `+` as %2B or write it as digits with the
        region): `{"ok": true, "removed": 1}`; 404 when it is not on the list."""

        def remove(cur):
            with write:
                return remove_numbers(cur, [phone], region.upper())

        change = await state.query(remove)
        if change.invalid:
            raise BadInput(f"not a valid phone number: {phone!r}")
        if not change.removed:
            raise NotFound("that number is not on the do-not-call list")
        return {"ok": True, "removed": change.removed}

    return api
