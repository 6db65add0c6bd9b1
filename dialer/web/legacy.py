"""The legacy campaign API (list, and create/update from name, agent_text, session_text, module).

The legacy dashboard kept a campaign as two prompt texts and listed campaigns as built-in or
custom. Here `legacy_list` calls custom the campaigns created through the API and built-in every
other campaign file; `legacy_create` writes the texts as a campaign file (`agent_text` is
`agent.instructions`, `session_text` `agent.opening`; `[Prospect Name]`-style placeholders keep
working) that reads the active lead file; `legacy_update` changes them. Both write through
`campaigns.write_campaign`, so both are validated first. The update only changes custom
campaigns, as the legacy dashboard only edited the campaigns it had made; built-in files are
edited in git, or replaced whole with PUT /api/campaigns/{name}.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from dialer.validate import campaign_files
from dialer.web.campaigns import (
    campaign_path,
    check_stem,
    custom_stems,
    declared_name,
    existing_campaign,
    raw_yaml,
    relative,
    write_campaign,
)
from dialer.web.csvfiles import active_name, headers_of, lead_file, phone_column
from dialer.web.errors import BadInput, Conflict, Invalid

SCHEMA_HEADER = "# yaml-language-server: $schema=campaign.schema.json\n"
LEGACY_HEADER = "# Created through the legacy campaign API; dialer validate checks edits.\n"


def legacy_list(campaigns_dir: Path) -> dict[str, Any]:
    """The legacy list: `{"ok": true, "builtin": [...], "custom": [...]}`, each item
    `{"name", "module", "builtin", "key", "file"}` (`module` is the file stem; `name` is the
    campaign's own name, the stem when the file has none it can read)."""
    campaigns_dir = Path(campaigns_dir)
    custom = custom_stems(campaigns_dir)
    out: dict[str, Any] = {"ok": True, "builtin": [], "custom": []}
    for path in campaign_files([campaigns_dir]) if campaigns_dir.is_dir() else []:
        stem = path.stem
        name = declared_name(path) or stem
        is_custom = stem in custom
        out["custom" if is_custom else "builtin"].append(
            {
                "name": name,
                "module": stem,
                "builtin": not is_custom,
                "key": f"{name} ({stem})",
                "file": f"campaigns/{path.name}",
            }
        )
    return out


def slug(name: str) -> str:
    """The stem the legacy API derived from a campaign name: `Q4 Sales!` -> `q4_sales`."""
    text = re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")[:60]
    if not text:
        raise BadInput(f"can not make a file name from campaign name {name!r}: give module")
    return text if text[0].isalnum() else f"c_{text}"


def module_stem(module: str) -> str:
    """The legacy `module` (`q4_sales`, or dotted `backend.campaigns_prompts.google`) as a stem."""
    return check_stem(module.strip().rsplit(".", 1)[-1])


class _Literal(str):
    """A multi-line prompt, dumped as a YAML `|` block so the file reads like the prompt."""


def _literal(dumper: yaml.SafeDumper, value: _Literal) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(value), style="|")


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Literal, _literal)


def _prompt(text: str) -> str:
    text = text.replace("\r\n", "\n").strip()
    # a `|` block can not hold trailing spaces on a line; they mean nothing in a prompt
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return _Literal(text) if "\n" in text else text


def _dump(data: dict[str, Any], campaigns_dir: Path) -> str:
    header = SCHEMA_HEADER if (Path(campaigns_dir) / "campaign.schema.json").exists() else ""
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return header + LEGACY_HEADER + body


def _lead_source(
    campaigns_dir: Path, leads_dir: Path, leads: str | None, legacy_csv: Path | None
) -> tuple[str, str | None, str | None]:
    """(source relative to campaigns/, phone header when not `phone`, dnc list or None)."""
    name = leads or active_name(leads_dir, legacy_csv)
    if name is None:
        raise BadInput(
            "no lead file for the campaign: none is selected",
            hint="upload one (POST /api/agentic/csv/upload), select it "
            "(POST /api/agentic/csv/select), or pass leads=NAME",
        )
    path = lead_file(leads_dir, name)
    column = phone_column(headers_of(path))
    dnc = Path(leads_dir) / "dnc.csv"
    return (
        os.path.relpath(path, campaigns_dir),
        column if column != "phone" else None,
        os.path.relpath(dnc, campaigns_dir) if dnc.is_file() else None,
    )


def legacy_create(
    campaigns_dir: Path,
    leads_dir: Path,
    root: Path,
    name: str,
    agent_text: str,
    session_text: str,
    module: str | None = None,
    leads: str | None = None,
    legacy_csv: Path | None = None,
) -> dict[str, Any]:
    """Write `campaigns/<module>.yaml` from the legacy form: `agent_text` becomes
    `agent.instructions`, `session_text` `agent.opening` (the `[Prospect Name]` placeholders keep
    working); leads come from `leads` or the active lead file. Validated first (422 and nothing
    written when invalid); 409 when the file exists."""
    name = (name or "").strip()
    if not name:
        raise BadInput("name is required")
    if not (agent_text or "").strip() or not (session_text or "").strip():
        raise BadInput("agent_text and session_text are required")
    stem = module_stem(module) if module and module.strip() else slug(name)
    if campaign_path(campaigns_dir, stem) is not None:
        raise Conflict(
            f"campaign {stem!r} already exists",
            hint="use /api/agentic/campaigns/legacy/update, or choose another module",
        )
    source, phone_header, dnc = _lead_source(campaigns_dir, leads_dir, leads, legacy_csv)
    lead_spec: dict[str, Any] = {"source": source}
    if phone_header:
        lead_spec["columns"] = {"phone": phone_header}
    data: dict[str, Any] = {
        "name": name,
        "description": "Created through the legacy campaign API.",
        "leads": lead_spec,
    }
    if dnc:
        data["suppress"] = [dnc]
    data["agent"] = {"instructions": _prompt(agent_text), "opening": _prompt(session_text)}
    data["telephony"] = {
        "sip_trunk_id": "${SIP_OUTBOUND_TRUNK_ID:-}",
        "caller_id": "${SIP_CALLER_ID:-}",
    }
    text = _dump(data, campaigns_dir)
    return write_campaign(campaigns_dir, stem, text, root, must_exist=False, custom=True) | {
        "supabase_error": None
    }


def legacy_update(
    campaigns_dir: Path,
    root: Path,
    module: str | None,
    name: str | None = None,
    agent_text: str | None = None,
    session_text: str | None = None,
) -> dict[str, Any]:
    """Change a custom campaign's name, instructions (`agent_text`) or opening (`session_text`);
    fields left out stay. The campaign is found by `module`, else by `name`. Validated first."""
    custom = custom_stems(campaigns_dir)
    if module and module.strip():
        stem = module_stem(module)
    elif name and name.strip():
        stem = next(
            (
                s
                for s in sorted(custom)
                if (p := campaign_path(campaigns_dir, s)) and declared_name(p) == name.strip()
            ),
            None,
        ) or slug(name)
    else:
        raise BadInput("module (or name) is required to find the campaign")
    path = existing_campaign(campaigns_dir, stem)
    if stem not in custom:
        raise Conflict(
            f"{stem!r} is a built-in campaign: the legacy update only changes custom ones",
            hint=f"edit {relative(path, root)} in git, "
            f"or PUT the whole file to /api/campaigns/{stem}",
        )
    data = raw_yaml(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise Invalid(
            f"campaign {stem!r} can not be read as YAML: fix it with PUT /api/campaigns/{stem}"
        )
    if name and name.strip():
        data["name"] = name.strip()
    agent = data.get("agent") if isinstance(data.get("agent"), dict) else {}
    for key, value in (("instructions", agent_text), ("opening", session_text)):
        if value is not None and value.strip():
            agent.pop(f"{key}_file", None)
            agent[key] = _prompt(value)
        elif isinstance(agent.get(key), str):
            agent[key] = _prompt(agent[key])
    data["agent"] = agent
    text = _dump(data, campaigns_dir)
    return write_campaign(campaigns_dir, stem, text, root, must_exist=True) | {
        "supabase_error": None
    }
