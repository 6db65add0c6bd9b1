"""The `dialer` command line: thin commands that call the library and print its results."""

from __future__ import annotations

import copy
import functools
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from dialer.errors import DialerError

app = typer.Typer(
    help="Run AI outbound-calling campaigns written as code.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
_state = {"debug": False}

DbOption = Annotated[
    Path | None,
    typer.Option(
        "--db",
        envvar="DIALER_DB",
        help="Run log file (DuckDB). Default runs/dialer.duckdb.",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
ReportHostOption = Annotated[
    str | None,
    typer.Option(
        "--report-host",
        envvar="DIALER_REPORT_HOST",
        help="livekit: address the report endpoint listens on. Default 127.0.0.1.",
        show_default=False,
    ),
]
ReportPortOption = Annotated[
    int | None,
    typer.Option(
        "--report-port",
        envvar="DIALER_REPORT_PORT",
        help="livekit: report endpoint port (0 picks a free one). Default 8089.",
        show_default=False,
    ),
]


CampaignOrLegacy = Annotated[
    Path | None,
    typer.Argument(
        help="Campaign file. Default: the imported legacy campaign CAMPAIGN_PROMPT_MODULE "
        "(and CAMPAIGN_AGENT_NAME / CAMPAIGN_SESSION_NAME) name.",
        show_default=False,
    ),
]


def _campaign_or_legacy(campaign: Path | None) -> Path:
    """The campaign argument, or the legacy selector's campaign (see `dialer import-legacy`)."""
    if campaign is not None:
        return campaign
    from dialer.import_legacy import legacy_campaign
    from dialer.livekit.settings import environment

    found = legacy_campaign(Path("campaigns"), environment())
    if found is None:
        raise typer.BadParameter(
            "give a campaign file (or set CAMPAIGN_PROMPT_MODULE to an imported legacy module)",
            param_hint="CAMPAIGN",
        )
    return found


def _err(text: str) -> None:
    sys.stderr.write(text.rstrip("\n") + "\n")


def handle_errors(fn):
    """Print a DialerError as `path:line:col: message`, exit 1; traceback only with --debug."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except DialerError as exc:
            if _state["debug"]:
                raise
            _err(exc.format())
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            raise typer.Exit(130) from None

    return wrapper


def _db(db: Path | None) -> Path:
    from dialer.store.connect import default_db_path

    return db or default_db_path()


def _read_log(db: Path | None, query, missing):
    """`query(con)` on the run log opened read-only; `missing` when there is no run log yet."""
    from dialer.store.connect import open_run_log

    path = _db(db)
    if not path.exists():
        return missing
    con = open_run_log(path, read_only=True)
    try:
        return query(con)
    finally:
        con.close()


def _parse_at(at: str | None) -> datetime | None:
    if at is None:
        return None
    try:
        value = datetime.fromisoformat(at)
    except ValueError:
        raise DialerError(
            f"--at: expected an ISO time like 2026-11-24T09:30-05:00, got {at!r}"
        ) from None
    if not 1900 <= value.year <= 8999:  # the calendar arithmetic of windows stays in range
        raise DialerError(f"--at: expected a time between the years 1900 and 8999, got {at!r}")
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
) -> None:
    _state["debug"] = debug


@app.command()
@handle_errors
def validate(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Campaign files or folders. Default: campaigns/.", show_default=False),
    ] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Check campaigns: schema, templates on real leads, lead SQL and columns, compliance."""
    from dialer.validate import validate_paths

    targets = paths or [Path("campaigns")]
    for t in targets:
        if not t.exists():
            raise DialerError("no such file or folder", _loc(t))
    reports = validate_paths(targets, _db(db))
    if not reports:
        raise DialerError(
            "no campaign files found", _loc(targets[0]), "campaign files end in .yaml"
        )
    if as_json:
        print(
            json.dumps(
                {"ok": all(r.ok for r in reports), "files": [r.to_dict() for r in reports]},
                indent=2,
            )
        )
    else:
        for r in reports:
            if r.ok:
                leads = (
                    f", {r.leads_selected} leads selected" if r.leads_selected is not None else ""
                )
                print(f"ok    {r.path} ({r.name}, revision {r.revision}{leads})")
            else:
                for e in r.errors:
                    _err(e.format())
        bad = sum(1 for r in reports if not r.ok)
        errors = sum(len(r.errors) for r in reports)
        if bad:
            _err(f"{errors} error(s) in {bad} of {len(reports)} file(s)")
    if not all(r.ok for r in reports):
        raise typer.Exit(1)


def _loc(path: Path):
    from dialer.errors import Location

    return Location(str(path))


@app.command()
@handle_errors
def render(
    campaign: Annotated[Path, typer.Argument(help="Campaign file.")],
    lead: Annotated[
        int | None, typer.Option("--lead", help="1-based row of the lead source.")
    ] = None,
    phone: Annotated[str | None, typer.Option("--phone", help="The lead with this number.")] = None,
    variant: Annotated[str | None, typer.Option("--variant", help="Only this variant.")] = None,
    at: Annotated[str | None, typer.Option("--at", help="Render as of this ISO time.")] = None,
    watch: Annotated[bool, typer.Option("--watch", help="Re-render on every save.")] = False,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Show the rendered instructions and opening for one lead (per variant)."""
    from dialer.console_out import print_render

    if (lead is None) == (phone is None):
        raise typer.BadParameter("give exactly one of --lead N or --phone NUMBER")
    when = _parse_at(at)

    def once() -> None:
        from dialer.campaign.load import load_campaign
        from dialer.render import render_lead

        loaded = load_campaign(campaign)
        result = render_lead(loaded, lead, phone, variant, when, _db(db))
        if as_json:
            print(json.dumps(result.to_dict(), indent=2, default=str), flush=True)
        else:
            print_render(result)

    if not watch:
        once()
        return
    from dialer.watch import watch_campaign

    watch_campaign(campaign, once, on_error=lambda e: _err(e.format()))


@app.command()
@handle_errors
def plan(
    campaign: Annotated[Path, typer.Argument(help="Campaign file.")],
    at: Annotated[str | None, typer.Option("--at", help="Plan as of this ISO time.")] = None,
    show: Annotated[int, typer.Option("--show", help="How many callable leads to list.")] = 20,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Who would be called, when (lead-local), and who is skipped and why."""
    from dialer.campaign.load import load_campaign
    from dialer.console_out import print_plan
    from dialer.plan import plan_campaign

    loaded = load_campaign(campaign)
    result = plan_campaign(loaded, _parse_at(at), _db(db), show=show, narrow=True)
    if as_json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print_plan(result)


@app.command()
@handle_errors
def diff(
    campaign: Annotated[Path, typer.Argument(help="Campaign file.")],
    rev: Annotated[str, typer.Option("--rev", help="Git revision to compare with.")] = "HEAD",
    lead: Annotated[int | None, typer.Option("--lead", help="Sample lead row for prompts.")] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """What a change to a campaign does: prompt diff, settings in words, lead-set delta."""
    from dialer.console_out import print_diff
    from dialer.diff import diff_campaign

    result = diff_campaign(campaign, rev, lead, _db(db))
    if as_json:
        print(json.dumps(result.to_dict(), indent=2, default=str))
    else:
        print_diff(result)


@app.command()
@handle_errors
def init(
    directory: Annotated[Path, typer.Argument(help="Project folder.")] = Path("."),
) -> None:
    """Start a project: campaigns/, leads/ (sample + suppression list), runs/, an example."""
    from dialer.scaffold import init_project

    for line in init_project(directory):
        print(line)


@app.command()
@handle_errors
def schema(
    tests: Annotated[
        bool, typer.Option("--tests", help="The schema of scenario files (NAME.tests.yaml).")
    ] = False,
) -> None:
    """Print the campaign file's JSON Schema (for editor completion and checks)."""
    from dialer.campaign.schema import json_schema

    print(json.dumps(json_schema(tests), indent=2))


@app.command()
@handle_errors
def run(
    campaign: CampaignOrLegacy = None,
    backend: Annotated[
        str | None,
        typer.Option("--backend", help="simulate (default) | livekit.", show_default=False),
    ] = None,
    db: DbOption = None,
    max_calls: Annotated[
        int | None, typer.Option("--max-calls", help="Stop after N dials.")
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", help="Calls in flight (overrides pacing).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Simulator seed.")] = 0,
    watch: Annotated[bool, typer.Option("--watch", help="Use saved campaign edits live.")] = False,
    virtual_time: Annotated[
        bool, typer.Option("--virtual-time", help="Simulated clock: a forecast in seconds.")
    ] = False,
    start: Annotated[str | None, typer.Option("--start", help="Virtual start (ISO).")] = None,
    days: Annotated[float | None, typer.Option("--days", help="Run for this many days.")] = None,
    speed: Annotated[float, typer.Option("--speed", help="Simulated calls N times faster.")] = 1.0,
    wait: Annotated[
        bool, typer.Option("--wait", help="Keep running until retries and windows come due.")
    ] = False,
    retry_unknown: Annotated[
        bool, typer.Option("--retry-unknown", help="Redial attempts whose result is unknown.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No live display.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a one-line JSON summary.")] = False,
    report_host: ReportHostOption = None,
    report_port: ReportPortOption = None,
    server: Annotated[
        str | None,
        typer.Option(
            "--server",
            metavar="URL",
            envvar="DIALER_SERVER",
            help="Hand the run to a running `dialer serve` (its run log and backend) and "
            "follow it here.",
            show_default=False,
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="DIALER_TOKEN",
            help="With --server: an operator token (`dialer token create`).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Dial a campaign through a backend until done, limits, or Ctrl-C; resumable.

    The legacy single-call form still works: with RUN_SINGLE_CALL=1 and LEAD_INDEX=N (1-based)
    in the environment, `dialer run` places that one call, as `dialer call --lead N` does.
    """
    from dialer.runner.run import RunOptions

    campaign = _campaign_or_legacy(campaign)
    if _env_flag("RUN_SINGLE_CALL"):
        call(campaign, lead=None, phone=None, backend=backend or "simulate", force_window=None,
             db=db, seed=seed, speed=speed, quiet=quiet, as_json=as_json,
             report_host=report_host, report_port=report_port)  # fmt: skip
        return
    if start and not virtual_time:
        raise typer.BadParameter("--start needs --virtual-time")
    if concurrency is not None and concurrency < 1:
        raise typer.BadParameter("--concurrency must be at least 1")
    if server:
        local_only = {
            "--backend": backend is not None,
            "--watch": watch,
            "--virtual-time": virtual_time,
            "--days": days is not None,
            "--speed": speed != 1.0,
            "--seed": seed != 0,
        }
        given = [flag for flag, on in local_only.items() if on]
        if given:
            raise typer.BadParameter(
                f"{', '.join(given)} can not go with --server: the server runs with its own "
                "backend and clock (run without --server for a local or forecast run)"
            )
        _run_on_server(
            server, token, campaign, quiet or as_json, as_json,
            max_calls=max_calls, concurrency=concurrency, wait=wait, retry_unknown=retry_unknown,
        )  # fmt: skip
        return
    backend = backend or "simulate"
    options = RunOptions(
        db=_db(db),
        backend=backend,
        max_calls=max_calls,
        concurrency=concurrency,
        seed=seed,
        watch=watch,
        virtual_time=virtual_time,
        start=_parse_at(start),
        days=days,
        speed=speed,
        wait=wait,
        retry_unknown=retry_unknown,
    )
    _run_and_print(campaign, options, report_host, report_port, quiet, as_json, _print_summary)


@app.command()
@handle_errors
def call(
    campaign: CampaignOrLegacy = None,
    lead: Annotated[
        int | None,
        typer.Option("--lead", help="1-based row of the lead source (env LEAD_INDEX)."),
    ] = None,
    phone: Annotated[str | None, typer.Option("--phone", help="The lead with this number.")] = None,
    backend: Annotated[str, typer.Option("--backend", help="simulate | livekit.")] = "simulate",
    force_window: Annotated[
        str | None,
        typer.Option(
            "--force-window",
            metavar="REASON",
            help="Call outside the lead's calling window; the reason goes to the run log.",
        ),
    ] = None,
    db: DbOption = None,
    seed: Annotated[int, typer.Option("--seed", help="Simulator seed.")] = 0,
    speed: Annotated[float, typer.Option("--speed", help="Simulated call N times faster.")] = 1.0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No live display.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a one-line JSON summary.")] = False,
    report_host: ReportHostOption = None,
    report_port: ReportPortOption = None,
) -> None:
    """One call now, to one lead: outside pacing, never outside suppression, caps or window.

    Suppression lists, the DNC table, pacing.max_attempts and the dialer.yaml frequency cap
    always hold. The calling window (and quiet hours) hold unless --force-window REASON.
    """
    from dialer.runner.run import RunOptions

    campaign = _campaign_or_legacy(campaign)
    if lead is None and phone is None:
        lead = _lead_index()
    if (lead is None) == (phone is None):
        raise typer.BadParameter("give exactly one of --lead N (or LEAD_INDEX=N) or --phone NUMBER")
    _check_backend(backend)
    options = RunOptions(
        db=_db(db),
        backend=backend,
        concurrency=1,
        seed=seed,
        speed=speed,
        lead_row=lead,
        lead_phone=phone,
        force_window=force_window,
    )
    _run_and_print(campaign, options, report_host, report_port, quiet, as_json, _print_call)


def _run_and_print(campaign, options, report_host, report_port, quiet, as_json, show) -> None:
    """Run with the backend's settings in place; print the JSON summary or `show` it."""
    from dialer.runner.run import run_campaign

    with _backend_settings(options.backend, campaign, report_host, report_port):
        summary = run_campaign(campaign, options, _observer(quiet or as_json))
    if as_json:
        print(json.dumps(summary.to_dict()))
    else:
        show(summary)


def _run_on_server(
    url: str, token: str | None, campaign: Path, quiet: bool, as_json: bool, **options
) -> None:
    """`dialer run --server`: the server dials (it owns the run log); this process follows."""
    from dialer.runner.remote import RemoteRun

    remote = RemoteRun(url, token)
    run_id = remote.start(campaign, **options)
    observer = _observer(quiet)
    observer.message(f"run {run_id} started on {remote.url}")
    summary = remote.follow(observer)
    if as_json:
        print(json.dumps(summary.to_dict()))
    else:
        _print_summary(summary)


def _check_backend(backend: str) -> None:
    if backend not in ("simulate", "livekit"):
        raise typer.BadParameter("--backend is simulate or livekit")


def _env_flag(name: str) -> bool:
    import os

    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _lead_index() -> int | None:
    """The legacy LEAD_INDEX (1-based) from the environment, if set."""
    import os

    raw = os.environ.get("LEAD_INDEX", "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise DialerError(f"LEAD_INDEX: expected a 1-based row number, got {raw!r}") from None


def _observer(quiet: bool):
    from dialer.runner.observer import QuietObserver, TerminalObserver

    return QuietObserver() if (quiet or not sys.stderr.isatty()) else TerminalObserver()


def _print_call(summary) -> None:
    call = summary.call
    if call is None:
        print(f"run {summary.run_id} {summary.status}: no call was placed")
        return
    result = call["status"] + (f" / {call['disposition']}" if call["disposition"] else "")
    facts = [f"{call['duration_s']:.0f}s"]
    if call["sip_status"]:
        facts.append(f"SIP {call['sip_status']}")
    if call["callback_at"]:
        facts.append(f"callback {call['callback_at']}")
    print(f"lead {call['lead_row']} {call['phone']}: {result} ({', '.join(facts)})")
    if call["error"]:
        print(f"  {call['error']}")
    for line in call["transcript"]:
        print(f"  {line['role']:>5}: {line['text']}")
    print(f"attempt {call['attempt_id']} in run {summary.run_id}")


def _backend_settings(backend: str, campaign: Path, host: str | None, port: int | None):
    """For livekit: read and check the LiveKit settings now, before the run log is touched."""
    import contextlib

    if backend != "livekit":
        return contextlib.nullcontext()
    from dialer.livekit.settings import environment, settings_from_env, using_settings

    settings = settings_from_env(environment(campaign)).with_endpoint(host, port)
    return using_settings(settings)


def _print_summary(summary) -> None:
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(summary.statuses.items())) or "none"
    print(f"run {summary.run_id} {summary.status}: {summary.dialed} dial(s) ({statuses})")
    if summary.dispositions:
        print("dispositions: " + ", ".join(f"{k} {v}" for k, v in summary.dispositions.items()))
    if summary.left_waiting:
        print(
            f"{summary.left_waiting} lead(s) wait for a retry or their window: run again "
            "later, or use --wait"
        )


LlmOption = Annotated[
    str | None,
    typer.Option(
        "--llm",
        metavar="PROVIDER[:MODEL]",
        help="Text model: google (default, GOOGLE_API_KEY), openai, anthropic, groq, mistralai.",
        show_default=False,
    ),
]


def _quiet_livekit() -> None:
    import logging

    logging.getLogger("livekit").setLevel(logging.ERROR)  # its warnings are not the user's


@app.command()
@handle_errors
def chat(
    campaign: Annotated[Path, typer.Argument(help="Campaign file.")],
    lead: Annotated[
        int | None,
        typer.Option("--lead", help="1-based row of the lead source (env LEAD_INDEX; default 1)."),
    ] = None,
    phone: Annotated[str | None, typer.Option("--phone", help="The lead with this number.")] = None,
    variant: Annotated[str | None, typer.Option("--variant", help="Talk to this variant.")] = None,
    watch: Annotated[
        bool, typer.Option("--watch", help="On every save: reload and replay your turns.")
    ] = False,
    llm: LlmOption = None,
) -> None:
    """Talk to the campaign's agent in text: the worker's instructions, tools and opening.

    With --watch, saving the campaign or a prompt file replays your turns on the new revision
    and shows the new replies beside the old. /reset, /save FILE (a test scenario), /quit.
    """
    import asyncio

    from rich.console import Console

    from dialer.agent import textchat
    from dialer.chat import ChatApp, run_chat, stdin_lines
    from dialer.livekit.settings import environment

    if lead is None and phone is None:
        lead = _lead_index() or 1
    if lead is not None and phone is not None:
        raise typer.BadParameter("give one of --lead N or --phone NUMBER")
    env = environment(campaign)
    textchat.text_llm(llm, env)  # no key, no plugin: say so before anything else
    _quiet_livekit()
    console = Console(highlight=False)

    def make_llm(spec):
        return textchat.text_llm(llm, env, spec.temperature)

    def prompt() -> None:
        if sys.stdin.isatty():
            console.print("[bold]you:[/] ", end="")

    async def main() -> None:
        app_ = ChatApp(campaign, make_llm, console, lead, phone, variant)
        await run_chat(app_, stdin_lines(asyncio.get_running_loop()), watch, prompt)

    asyncio.run(main())


@app.command("test")
@handle_errors
def test_scenarios(
    campaigns: Annotated[
        list[Path] | None,
        typer.Argument(help="Campaign files or folders (default campaigns/).", show_default=False),
    ] = None,
    keyword: Annotated[
        str | None, typer.Option("-k", help="Only scenarios whose name contains this.")
    ] = None,
    llm: LlmOption = None,
    judge_llm: Annotated[
        str | None,
        typer.Option(
            "--judge-llm",
            metavar="PROVIDER[:MODEL]",
            help="Model that judges `judge:` intents (default: --llm).",
            show_default=False,
        ),
    ] = None,
    junit_xml: Annotated[
        Path | None, typer.Option("--junit-xml", help="Write the results as JUnit XML here.")
    ] = None,
) -> None:
    """Run the campaigns' conversation scenarios (tests: or NAME.tests.yaml) against the agent.

    One line per scenario, failures with their transcript, exit 1 when any fails.
    """
    import asyncio
    import time

    from dialer.agent import scenarios, textchat
    from dialer.livekit.settings import environment
    from dialer.validate import campaign_files

    files = campaign_files(campaigns or [Path("campaigns")])
    if not files:
        raise DialerError("no campaign files found", hint="name one, or run in a project folder")
    env = environment(files[0])
    textchat.text_llm(llm, env)  # no key, no plugin: say so before anything runs
    judge = textchat.text_llm(judge_llm or llm, env)
    _quiet_livekit()
    cases, broken = [], []
    for f in files:
        try:
            cases += [c for c in scenarios.collect(f) if not keyword or keyword in c.scenario.name]
        except DialerError as exc:
            broken.append(exc)
    for exc in broken:
        for e in exc.errors if hasattr(exc, "errors") else [exc]:
            _err(f"ERROR {e.format()}")
    if not cases:
        if not broken:
            _err(
                "no scenarios to run: add `tests:` to a campaign or write NAME.tests.yaml"
                + (f" (none named like {keyword!r})" if keyword else "")
            )
        raise typer.Exit(1)

    def make_llm(spec):
        return textchat.text_llm(llm, env, spec.temperature)

    async def main():
        out = []
        for case in cases:
            outcome = await scenarios.run_case(case, make_llm, judge)
            print(f"{case.id} {outcome.status} ({outcome.seconds:.1f}s)", flush=True)
            out.append(outcome)
        return out

    started = time.perf_counter()
    outcomes = asyncio.run(main())
    elapsed = time.perf_counter() - started
    bad = [o for o in outcomes if not o.passed]
    if bad:
        print("\n=== failures ===")
    for o in bad:
        print(f"\n--- {o.case.id} ({o.case.location}) ---")
        for line in [o.error] if o.error else o.failures:
            print(line)
        if o.turns:
            print("transcript:")
            for line in o.transcript():
                print(f"  {line}")
    passed = len(outcomes) - len(bad)
    parts = [f"{passed} passed"] + ([f"{len(bad)} failed"] if bad else [])
    parts += [f"{len(broken)} campaign(s) with errors"] if broken else []
    print(f"\n=== {', '.join(parts)} in {elapsed:.1f}s ===")
    if junit_xml is not None:
        junit_xml.write_text(scenarios.junit_xml(outcomes, elapsed), encoding="utf-8")
    if bad or broken:
        raise typer.Exit(1)


dnc_app = typer.Typer(help="The do-not-call list every campaign honours.", no_args_is_help=True)
app.add_typer(dnc_app, name="dnc")


@dnc_app.command("add")
@handle_errors
def dnc_add(
    numbers: Annotated[list[str], typer.Argument(help="Phone numbers, any common format.")],
    reason: Annotated[str | None, typer.Option("--reason", help="Why (kept in the log).")] = None,
    region: Annotated[str, typer.Option("--region", help="Country for national numbers.")] = "US",
    db: DbOption = None,
) -> None:
    """Add numbers to the do-not-call list."""
    from dialer.store.connect import open_run_log
    from dialer.store.dnc import add_numbers

    con = open_run_log(_db(db))
    change = add_numbers(con, numbers, region, "cli", reason)
    con.close()
    _dnc_report(change)


@dnc_app.command("remove")
@handle_errors
def dnc_remove(
    numbers: Annotated[list[str], typer.Argument(help="Phone numbers, any common format.")],
    region: Annotated[str, typer.Option("--region", help="Country for national numbers.")] = "US",
    db: DbOption = None,
) -> None:
    """Remove numbers from the do-not-call list."""
    from dialer.store.connect import open_run_log
    from dialer.store.dnc import remove_numbers

    con = open_run_log(_db(db))
    change = remove_numbers(con, numbers, region)
    con.close()
    _dnc_report(change, "removed")


@dnc_app.command("import")
@handle_errors
def dnc_import(
    file: Annotated[Path, typer.Argument(help="CSV (a phone column) or one number per line.")],
    reason: Annotated[str | None, typer.Option("--reason", help="Why (kept in the log).")] = None,
    region: Annotated[str, typer.Option("--region", help="Country for national numbers.")] = "US",
    db: DbOption = None,
) -> None:
    """Import numbers from a file into the do-not-call list (normalised to E.164)."""
    from dialer.store.connect import open_run_log
    from dialer.store.dnc import add_numbers, read_numbers_file

    numbers = read_numbers_file(file)
    con = open_run_log(_db(db))
    change = add_numbers(con, numbers, region, "import", reason or f"imported from {file.name}")
    con.close()
    _dnc_report(change)


@dnc_app.command("list")
@handle_errors
def dnc_list(
    as_json: JsonOption = False,
    limit: Annotated[int | None, typer.Option("--limit", help="At most N numbers.")] = None,
    db: DbOption = None,
) -> None:
    """List the do-not-call numbers, newest first."""
    from dialer.store.dnc import list_numbers

    rows = _read_log(db, lambda con: list_numbers(con, limit), [])
    if as_json:
        print(json.dumps(rows))
        return
    for r in rows:
        print(f"{r['phone']}\t{r['added_at']}\t{r['source'] or ''}\t{r['reason'] or ''}")
    _err(f"{len(rows)} number(s)")


def _dnc_report(change, verb: str = "added") -> None:
    parts = [f"removed {change.removed}" if verb == "removed" else f"added {change.added}"]
    if change.already:
        parts.append(f"{change.already} already listed")
    print(", ".join(parts))
    if change.invalid:
        _err(f"{len(change.invalid)} not a valid phone number: " + ", ".join(change.invalid[:10]))
        raise typer.Exit(1)


@app.command()
@handle_errors
def runs(
    campaign: Annotated[str | None, typer.Option("--campaign", help="Only this campaign.")] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Run history: when, which campaign and revision, how it ended, dials."""
    from dialer.report import list_runs

    rows = _read_log(db, lambda con: list_runs(con, campaign), [])
    if as_json:
        print(json.dumps(rows))
        return
    if not rows:
        print("no runs yet")
    for r in rows:
        print(
            f"{r['run_id']}  {r['started_at']}  {r['status']:<9} {r['campaign']} "
            f"(revision {r['revision']}, {r['backend']}): {r['dials']} dials, "
            f"{r['connected']} connected"
        )


@app.command()
@handle_errors
def report(
    campaign: Annotated[Path | None, typer.Argument(help="Campaign file (default: all).")] = None,
    run_id: Annotated[str | None, typer.Option("--run", help="Only this run.")] = None,
    as_json: JsonOption = False,
    html: Annotated[Path | None, typer.Option("--html", help="Write an HTML report here.")] = None,
    db: DbOption = None,
) -> None:
    """Answer, voicemail, talk time, completion and conversion, by revision and variant."""
    from dialer.console_out import print_report
    from dialer.report import build_report, report_html
    from dialer.store.connect import open_run_log

    path = _db(db)
    if not path.exists():
        raise DialerError("no run log yet", _loc(path), "run a campaign first: dialer run ...")
    name, conversions, progress = None, None, None
    if campaign is not None:
        from dialer.campaign.load import load_campaign
        from dialer.plan import plan_campaign

        loaded = load_campaign(campaign)
        name, conversions = loaded.campaign.name, loaded.campaign.conversions
        progress = plan_campaign(loaded, None, path, show=0, narrow=True).counts
    con = open_run_log(path, read_only=True)
    result = build_report(con, name, run_id, conversions, progress)
    con.close()
    if html is not None:
        html.write_text(report_html(result), encoding="utf-8")
        _err(f"wrote {html}")
    if as_json:
        print(json.dumps(result.to_dict(), default=str))
    elif html is None:
        print_report(result)


@app.command()
@handle_errors
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 4100,
    backend: Annotated[
        str, typer.Option("--backend", help="Where dashboard runs dial: simulate | livekit.")
    ] = "simulate",
    db: DbOption = None,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "info",
) -> None:
    """The web dashboard and HTTP API (default http://127.0.0.1:4100/, API docs at /docs).

    The server holds the run log while it runs; runs and calls started from the dashboard or
    the API execute inside it. Tokens come from `dialer token create` (DIALER_JWT_SECRET);
    without a secret it serves loopback only and prints an admin token valid until it stops.
    """
    import dataclasses

    from dialer.web.config import WebConfig
    from dialer.web.server import serve as run_server

    _check_backend(backend)
    config = dataclasses.replace(WebConfig.from_env(db=db), backend=backend)
    with _backend_settings(backend, None, None, None):
        run_server(config, host=host, port=port, log_level=log_level, announce=_err)


@app.command()
@handle_errors
def console(
    campaign: Annotated[
        str | None,
        typer.Argument(
            help="Campaign file or name highlighted first. Default: the first valid one.",
            show_default=False,
        ),
    ] = None,
    db: DbOption = None,
    backend: Annotated[
        str, typer.Option("--backend", help="Where calls dial: simulate | livekit.")
    ] = "simulate",
    seed: Annotated[int, typer.Option("--seed", help="Simulator seed.")] = 0,
) -> None:
    """Keyboard console (the legacy console mode): pick a campaign, page its leads, dial.

    Enter picks the highlighted campaign; then a row number and Enter calls that lead (as
    `dialer call --lead N`), Enter alone the next callable one, N / P page, e ends the call,
    r runs the campaign, s stops it, c goes back to the campaigns, q quits. The console holds
    the run log while it runs, as `dialer serve` does.
    """
    from dialer.console import run_console

    _check_backend(backend)
    settings_for = Path(campaign) if campaign and Path(campaign).is_file() else None
    with _backend_settings(backend, settings_for, None, None):
        run_console(Path.cwd(), _db(db), campaign, backend=backend, seed=seed)


token_app = typer.Typer(help="Bearer tokens for the dashboard and API.", no_args_is_help=True)
app.add_typer(token_app, name="token")


@token_app.command("create")
@handle_errors
def token_create(
    role: Annotated[str, typer.Option("--role", help="viewer | operator | admin.")] = "viewer",
    ttl: Annotated[str, typer.Option("--ttl", help="Lifetime: 30m, 8h, 7d.")] = "8h",
    subject: Annotated[
        str | None, typer.Option("--subject", help="Who it is for (shown in the server log).")
    ] = None,
) -> None:
    """Print a signed token (HS256, DIALER_JWT_SECRET from the environment or .env).

    viewer reads; operator also dials and stops runs; admin also edits campaigns, lead files
    and the do-not-call list."""
    from dialer.campaign.schema import parse_duration
    from dialer.web.auth import check_secret, create_token
    from dialer.web.config import WebConfig

    try:
        seconds = parse_duration(ttl).total_seconds()
    except ValueError as exc:
        raise typer.BadParameter(f"--ttl: {exc}") from None
    secret = check_secret(WebConfig.from_env().jwt_secret)
    print(create_token(secret, role, seconds, subject))


trunk_app = typer.Typer(
    help="LiveKit outbound SIP trunks (from SIP_ADDRESS, SIP_NUMBERS, SIP_USERNAME, SIP_PASSWORD).",
    no_args_is_help=True,
)
app.add_typer(trunk_app, name="trunk")


@trunk_app.command("list")
@handle_errors
def trunk_list(as_json: JsonOption = False) -> None:
    """List the LiveKit project's outbound SIP trunks."""
    from dialer.livekit.admin import list_trunks
    from dialer.livekit.settings import environment, settings_from_env

    trunks = list_trunks(settings_from_env(environment()))
    if as_json:
        print(json.dumps([t.to_dict() for t in trunks]))
        return
    for t in trunks:
        print(f"{t.trunk_id}\t{t.name}\t{t.address}\t{','.join(t.numbers)}")
    _err(f"{len(trunks)} trunk(s)")


@trunk_app.command("create")
@handle_errors
def trunk_create(as_json: JsonOption = False) -> None:
    """Create an outbound SIP trunk from the SIP_* settings (environment or .env)."""
    from dialer.livekit.admin import create_trunk
    from dialer.livekit.settings import environment, settings_from_env

    env = environment()
    trunk = create_trunk(settings_from_env(env), env)
    if as_json:
        print(json.dumps(trunk.to_dict()))
        return
    print(f"created {trunk.trunk_id} ({trunk.name}, {trunk.address}, {','.join(trunk.numbers)})")
    _err(f"put SIP_OUTBOUND_TRUNK_ID={trunk.trunk_id} in .env for campaigns to use it")


@app.command()
@handle_errors
def doctor(
    trunk: Annotated[
        str | None, typer.Option("--trunk", help="Trunk id to look for (default: any).")
    ] = None,
    agent_name: Annotated[
        str, typer.Option("--agent-name", help="The worker name campaigns dispatch to.")
    ] = "dialer",
    worker_timeout: Annotated[
        float, typer.Option("--worker-timeout", help="Seconds a worker has to take the probe job.")
    ] = 10.0,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Check real-call readiness: LiveKit, trunk, a worker, keys, noise cancellation, run log,
    the report endpoint. One line each; exit 1 when any fails."""
    from dialer.livekit.admin import doctor as run_checks
    from dialer.livekit.settings import environment

    checks = run_checks(
        environment(),
        _db(db),
        trunk,
        agent_name=agent_name,
        campaigns=_noise_settings(),
        probe_timeout=worker_timeout,
    )
    if as_json:
        print(json.dumps([c.to_dict() for c in checks]))
    else:
        for c in checks:
            print(f"{'ok  ' if c.ok else 'FAIL'}  {c.name}: {c.detail}")
    if not all(c.ok for c in checks):
        raise typer.Exit(1)


def _noise_settings() -> list[tuple[str, bool]]:
    """(file, noise cancellation on) for each valid campaign in ./campaigns."""
    from dialer.campaign.load import load_campaign

    found = []
    for path in sorted(Path("campaigns").glob("*.yaml")):
        try:
            found.append((str(path), load_campaign(path).campaign.telephony.noise_cancellation))
        except DialerError:
            continue  # `dialer validate` reports it; the doctor checks the machine
    return found


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    help="Run a LiveKit Agents worker that carries the calls of `dialer run --backend livekit`."
    "\n\nEach job dials one lead over the SIP trunk, talks with Gemini Live using the campaign's"
    " instructions, opening, voice and tools (disposition, callback, opt-out, transfer,"
    " voicemail, end call), and posts one signed report back to the runner. Credentials come"
    " from the environment or .env: LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET,"
    " GOOGLE_API_KEY. Start more workers, on as many machines as you like, to carry more calls"
    " at once. Options after MODE that dialer does not know go to LiveKit's worker"
    " (e.g. --log-level debug).",
)
@handle_errors
def agent(
    ctx: typer.Context,
    mode: Annotated[
        str, typer.Argument(help="start (production) or dev (more logging, no load limit).")
    ] = "start",
    agent_name: Annotated[
        str,
        typer.Option("--agent-name", help="Must match the campaigns' telephony.agent_name."),
    ] = "dialer",
    max_jobs: Annotated[
        int | None, typer.Option("--max-jobs", help="Calls one worker carries at once.")
    ] = None,
    load_threshold: Annotated[
        float | None,
        typer.Option("--load-threshold", help="CPU load above which the worker takes no jobs."),
    ] = None,
    idle_processes: Annotated[
        int | None, typer.Option("--idle-processes", help="Job processes kept warm.")
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", help="The worker's health/HTTP port.")
    ] = None,
) -> None:
    if mode not in ("start", "dev"):
        raise typer.BadParameter("MODE is start or dev")
    from dialer.agent.worker import run_worker

    raise typer.Exit(
        run_worker(
            [mode, *ctx.args],
            agent_name=agent_name,
            load_threshold=load_threshold,
            max_jobs=max_jobs,
            num_idle_processes=idle_processes,
            port=port,
        )
    )


@app.command("import-legacy")
@handle_errors
def import_legacy(
    folder: Annotated[
        Path,
        typer.Argument(help="The legacy Agentic Dialer folder (agent.py, campaigns.json, ...)."),
    ],
    into: Annotated[
        Path, typer.Option("--into", help="Project root that gets campaigns/ and leads/.")
    ] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="Replace files already there.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Turn legacy campaigns.json + Python prompt modules into campaign files (never runs them).

    Each (module, agent constant, session constant) becomes campaigns/<module>.yaml with its
    texts in campaigns/prompts/; leads.csv is copied into leads/; campaigns/.legacy.json maps
    CAMPAIGN_PROMPT_MODULE / CAMPAIGN_AGENT_NAME / CAMPAIGN_SESSION_NAME to the files. Existing
    files are kept unless --force. Exit 1 when no campaign could be imported.
    """
    from dialer.import_legacy import import_legacy as run_import

    report = run_import(folder, into, force=force)
    if as_json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        for line in report.lines():
            print(line)
        for problem in report.failed:
            _err(problem.format())
        _err(report.summary())
    if not report.imported:
        raise typer.Exit(1)


def _only(name: str | None) -> typer.Typer:
    """`app` with only the command (or command group) `name`: typer builds every command's
    options when it starts, and one command starts faster alone. The whole app when `name`
    is not one (its error lists the commands) or is None (help)."""
    if name is None:
        return app
    commands = [
        c
        for c in app.registered_commands
        if (c.name or typer.main.get_command_name(c.callback.__name__)) == name
    ]
    groups = [g for g in app.registered_groups if g.name == name]
    if not commands and not groups:
        return app
    lean = copy.copy(app)
    lean.registered_commands, lean.registered_groups = commands, groups
    return lean


def _command_name(args: list[str]) -> str | None:
    """The command `args` name: the first word that is not an option (the app's own options
    are flags); None when the app's own help comes first."""
    for a in args:
        if a in ("-h", "--help"):
            return None
        if not a.startswith("-"):
            return a
    return None


def main() -> None:
    """Console-script entry point."""
    _only(_command_name(sys.argv[1:]))()
