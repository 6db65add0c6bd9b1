"""Legacy selectors to campaign files: `campaigns/.legacy.json` and `legacy_campaign`.

The legacy agent chose its campaign with CAMPAIGN_PROMPT_MODULE / CAMPAIGN_AGENT_NAME /
CAMPAIGN_SESSION_NAME; the import records which campaign file each selector became.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dialer.errors import DialerError, Location
from dialer.import_legacy.read import Legacy
from dialer.import_legacy.registry import (
    AGENT_CONST,
    DEFAULT_MODULE,
    ENV_AGENT,
    ENV_MODULE,
    ENV_SESSION,
    SESSION_CONST,
    _normal_module,
)
from dialer.import_legacy.write import ImportReport, _read, _shown, _write

MAPPING_FILE = ".legacy.json"


def _load_mapping(campaigns_dir: Path) -> dict[str, Any] | None:
    path = Path(campaigns_dir) / MAPPING_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise DialerError(f"can not read: {exc}", Location(str(path))) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DialerError(
            f"invalid JSON: {exc.msg}",
            Location(str(path), exc.lineno, exc.colno),
            "run dialer import-legacy again to rewrite it",
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("campaigns"), list):
        raise DialerError('expected {"campaigns": [...]}', Location(str(path), 1))
    data["campaigns"] = [
        e
        for e in data["campaigns"]
        if isinstance(e, dict)
        and all(isinstance(e.get(k), str) for k in ("module", "agent_name", "session_name", "file"))
    ]
    return data


def _read_mapping(campaigns_dir: Path, report: ImportReport) -> dict[tuple[str, str, str], dict]:
    try:
        data = _load_mapping(campaigns_dir)
    except DialerError as exc:
        report.notes.append(f"{exc.format()}: it is rewritten")
        return {}
    if data is None:
        return {}
    return {
        (e["module"], e["agent_name"], e["session_name"]): e
        for e in data["campaigns"]
        if (campaigns_dir / e["file"]).is_file()
    }


def _write_mapping(campaigns_dir, mapping, legacy: Legacy, stems, report: ImportReport) -> None:
    if not mapping:
        return
    default = mapping.get(legacy.default_key) if legacy.default_key else None
    data = {
        "format": 1,
        "about": "legacy CAMPAIGN_PROMPT_MODULE / CAMPAIGN_AGENT_NAME / CAMPAIGN_SESSION_NAME "
        "-> campaign file, written by dialer import-legacy",
        "default": default["file"] if default else None,
        "campaigns": sorted(mapping.values(), key=lambda e: (e["file"], e["module"])),
    }
    path = campaigns_dir / MAPPING_FILE
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if _read(path) == text:
        return
    _write(path, text)
    why = f"({len(mapping)} legacy selector(s))"
    report.files.append({"what": "mapping", "action": "wrote", "file": _shown(path), "why": why})


def legacy_campaign(campaigns_dir: Path, env: Mapping[str, str]) -> Path | None:
    """The imported campaign file the legacy selector in `env` names, or None when `env` sets
    none of CAMPAIGN_PROMPT_MODULE, CAMPAIGN_AGENT_NAME, CAMPAIGN_SESSION_NAME.

    The module defaults to `prompts` and the constants to the two standard names, as in the
    legacy agent. A module may be written dotted, as a path, or by a shorter suffix that names
    one imported module. Raises DialerError when the selector names nothing imported."""
    module = (env.get(ENV_MODULE) or "").strip()
    agent = (env.get(ENV_AGENT) or "").strip()
    session = (env.get(ENV_SESSION) or "").strip()
    if not (module or agent or session):
        return None
    module = _normal_module(module or DEFAULT_MODULE)
    agent, session = agent or AGENT_CONST, session or SESSION_CONST
    campaigns_dir = Path(campaigns_dir)
    where = Location(str(campaigns_dir / MAPPING_FILE))
    data = _load_mapping(campaigns_dir)
    if data is None:
        raise DialerError(
            f"{ENV_MODULE}={module} selects a legacy campaign, but none was imported here",
            where,
            "dialer import-legacy LEGACY_FOLDER writes the campaigns and this file",
        )
    entries = data["campaigns"]
    forms = [module, module.removeprefix("backend.")]
    matches = [e for e in entries if e["module"] in forms]
    if not matches:
        matches = [e for e in entries if set(forms) & set(e.get("aliases") or [])]
    if not matches:
        known = sorted({e["module"] for e in entries})
        close = difflib.get_close_matches(module, known, n=1)
        raise DialerError(
            f"{ENV_MODULE}={module}: no legacy campaign from that module was imported",
            where,
            f"did you mean {close[0]}?" if close else f"imported: {', '.join(known) or 'none'}",
        )
    chosen = [e for e in matches if (e["agent_name"], e["session_name"]) == (agent, session)]
    if not chosen:
        pairs = sorted({f"{e['agent_name']} + {e['session_name']}" for e in matches})
        raise DialerError(
            f"{ENV_AGENT}={agent}, {ENV_SESSION}={session}: module {matches[0]['module']} was "
            "not imported with these constants",
            where,
            f"imported with: {'; '.join(pairs)}",
        )
    files = sorted({e["file"] for e in chosen})
    if len(files) > 1:
        raise DialerError(
            f"{ENV_MODULE}={module} names more than one imported module "
            f"({', '.join(sorted(e['module'] for e in chosen))})",
            where,
            "give the full dotted module name",
        )
    path = campaigns_dir / files[0]
    if not path.is_file():
        raise DialerError(
            f"{ENV_MODULE}={module} was imported as {files[0]}, which no longer exists",
            where,
            "run dialer import-legacy again, or unset the variable",
        )
    return path
