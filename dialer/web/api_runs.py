"""Routes that read the run log: runs, attempts, transcripts and campaign reports."""

# No `from __future__ import annotations`: FastAPI reads these handlers' annotations at runtime.

from dialer.report import build_report, list_runs, report_html
from dialer.web.api_common import MAX_ROWS, errors, text_body
from dialer.web.auth import require
from dialer.web.campaigns import campaign_path, check_stem
from dialer.web.errors import NotFound
from dialer.web.history import (
    ATTEMPTS_LIMIT,
    ATTEMPTS_MAX,
    campaign_names,
    get_attempt,
    get_run,
    list_attempts,
    transcript,
)
from dialer.web.state import ServerState


def router(state: ServerState):
    """The run log read routes of one app (viewer)."""
    from typing import Literal

    from fastapi import APIRouter, Depends, Query
    from fastapi.responses import HTMLResponse

    api = APIRouter(tags=["runs and reports"], dependencies=[Depends(require("viewer"))])

    @api.get("/api/runs", responses=errors())
    async def runs(
        campaign: str | None = Query(None, description="Only this campaign (its name)."),
        limit: int = Query(50, ge=1, le=1000),
    ):
        """Run history, newest first: `{"ok": true, "runs": [{"run_id", "campaign", "status",
        "backend", "revision", "started_at", "ended_at", "dials", "connected"}]}`."""
        return {"ok": True, "runs": await state.query(lambda cur: list_runs(cur, campaign, limit))}

    @api.get("/api/runs/{run_id}", responses=errors(404))
    async def run(run_id: str):
        """One run: `{"ok": true, "run": {"run_id", "campaign", "campaign_path", "revision",
        "git_commit", "backend", "status", "started_at", "ended_at", "pid", "host", "options",
        "statuses", "dispositions", "dials"}}`."""
        found = await state.query(lambda cur: get_run(cur, run_id))
        if found is None:
            raise NotFound(f"no run {run_id!r}", hint="GET /api/runs lists them")
        return {"ok": True, "run": found}

    @api.get("/api/attempts", responses=errors())
    async def attempts(
        run: str | None = Query(None, description="Only this run id."),
        campaign: str | None = Query(None, description="Only this campaign (its name)."),
        status: str | None = Query(None, description="Only this status, e.g. completed."),
        limit: int = Query(ATTEMPTS_LIMIT, ge=0, le=ATTEMPTS_MAX),
        offset: int = Query(0, ge=0, le=MAX_ROWS),
    ):
        """Dials, newest first: `{"ok": true, "total", "limit", "offset", "attempts":
        [{"attempt_id", "run_id", "campaign", "lead_row", "phone", "lead_timezone",
        "attempt_no", "status", "disposition", "variant", "revision", "scheduled_at",
        "dialed_at", "answered_at", "ended_at", "duration_s", "sip_status", "callback_at",
        "error", "has_transcript"}]}`."""
        found = await state.query(
            lambda cur: list_attempts(cur, run, campaign, status, limit, offset)
        )
        return {"ok": True, **found}

    @api.get("/api/attempts/{attempt_id}/transcript", responses=errors(404))
    async def attempt_transcript(attempt_id: str):
        """An attempt and what was said: `{"ok": true, "attempt": {...}, "lines": [{"seq",
        "at", "role" (agent | user | tool), "text"}]}` (no lines for an unanswered dial)."""

        def read(cur):
            attempt = get_attempt(cur, attempt_id)
            if attempt is None:
                raise NotFound(f"no attempt {attempt_id!r}")
            return {"ok": True, "attempt": attempt, "lines": transcript(cur, attempt_id)}

        return await state.query(read)

    @api.get(
        "/api/reports/{campaign}",
        responses={**errors(404), **text_body("JSON, or a page with format=html", "text/html")},
    )
    async def report(
        campaign: str,
        run: str | None = Query(None, description="Only this run id."),
        format: Literal["json", "html"] = Query("json", description="json, or an HTML page."),
    ):
        """`dialer report` for a campaign (its file stem, or a campaign name the run log knows):
        answer, voicemail, talk time, completion and conversion, by run, revision and variant,
        with lead progress when the campaign file loads. `{"ok": true, "report": {"campaign",
        "run_id", "totals", "dispositions", "by_run", "by_revision", "by_variant", "progress",
        "series"}}`; `format=html` is the self-contained page with charts."""

        def build(cur):
            name, conversions, progress = _campaign_facts(state, cur, campaign)
            return build_report(cur, name, run, conversions, progress)

        result = await state.query(build)
        if format == "html":
            return HTMLResponse(await state.run(report_html, result))
        return {"ok": True, "report": result.to_dict()}

    return api


def _campaign_facts(state: ServerState, cur, campaign: str):
    """(name, conversions, progress) of a campaign given by file stem or by logged name."""
    from dialer.campaign.load import load_campaign
    from dialer.errors import DialerError
    from dialer.plan import plan_campaign

    path = None
    try:
        path = campaign_path(state.config.campaigns_dir, check_stem(campaign))
    except DialerError:
        pass  # not a file stem: maybe a campaign name
    if path is not None:
        try:
            loaded = load_campaign(path)
        except DialerError:
            loaded = None
        if loaded is not None:
            try:
                progress = plan_campaign(
                    loaded,
                    None,
                    None,
                    show=0,
                    con=cur,
                    log_catalog=state.catalog(cur),
                    narrow=True,
                ).counts
            except DialerError:  # the lead file is gone or broken: the log still reports
                progress = None
            return loaded.campaign.name, loaded.campaign.conversions, progress
    if campaign in campaign_names(cur):
        return campaign, None, None
    raise NotFound(
        f"no campaign {campaign!r}: neither a campaign file nor a campaign in the run log",
        hint="use the file stem (campaigns/q4.yaml is q4)",
    )
