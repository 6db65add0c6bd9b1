"""Routes for campaign files: the legacy list/create/update, and the full-file campaign API."""

# No `from __future__ import annotations`: FastAPI reads these handlers' annotations at runtime.

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator

from dialer.campaign.load import load_campaign
from dialer.errors import CampaignInvalid, DialerError
from dialer.web.api_common import MAX_ROWS, errors
from dialer.web.auth import require
from dialer.web.campaigns import (
    MAX_CAMPAIGN_BYTES,
    existing_campaign,
    list_campaigns,
    read_campaign,
    write_campaign,
)
from dialer.web.errors import BadInput, Invalid, TooLarge, error_dict
from dialer.web.legacy import legacy_create, legacy_list, legacy_update
from dialer.web.prospects import MAX_PAGE_SIZE, PAGE_SIZE, lead_page, plan_time
from dialer.web.state import ServerState

_YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")
# A YAML body is a mapping (the campaign; anything else is a 422), a text/plain one its text.
_CAMPAIGN_BODY = {
    **{
        t: {"schema": {"type": "object", "description": "The campaign (dialer schema prints it)."}}
        for t in _YAML_TYPES
    },
    "text/plain": {"schema": {"type": "string"}},
}


def load_or_invalid(path, root):
    """The loaded campaign, or Invalid (422) carrying every error of the file."""
    try:
        return load_campaign(path)
    except DialerError as exc:
        found = exc.errors if isinstance(exc, CampaignInvalid) else [exc]
        raise Invalid(
            f"campaign {path.stem!r} is invalid",
            errors=[error_dict(e, str(root)) for e in found],
        ) from None


def router(state: ServerState):
    """The campaign routes of one app (viewer reads, admin writes)."""
    from typing import Literal

    from fastapi import APIRouter, Depends, Form, Query, Request
    from fastapi.responses import JSONResponse

    config = state.config
    root, campaigns_dir = config.root, config.campaigns_dir
    api = APIRouter()
    viewer, admin = [Depends(require("viewer"))], [Depends(require("admin"))]
    legacy = ["campaigns (legacy paths)"]

    @api.get(
        "/api/agentic/campaigns/legacy/list", tags=legacy, dependencies=viewer, responses=errors()
    )
    async def legacy_list_campaigns():
        """`{"ok": true, "builtin": [...], "custom": [...]}`, items `{"name", "module", "builtin",
        "key", "file"}`. `module` is the file stem; custom campaigns are the ones created through
        the API (listed in `campaigns/.custom`), built-in ones every other campaign file."""
        return await state.run(legacy_list, campaigns_dir)

    @api.post(
        "/api/agentic/campaigns/legacy/create",
        tags=legacy,
        dependencies=admin,
        responses=errors(400, 404, 409),
    )
    async def legacy_create_campaign(
        name: str = Form(description="Campaign name."),
        agent_text: str = Form(description="Agent instructions (legacy [Placeholders] work)."),
        session_text: str = Form(description="The session script: the agent's opening."),
        module: str | None = Form(None, description="File stem; default: made from name."),
        leads: str | None = Form(None, description="Lead CSV to call; default: the active one."),
    ):
        """Write `campaigns/<module>.yaml` (admin): `agent_text` becomes `agent.instructions`,
        `session_text` `agent.opening`; leads are the active lead CSV (or `leads`). Validated as
        `dialer validate` does first: 422 with every error and nothing written when invalid,
        409 when the campaign exists. `{"ok": true, "name", "module", "file", "campaign",
        "created", "revision", "leads_selected", "supabase_error": null}`."""
        return await state.run(
            legacy_create,
            campaigns_dir,
            config.leads_dir,
            root,
            name,
            agent_text,
            session_text,
            module,
            leads,
            config.legacy_csv,
        )

    @api.post(
        "/api/agentic/campaigns/legacy/update",
        tags=legacy,
        dependencies=admin,
        responses=errors(400, 404, 409),
    )
    async def legacy_update_campaign(
        module: str | None = Form(None, description="File stem of the campaign to change."),
        name: str | None = Form(None, description="New name (or, without module, which one)."),
        agent_text: str | None = Form(None, description="New agent instructions."),
        session_text: str | None = Form(None, description="New opening (session script)."),
    ):
        """Change a custom campaign's name, instructions or opening (admin); fields left out
        stay. Validated first (422, nothing written); 409 for a built-in campaign (edit its file
        or PUT /api/campaigns/{name}). Same response as create."""
        return await state.run(
            legacy_update, campaigns_dir, root, module, name, agent_text, session_text
        )

    tags = ["campaigns"]

    @api.get("/api/campaigns", tags=tags, dependencies=viewer, responses=errors())
    async def campaigns():
        """Every campaign file, validated as `dialer validate` does: `{"ok": true, "campaigns":
        [{"name" (file stem), "file", "campaign" (its name), "custom", "valid", "revision",
        "leads_selected", "errors": [{"path", "line", "col", "field", "message", "hint",
        "text"}]}]}`."""
        return {"ok": True, "campaigns": await state.run(list_campaigns, campaigns_dir, root)}

    @api.get("/api/campaigns/{name}", tags=tags, dependencies=viewer, responses=errors(400, 404))
    async def campaign(name: str):
        """One campaign file: what `GET /api/campaigns` says of it, plus `text` (the YAML) and
        `parsed` (the YAML as data, `${ENV}` references left as written)."""
        return await state.run(read_campaign, campaigns_dir, name, root)

    @api.put(
        "/api/campaigns/{name}",
        tags=tags,
        dependencies=admin,
        responses={
            **errors(400, 413),
            201: {
                "description": "Created (the body is as for 200)",
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "description": "The whole campaign file (YAML).",
                "content": _CAMPAIGN_BODY,
            }
        },
    )
    async def put_campaign(name: str, request: Request):
        """Create or replace `campaigns/<name>.yaml` with the YAML body (admin), validated
        first: 422 with every error and nothing written when invalid. 201 when created, 200 when
        replaced: `{"ok": true, "name", "file", "campaign", "created", "revision",
        "leads_selected"}`."""
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_CAMPAIGN_BYTES:
            raise TooLarge(f"campaign file is larger than {MAX_CAMPAIGN_BYTES // 1024} KB")
        body = await request.body()
        if len(body) > MAX_CAMPAIGN_BYTES:
            raise TooLarge(f"campaign file is larger than {MAX_CAMPAIGN_BYTES // 1024} KB")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise BadInput("campaign file must be UTF-8 text") from None
        result = await state.run(write_campaign, campaigns_dir, name, text, root)
        return JSONResponse(result, status_code=201 if result["created"] else 200)

    @api.get(
        "/api/campaigns/{name}/leads", tags=tags, dependencies=viewer, responses=errors(400, 404)
    )
    async def campaign_leads(
        name: str,
        page: int = Query(1, ge=1, le=MAX_ROWS, description="1-based page."),
        size: int = Query(PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="Leads per page."),
        at: Annotated[
            datetime | None,
            Query(description="Plan as of this time (default: now; no zone means UTC)."),
            AfterValidator(plan_time),
        ] = None,
        sort: Literal["row", "order"] = Query(
            "row", description="row: lead file order; order: the campaign's dial order."
        ),
        only_callable: bool = Query(False, alias="callable", description="Only callable leads."),
    ):
        """A page of the campaign's leads (rows its `where` matches) with their plan status, as
        `dialer plan` computes it from the lead file and the run log: `{"ok": true, "campaign",
        "revision", "at", "page", "size", "total", "pages", "counts", "callable", "leads":
        [{"row", "order", "phone", "name", "state", "reason", "callable", "attempts",
        "next_at", "next_local", "timezones", "fields"}]}`. `state` is callable_now,
        outside_window or waiting_retry for a callable lead, else why not (done, exhausted,
        suppressed, duplicate, invalid_phone, no_window, ...)."""
        loaded = load_or_invalid(existing_campaign(campaigns_dir, name), root)
        with state.cursor() as cur:
            return lead_page(loaded, cur, state.catalog(cur), page, size, at, sort, only_callable)

    return api
