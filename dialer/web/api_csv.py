"""Routes for lead CSV files: the legacy `/api/agentic/csv/...` paths, unchanged."""

# No `from __future__ import annotations`: FastAPI reads these handlers' annotations at runtime.

from dialer.web.api_common import errors, text_body
from dialer.web.auth import require
from dialer.web.csvexport import to_csv
from dialer.web.csvfiles import (
    PREVIEW_LIMIT,
    delete_file,
    list_files,
    preview,
    read_rows,
    save_upload,
    select_file,
)
from dialer.web.state import ServerState

UPLOAD_PATH = "/api/agentic/csv/upload"


def router(state: ServerState):
    """The lead file routes of one app (viewer reads, admin changes)."""
    from typing import Literal

    from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
    from fastapi.responses import Response

    config = state.config
    api = APIRouter(tags=["lead files (legacy paths)"])
    viewer, admin = [Depends(require("viewer"))], [Depends(require("admin"))]

    def csv_response(text: str, filename: str):
        return Response(
            text,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    @api.post(UPLOAD_PATH, dependencies=admin, responses=errors(400, 413, 429))
    async def upload_csv(
        file: UploadFile = File(description="The lead CSV (10 MB at most)."),
        default_region: str = Form(
            "US", description="Country for numbers written without +country code."
        ),
    ):
        """Upload a lead CSV into the leads folder (admin).

        Checked before it is kept: it must parse as a campaign reads it and have a phone column
        (`phone` or an alias such as `phone_number`, `mobile`, `tel`); invalid and duplicate
        numbers are reported (up to 50 rows each, all counted), not refused. The name must be a
        plain visible `.csv` name. 10 uploads a minute per client (429 with Retry-After), 10 MB
        (413). A file of the same name is replaced atomically.

        `{"ok": true, "name", "remote", "replaced", "size", "rows", "headers", "phone_column",
        "valid_numbers", "invalid": {"count", "rows": [{"row", "value"}]},
        "duplicates": {"count", "rows": [{"row", "phone", "first_row"}]}}`
        (rows are 1-based data rows; `remote` is the legacy field, equal to `name`).
        """
        return await state.run(
            save_upload,
            config.leads_dir,
            file.filename or "",
            file.file,
            config.max_upload_bytes,
            default_region,
        )

    @api.get("/api/agentic/csv/list", dependencies=viewer, responses=errors())
    async def list_csv():
        """The lead CSVs: `{"ok": true, "active": name|null, "files": [{"name", "size", "mtime",
        "active"}]}` (`mtime` in epoch seconds)."""
        return await state.run(list_files, config.leads_dir, config.legacy_csv)

    @api.get(
        "/api/agentic/csv/preview",
        dependencies=viewer,
        responses={**errors(400, 404), **text_body("JSON, or CSV with format=csv", "text/csv")},
    )
    async def preview_csv(
        name: str = Query(description="File name, e.g. prospects.csv."),
        limit: int = Query(PREVIEW_LIMIT, ge=0, le=1000, description="Rows to show."),
        format: Literal["json", "csv"] = Query("json", description="json, or csv to download."),
    ):
        """The first rows of a lead CSV: `{"ok": true, "name", "headers": [...], "rows":
        [{header: value}], "total"}`; with `format=csv` the same rows as CSV, cells that a
        spreadsheet would run as formulas (`= + - @`) prefixed with `'`."""
        result = await state.run(preview, config.leads_dir, name, limit)
        if format == "csv":
            rows = ([r[h] for h in result["headers"]] for r in result["rows"])
            return csv_response(to_csv(result["headers"], rows), result["name"])
        return result

    @api.get(
        "/api/agentic/csv/download/{name}",
        dependencies=viewer,
        response_class=Response,
        responses={**errors(400, 404), **text_body("The lead file as CSV", "text/csv")},
    )
    async def download_csv(name: str):
        """A whole lead CSV, formula-like cells (`= + - @`) prefixed with `'`."""
        headers, rows = await state.run(read_rows, config.leads_dir, name)
        return csv_response(to_csv(headers, rows), name)

    @api.post("/api/agentic/csv/select", dependencies=admin, responses=errors(400, 404))
    async def select_csv(name: str = Form(description="File name to make active.")):
        """Make a lead CSV the active one (kept in `leads/.active`): `{"ok": true, "active"}`.
        Campaigns created through the legacy API read the active file."""
        return {"ok": True, "active": await state.run(select_file, config.leads_dir, name)}

    @api.delete("/api/agentic/csv/{name}", dependencies=admin, responses=errors(400, 404))
    async def delete_csv(name: str):
        """Delete a lead CSV (admin): `{"ok": true, "deleted", "was_active",
        "supabase_error": null}` (the last is the legacy field, always null)."""
        was_active = await state.run(delete_file, config.leads_dir, name)
        return {"ok": True, "deleted": name, "was_active": was_active, "supabase_error": None}

    return api
