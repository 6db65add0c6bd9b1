"""The `dialer` command line: thin commands that call the library and print its results."""

from __future__ import annotations

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


def _parse_at(at: str | None) -> datetime | None:
    if at is None:
        return None
    try:
        value = datetime.fromisoformat(at)
    except ValueError:
        raise DialerError(
            f"--at: expected an ISO time like 2026-11-24T09:30-05:00, got {at!r}"
        ) from None
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
    result = plan_campaign(loaded, _parse_at(at), _db(db), show=show)
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
def schema() -> None:
    """Print the campaign file's JSON Schema (for editor completion and checks)."""
    from dialer.campaign.schema import json_schema

    print(json.dumps(json_schema(), indent=2))


def main() -> None:
    """Console-script entry point."""
    app()
