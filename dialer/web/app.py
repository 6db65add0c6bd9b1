"""The FastAPI app of `dialer serve`: the routes, one JSON error shape, the run log it owns.

`create_app(config)` builds an app that opens the run log once, in its lifespan, and keeps it
(`app.state.server`, a `ServerState`) until it stops. Every route but `GET /api/health` needs a
bearer token (`dialer.web.auth`). Errors are `{"ok": false, "error": "...", ...}` with the
status the error kind calls for; nothing personal (numbers, names) goes into log text.
"""

# `from __future__ import annotations` is safe here only because no route in this module
# annotates a parameter FastAPI must resolve (the route modules leave it out).
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from dialer import __version__
from dialer.errors import DialerError
from dialer.web.config import WebConfig
from dialer.web.errors import body_of, status_of
from dialer.web.ratelimit import retry_after_header
from dialer.web.state import ServerState

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger("dialer.web")
_MULTIPART_SLACK = 64 * 1024  # form boundaries and headers around the file itself

DESCRIPTION = """\
The HTTP API of dialer: campaigns as code, lead files, runs, attempts,
transcripts, reports and the do-not-call list. The legacy Agentic Dialer paths
(`/api/agentic/csv/...`, `/api/agentic/campaigns/legacy/...`) answer as they did.

Every route except `GET /api/health` needs `Authorization: Bearer TOKEN`, a token from
`dialer token create --role viewer|operator|admin`: viewer reads, operator also dials and stops
runs, admin also edits campaigns, lead files and the do-not-call list. Errors are
`{"ok": false, "error": "...", "hint"?: "...", "errors"?: [...]}`.
"""


def create_app(config: WebConfig) -> FastAPI:
    """The app for one project; it holds the run log from startup to shutdown."""
    from contextlib import asynccontextmanager

    from fastapi import Depends, FastAPI

    from dialer.web import api_calls, api_campaigns, api_csv, api_dnc, api_runs
    from dialer.web.api_common import errors
    from dialer.web.auth import require

    state = ServerState(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await state.startup()
        try:
            yield
        finally:
            await state.shutdown()

    app = FastAPI(
        title="dialer",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.server = state
    _install_error_handlers(app, str(config.root))
    _install_upload_guard(app, state)
    _install_security_headers(app)

    @app.get("/", include_in_schema=False)
    async def dashboard():
        """The dashboard: one static page; it asks for a token and calls the API with it."""
        from fastapi.responses import HTMLResponse

        return HTMLResponse(
            _dashboard_html(), headers={"Cache-Control": "no-cache", **DASHBOARD_CSP}
        )

    @app.get("/api/health", tags=["server"])
    async def health():
        """Liveness, without a token: `{"ok": true, "version", "run_log": "open" | "closed"}`."""
        return {
            "ok": True,
            "version": __version__,
            "run_log": "open" if state.con is not None else "closed",
        }

    @app.get("/api/auth/whoami", tags=["server"], responses=errors())
    async def whoami(claims=Depends(require("viewer"))):  # unannotated: see the note at the top
        """What the caller's token says: `{"ok": true, "role", "subject", "issued_at",
        "expires_at"}` (epoch seconds)."""
        return {"ok": True, **claims.to_dict()}

    for module in (api_csv, api_campaigns, api_runs, api_dnc, api_calls):
        app.include_router(module.router(state))
    return app


def _install_error_handlers(app: FastAPI, root: str) -> None:
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException

    @app.exception_handler(DialerError)
    async def dialer_error(request, exc: DialerError):
        return JSONResponse(body_of(exc, root), status_code=status_of(exc))

    @app.exception_handler(HTTPException)
    async def http_error(request, exc: HTTPException):
        return JSONResponse(
            {"ok": False, "error": str(exc.detail)},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request, exc: RequestValidationError):
        problems = [
            {
                "field": ".".join(str(p) for p in e.get("loc", ())),
                "message": e.get("msg", ""),
            }
            for e in exc.errors()
        ]
        first = problems[0] if problems else {"field": "", "message": "invalid request"}
        return JSONResponse(
            {
                "ok": False,
                "error": f"invalid request: {first['field']}: {first['message']}",
                "errors": problems,
            },
            status_code=422,
        )

    @app.exception_handler(Exception)
    async def unexpected(request, exc: Exception):
        # the type only: exception text can quote a phone number from a query or a row
        log.error(
            "request failed: %s %s: %s",
            request.method,
            request.url.path,
            type(exc).__name__,
            exc_info=exc,
        )
        return JSONResponse({"ok": False, "error": "internal error"}, status_code=500)


# The dashboard is one self-contained page: its own inline script and style, fetches to this
# server only, and the report (inlined charts) in a sandboxed frame; nothing from elsewhere.
DASHBOARD_CSP = {
    "Content-Security-Policy": "; ".join(
        [
            "default-src 'none'",
            "script-src 'self' 'unsafe-inline'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "frame-src 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )
}

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",  # a CSV or JSON body is never run as a script
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def _install_security_headers(app: FastAPI) -> None:
    """Headers every response carries (the dashboard adds its Content-Security-Policy)."""

    @app.middleware("http")
    async def security_headers(request, call_next):
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response


def _install_upload_guard(app: FastAPI, state: ServerState) -> None:
    """Rate limit and size check of CSV uploads before the body is read."""
    from fastapi.responses import JSONResponse

    from dialer.web.api_csv import UPLOAD_PATH

    limit = state.config.max_upload_bytes

    @app.middleware("http")
    async def upload_guard(request, call_next):
        if request.method == "POST" and request.url.path == UPLOAD_PATH:
            client = request.client.host if request.client else "unknown"
            wait = state.upload_limiter.check(client)
            if wait:
                return JSONResponse(
                    {
                        "ok": False,
                        "error": f"too many uploads: at most {state.upload_limiter.per_minute} "
                        "a minute",
                        "retry_after": int(retry_after_header(wait)),
                    },
                    status_code=429,
                    headers={"Retry-After": retry_after_header(wait)},
                )
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit + _MULTIPART_SLACK:
                return JSONResponse(
                    {
                        "ok": False,
                        "error": f"file is larger than the {limit // (1024 * 1024)} MB limit",
                        "limit_bytes": limit,
                    },
                    status_code=413,
                )
        return await call_next(request)


def _dashboard_html() -> str:
    from importlib.resources import files

    return files("dialer.web").joinpath("static/index.html").read_text(encoding="utf-8")
