"""`import_legacy`: a legacy folder into a project's campaigns/ and leads/, lead list copied."""

from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path
from typing import Any

from dialer.errors import DialerError, Location
from dialer.import_legacy.read import Legacy, read_legacy
from dialer.import_legacy.registry import AGENT_CONST, _clean_name
from dialer.import_legacy.select import _read_mapping, _write_mapping
from dialer.import_legacy.write import (
    ImportReport,
    _campaign_yaml,
    _declared_names,
    _is_script,
    _prompt_text,
    _read,
    _shown,
    _stage,
    _stems,
    _write,
)

LEGACY_COLUMNS = (
    "prospect_name",
    "company_name",
    "job_title",
    "phone",
    "email",
    "timezone",
    "resource_name",
)


def _lead_columns(path: Path) -> tuple[dict[str, str], DialerError | None]:
    """`leads.columns` for headers written differently from the legacy names (`Phone`)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            headers = next(csv.reader(f), [])
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        return {}, DialerError(f"can not read the lead list: {exc}", Location(str(path)))
    by_norm = {re.sub(r"[\s\-]+", "_", h.strip().lower()): h for h in headers}
    columns = {c: by_norm[c] for c in LEGACY_COLUMNS if c not in headers and c in by_norm}
    if "phone" not in headers and "phone" not in columns:
        return columns, DialerError(
            f"the lead list has no phone column (headers: {', '.join(headers) or 'none'})",
            Location(str(path), 1),
            "the legacy columns are " + ",".join(LEGACY_COLUMNS),
        )
    return columns, None


def _copy_leads(legacy: Legacy, leads_dir: Path, force: bool, report: ImportReport) -> Path | None:
    source = legacy.leads_csv
    if source is None:
        existing = leads_dir / "leads.csv"
        if existing.is_file():
            why = "(no leads.csv in the legacy folder)"
            report.files.append(
                {"what": "leads", "action": "kept", "file": _shown(existing), "why": why}
            )
            return existing
        report.failed.append(
            DialerError(
                "no leads.csv: the imported campaigns need the legacy lead list",
                Location(str(legacy.root)),
                f"copy it to {_shown(existing)} and import again",
            )
        )
        return None
    target = leads_dir / source.name
    data = source.read_bytes()
    if target.is_file() and target.read_bytes() == data:
        why = "(same as the legacy one)"
        report.files.append({"what": "leads", "action": "kept", "file": _shown(target), "why": why})
    elif target.exists() and not force:
        report.files.append(
            {
                "what": "leads",
                "action": "skipped",
                "file": _shown(target),
                "why": f"a different file is there (--force replaces it with {_shown(source)})",
            }
        )
    else:
        _write(target, data)
        why = f"from {_shown(source)}"
        report.files.append(
            {"what": "leads", "action": "copied", "file": _shown(target), "why": why}
        )
    return target


def import_legacy(folder: Path, into: Path = Path("."), force: bool = False) -> ImportReport:
    """Import a legacy folder into the project at `into`: campaign files and their prompt files,
    the lead list in `leads/`, and `campaigns/.legacy.json`. Existing files are kept unless
    `force`. Each campaign is validated before it is written; one that is not is reported."""
    from dialer.campaign.schema import Recording

    into = Path(into)
    if not into.is_dir():
        raise DialerError("no such project folder", Location(str(into)), "dialer init creates one")
    legacy = read_legacy(Path(folder))
    report = ImportReport(failed=list(legacy.problems))
    if not legacy.campaigns:
        if not report.failed:
            report.failed.append(
                DialerError(
                    f"no legacy campaigns found: no campaigns.json, agent.py CAMPAIGNS or module "
                    f"defining {AGENT_CONST}",
                    Location(str(legacy.root)),
                )
            )
        return report
    campaigns_dir, leads_dir = into / "campaigns", into / "leads"
    (campaigns_dir / "prompts").mkdir(parents=True, exist_ok=True)
    lead_file = _copy_leads(legacy, leads_dir, force, report)
    if lead_file is None:
        return report
    columns, problem = _lead_columns(lead_file)
    if problem:
        report.failed.append(problem)
        return report
    leads: dict[str, Any] = {
        "source": os.path.relpath(lead_file, campaigns_dir),
        "columns": columns,
    }
    if (leads_dir / "dnc.csv").is_file():
        leads["suppress"] = os.path.relpath(leads_dir / "dnc.csv", campaigns_dir)
    disclosure = re.compile(Recording.model_fields["disclosure_pattern"].default, re.I)

    stems = _stems(legacy.campaigns)
    used_names = _declared_names(campaigns_dir, set(stems.values()))
    mapping = _read_mapping(campaigns_dir, report)
    for c in sorted(legacy.campaigns, key=lambda c: stems[c.key]):
        stem = stems[c.key]
        name = _clean_name(c.names[0]) if c.names else None
        if name is None:
            name = "Default" if c.key == legacy.default_key else stem
        if name in used_names:
            name = f"{name} ({stem})"
        used_names.add(name)
        prompts = (f"prompts/{stem}_agent.md", f"prompts/{stem}_session.md")
        recording = bool(disclosure.search(c.opening))
        yaml_text = _campaign_yaml(c, name, prompts, leads, legacy.agent, recording)
        target = campaigns_dir / f"{stem}.yaml"
        files = {
            target: yaml_text,
            campaigns_dir / prompts[0]: _prompt_text(c.instructions),
            campaigns_dir / prompts[1]: _prompt_text(c.opening),
        }
        entry = {
            "module": c.module,
            "aliases": sorted(c.aliases - {c.module}),
            "agent_name": c.agent_name,
            "session_name": c.session_name,
            "names": c.names,
            "stem": stem,
            "file": target.name,
            "source": c.source,
            "custom": c.custom,
        }
        shown = _shown(target)
        existing = [p for p in (target, campaigns_dir / f"{stem}.yml", *files) if p.exists()]
        if (campaigns_dir / f"{stem}.yml").exists() or (existing and not force):
            ours = target.is_file() and f"# legacy source: {c.source} " in _read(target)
            differs = [p for p in existing if p not in files or _read(p) != files[p]]
            reason = (
                "already imported, unchanged"
                if not differs and target in existing
                else f"{_shown((differs or existing)[0])} exists"
                + (" (edited since the import?)" if ours else "")
                + "; --force replaces it"
            )
            report.skipped.append({"file": shown, "reason": reason, "ours": ours})
            if ours:
                report.imported += 1
                mapping[c.key] = entry
            continue
        errors, selected = _stage(campaigns_dir, stem, files, yaml_text, prompts)
        if errors:
            report.failed += errors
            report.skipped.append(
                {"file": shown, "reason": "not valid, not written", "ours": False}
            )
            continue
        report.imported += 1
        mapping[c.key] = entry
        report.written.append(
            {
                "file": shown,
                "name": name,
                "source": c.source,
                "agent_name": c.agent_name,
                "session_name": c.session_name,
                "prompts": [_shown(campaigns_dir / p) for p in prompts],
                "leads_selected": selected,
            }
        )
        report.notes += [f"{shown}: {n}" for n in c.notes]
        if not recording:
            report.notes.append(f"{shown}: recording off (the opening does not disclose it)")
        if _is_script(c.opening):
            report.notes.append(
                f"{shown}: {c.session_name} is a call script; the agent says the opening word "
                "for word (move the script into the instructions, keep a greeting)"
            )
    _write_mapping(campaigns_dir, mapping, legacy, stems, report)
    schema = campaigns_dir / "campaign.schema.json"
    if report.written and not schema.exists():
        from dialer.campaign.schema import json_schema

        _write(schema, json.dumps(json_schema(), indent=2) + "\n")
        why = "(the modeline's schema)"
        report.files.append(
            {"what": "schema", "action": "wrote", "file": _shown(schema), "why": why}
        )
    return report
