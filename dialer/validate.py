"""Check campaign files end to end: schema, templates against real leads, lead SQL, compliance."""

from __future__ import annotations

import contextlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb

from dialer.campaign.lints import lint_campaign
from dialer.campaign.load import LoadedCampaign, load_campaign
from dialer.campaign.templates import Prompts
from dialer.errors import CampaignInvalid, DialerError, Location
from dialer.leads import fetch_leads, lead_columns, read_source, select_leads
from dialer.store.connect import attach_run_log

SAMPLE_LEADS = 50
# Lead fields dialer adds to every lead, beside the source's columns.
DERIVED_FIELDS = {"phone", "row", "key", "timezone", "timezones"}


@dataclass
class FileReport:
    """The outcome of validating one campaign file."""

    path: str
    name: str | None = None
    revision: str | None = None
    errors: list[DialerError] = field(default_factory=list)
    leads_selected: int | None = None
    name_location: Location | None = None

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "name": self.name,
            "revision": self.revision,
            "ok": self.ok,
            "leads_selected": self.leads_selected,
            "errors": [e.to_dict() for e in self.errors],
        }


def campaign_files(paths: list[Path]) -> list[Path]:
    """Campaign YAML files named or found in folders (scenario files `*.tests.yaml` excluded)."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            found = sorted([*p.glob("*.yaml"), *p.glob("*.yml")])
            out.extend(f for f in found if not f.name.endswith((".tests.yaml", ".tests.yml")))
        else:
            out.append(p)
    return out


def _errors_of(exc: DialerError) -> list[DialerError]:
    return list(exc.errors) if isinstance(exc, CampaignInvalid) else [exc]


def validate_file(
    path: Path, run_log: Path | None = None, at: datetime | None = None, con=None
) -> FileReport:
    """Validate one campaign file; every error found goes into the report."""
    report = FileReport(str(path))
    try:
        loaded = load_campaign(path)
    except DialerError as exc:
        report.errors = _errors_of(exc)
        return report
    report.name, report.revision = loaded.campaign.name, loaded.revision
    report.name_location = loaded.locate(("name",))
    report.errors.extend(_scenario_errors(Path(path)))
    report.errors.extend(lint_campaign(loaded))
    try:
        prompts = Prompts(loaded)
    except DialerError as exc:
        report.errors.extend(_errors_of(exc))
        return report
    try:
        selection = select_leads(loaded, run_log, con)
    except DialerError as exc:
        report.errors.extend(_errors_of(exc))
        if isinstance(exc, CampaignInvalid):  # bad where/order_by: the columns are still known
            scratch = con or duckdb.connect()
            read_source(loaded, scratch)
            report.errors.extend(check_template_columns(prompts, lead_columns(loaded, scratch)))
        report.errors.sort(key=lambda e: (e.location.line or 0) if e.location else 0)
        return report
    report.leads_selected = selection.selected
    report.errors.extend(check_template_columns(prompts, selection.columns))
    if not any(
        e.field and e.field.endswith(("instructions", "opening", "voicemail"))
        for e in report.errors
    ):
        report.errors.extend(_render_sample(loaded, prompts, selection, at))
    if con is None:
        selection.con.close()
    return report


def _scenario_errors(path: Path) -> list[DialerError]:
    """Mistakes in the campaign's NAME.tests.yaml, when it has one (`dialer test` runs it)."""
    from dialer.agent.scenarios import load_scenario_file, tests_file

    scenarios = tests_file(path)
    if not scenarios.exists():
        return []
    try:
        load_scenario_file(scenarios)
    except DialerError as exc:
        return _errors_of(exc)
    return []


def check_template_columns(prompts: Prompts, columns: list[str]) -> list[DialerError]:
    """Every `lead.COLUMN` a template reads that the lead source does not have."""
    known = set(columns) | DERIVED_FIELDS
    errors, seen = [], set()
    for ref in prompts.lead_column_refs():
        if ref.column in known or (ref.column, ref.template) in seen:
            continue
        seen.add((ref.column, ref.template))
        import difflib

        close = difflib.get_close_matches(ref.column, sorted(known), n=1)
        errors.append(
            DialerError(
                f"lead.{ref.column} is not a lead column",
                ref.location,
                f"did you mean lead.{close[0]}?"
                if close
                else "map a source header to it in leads.columns",
                field=ref.template,
            )
        )
    return errors


def _render_sample(
    loaded: LoadedCampaign, prompts: Prompts, selection, at: datetime | None
) -> list[DialerError]:
    at = at or datetime.now(UTC)
    errors: dict[tuple, DialerError] = {}
    for lead in fetch_leads(selection, limit=SAMPLE_LEADS):
        zone = ZoneInfo(lead["timezone"]) if lead["timezone"] else UTC
        for variant in prompts.variant_names:
            try:
                prompts.render(lead, at.astimezone(zone), variant)
            except DialerError as exc:
                key = (exc.location, exc.message.split(" (lead row")[0])
                errors.setdefault(key, exc)
    return list(errors.values())


def _validate_on(path: Path, run_log: Path | None, con) -> FileReport:
    cursor = con.cursor()
    try:
        return validate_file(path, run_log, con=cursor)
    finally:
        cursor.close()


def validate_paths(paths: list[Path], run_log: Path | None = None) -> list[FileReport]:
    """Validate files and folders; also flags two files that share a campaign name."""
    files = campaign_files(paths)
    con = duckdb.connect()  # one database for every file; each file gets its own cursor
    if run_log:
        with contextlib.suppress(DialerError):  # a locked log is then reported per file
            attach_run_log(con, Path(run_log))
    if len(files) > 1:  # DuckDB works without the GIL: files overlap on two cores
        workers = min(len(files), os.cpu_count() or 1, 4)
        with ThreadPoolExecutor(workers) as pool:
            reports = list(pool.map(lambda p: _validate_on(p, run_log, con), files))
    else:
        reports = [validate_file(p, run_log, con=con) for p in files]
    con.close()
    by_name: dict[str, str] = {}
    for r in reports:
        if r.name is None:
            continue
        if r.name in by_name:
            r.errors.append(
                DialerError(
                    f"campaign name {r.name!r} is already used by {by_name[r.name]}",
                    r.name_location or Location(r.path, 1, 1),
                    "campaign names are unique: the run log keys attempts by them",
                    field="name",
                )
            )
        else:
            by_name[r.name] = r.path
    return reports
