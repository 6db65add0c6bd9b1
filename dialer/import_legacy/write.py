"""Campaign files from legacy campaigns: YAML and prompt text, written whole, validated first.

A campaign is validated on temporary copies beside its targets before it is kept; the
ImportReport records what was written, skipped or could not be read.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dialer.campaign.templates import escape_jinja
from dialer.errors import DialerError, Location
from dialer.files import write_atomic
from dialer.import_legacy.read import LegacyCampaign
from dialer.import_legacy.registry import (
    AGENT_CONST,
    ENV_AGENT,
    ENV_MODULE,
    ENV_SESSION,
    SESSION_CONST,
)

# A session text longer than this reads as a call script rather than an opening line.
_SCRIPT_CHARS, _SCRIPT_LINES = 400, 4


@dataclass
class ImportReport:
    """What an import did: campaigns written or skipped, other files, what could not be read."""

    written: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    failed: list[DialerError] = field(default_factory=list)
    files: list[dict[str, str]] = field(default_factory=list)  # lead list, mapping, schema
    notes: list[str] = field(default_factory=list)
    imported: int = 0  # campaigns written, or already imported before

    def lines(self) -> list[str]:
        out = [_file_line(f) for f in self.files if f["what"] == "leads"]
        for w in self.written:
            out.append(f"wrote    {w['file']}  {w['name']!r} from {w['source']}{_consts(w)}")
        out += [f"skipped  {s['file']}  {s['reason']}" for s in self.skipped]
        out += [_file_line(f) for f in self.files if f["what"] != "leads"]
        return out + [f"note     {n}" for n in self.notes]

    def summary(self) -> str:
        return (
            f"{len(self.written)} campaign(s) written, {len(self.skipped)} skipped, "
            f"{len(self.failed)} problem(s)"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.imported > 0,
            "written": self.written,
            "skipped": self.skipped,
            "failed": [e.to_dict() for e in self.failed],
            "files": self.files,
            "notes": self.notes,
        }


def _file_line(f: Mapping[str, str]) -> str:
    return f"{f['action']:<8} {f['file']}  {f['why']}".rstrip()


def _consts(item: Mapping[str, Any]) -> str:
    pair = (item["agent_name"], item["session_name"])
    return "" if pair == (AGENT_CONST, SESSION_CONST) else f" ({pair[0]}, {pair[1]})"


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "_", text.lower()).strip("_-")


def _stems(campaigns: list[LegacyCampaign]) -> dict[tuple[str, str, str], str]:
    """File stems: the module's own name (as the legacy API's `module`), the constants added when
    they are not the standard ones, the package path added where two modules share a name."""

    def stem(c: LegacyCampaign, full: bool) -> str:
        parts = [c.module.replace(".", "_") if full else c.module.rsplit(".", 1)[-1]]
        if c.agent_name != AGENT_CONST:
            parts.append(c.agent_name)
        if c.session_name != SESSION_CONST:
            parts.append(c.session_name)
        return (_slug("_".join(parts)) or "legacy")[:90]

    short = {c.key: stem(c, False) for c in campaigns}
    counts: dict[str, int] = {}
    for s in short.values():
        counts[s] = counts.get(s, 0) + 1
    return {c.key: stem(c, True) if counts[short[c.key]] > 1 else short[c.key] for c in campaigns}


def _declared_names(campaigns_dir: Path, except_stems: set[str]) -> set[str]:
    import yaml

    names = set()
    for path in [*campaigns_dir.glob("*.yaml"), *campaigns_dir.glob("*.yml")]:
        if path.stem in except_stems or path.name.endswith((".tests.yaml", ".tests.yml")):
            continue
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        if isinstance(data, dict) and isinstance(data.get("name"), str):
            names.add(data["name"])
    return names


def _q(text: str) -> str:
    """A YAML scalar for text (JSON strings are YAML); `${` would read as an env reference."""
    return json.dumps(text.replace("${", "$ {"), ensure_ascii=False)


def _is_script(text: str) -> bool:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return len(text) > _SCRIPT_CHARS or len(lines) > _SCRIPT_LINES


def _campaign_yaml(
    c: LegacyCampaign,
    name: str,
    prompts: tuple[str, str],
    leads: dict[str, Any],
    agent: Mapping[str, Any],
    recording: bool,
) -> str:
    consts = f"{c.agent_name} + {c.session_name}"
    selector = f"{ENV_MODULE}={c.module}"
    if c.agent_name != AGENT_CONST:
        selector += f" {ENV_AGENT}={c.agent_name}"
    if c.session_name != SESSION_CONST:
        selector += f" {ENV_SESSION}={c.session_name}"
    lines = [
        "# yaml-language-server: $schema=campaign.schema.json",
        "# Imported from the legacy Agentic Dialer by `dialer import-legacy`.",
        f"# legacy source: {c.source} {consts}",
        f"# Selected by {selector} (campaigns/.legacy.json).",
        "# The legacy [Bracket] placeholders still work; in the prompt files {{ '{{' }} is a",
        "# literal {{.",
        f"name: {_q(name)}",
        f"description: {_q(f'Imported from the legacy Agentic Dialer ({c.source}).')}",
        "leads:",
        f"  source: {_q(leads['source'])}",
    ]
    if leads.get("columns"):
        pairs = ", ".join(f"{k}: {_q(v)}" for k, v in leads["columns"].items())
        lines.append(f"  columns: {{{pairs}}}")
    if leads.get("suppress"):
        lines.append(f"suppress: [{_q(leads['suppress'])}]")
    lines += [
        "agent:",
        f"  instructions_file: {_q(prompts[0])}",
    ]
    if _is_script(c.opening):
        lines.append(
            f"  # the legacy {c.session_name} is a call script, but the agent says the opening "
            "word for word: move the script into the instructions and keep a greeting here"
        )
    lines += [
        f"  opening_file: {_q(prompts[1])}",
        f"  voice: {_q(str(agent.get('voice', 'Leda')))}",
        f"  temperature: {agent.get('temperature', 0.2)}",
        "pacing:  # the legacy dialer placed one call at a time",
        "  max_concurrent: 1",
        "  calls_per_minute: 4",
        '  window: {days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}  # lead-local',
        "  max_attempts: 3",
        "  retry: {no_answer: 4h, busy: 20m, voicemail: 1d, failed: 1h, callback: 1d}",
        "  max_call_duration: 10m",
        "dispositions:",
        "  - {name: meeting_booked, conversion: true}",
        "  - interested",
        "  - callback",
        "  - not_interested",
        "  - wrong_person",
        "  - do_not_call",
        "telephony:",
        "  sip_trunk_id: ${SIP_OUTBOUND_TRUNK_ID:-}",
        "  caller_id: ${SIP_CALLER_ID:-}",
    ]
    if recording:
        lines.append("recording: {enabled: true}")
    else:
        lines += [
            "# Off: the legacy opening does not tell the callee the call is recorded. Add that to",
            f"# {prompts[1]} before turning recording on.",
            "recording: {enabled: false}",
        ]
    return "\n".join(lines) + "\n"


def _prompt_text(text: str) -> str:
    return escape_jinja(text.replace("\r\n", "\n").strip()) + "\n"


def _write(path: Path, text: str | bytes) -> None:
    """Replace `path` through a temporary file beside it: never half a file."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, data)


def _stage(campaigns_dir: Path, stem: str, files: dict[Path, str], yaml_text: str, prompts):
    """Validate the campaign as it will be written, on temporary copies beside the targets.
    Returns (errors pointing at the real names, None), or writes it: ([], leads selected)."""
    from dialer.validate import validate_file

    tag = f".import-{os.getpid()}"
    agent_rel, session_rel = prompts
    temps = {
        campaigns_dir / agent_rel: campaigns_dir / f"{agent_rel}{tag}",
        campaigns_dir / session_rel: campaigns_dir / f"{session_rel}{tag}",
    }
    staged_yaml = yaml_text.replace(_q(agent_rel), _q(agent_rel + tag)).replace(
        _q(session_rel), _q(session_rel + tag)
    )
    target = campaigns_dir / f"{stem}.yaml"
    tmp_yaml = campaigns_dir / f".{stem}{tag}.yaml.tmp"  # not *.yaml: validate skips it
    try:
        for final, tmp in temps.items():
            _write(tmp, files[final])
        _write(tmp_yaml, staged_yaml)
        report = validate_file(tmp_yaml)
        if report.errors:
            renames = {str(tmp_yaml): str(target), **{str(t): str(f) for f, t in temps.items()}}
            return [
                DialerError(
                    e.message,
                    Location(
                        renames.get(e.location.path, e.location.path),
                        e.location.line,
                        e.location.col,
                    )
                    if e.location
                    else None,
                    e.hint,
                    e.field,
                )
                for e in report.errors
            ], None
        for final, tmp in temps.items():
            os.replace(tmp, final)
        _write(target, yaml_text)
        return [], report.leads_selected
    finally:
        for tmp in [*temps.values(), tmp_yaml]:
            tmp.unlink(missing_ok=True)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""
