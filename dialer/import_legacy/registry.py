"""The legacy registries: agent.py's `CAMPAIGNS`, campaigns.json, and the prompt modules they name.

Also the legacy system's names (its standard constants and selector variables), how a module
name finds its file, and the scan for modules no registry lists. Everything is parsed, never run.
"""

from __future__ import annotations

import ast
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dialer.errors import DialerError, Location
from dialer.import_legacy.literal import _assignments, _dotted, _literal, _NotLiteral

AGENT_CONST = "ENHANCED_DEMANDIFY_CALLER_INSTRUCTIONS"
SESSION_CONST = "SESSION_INSTRUCTION"
DEFAULT_MODULE = "prompts"
ENV_MODULE, ENV_AGENT, ENV_SESSION = (
    "CAMPAIGN_PROMPT_MODULE",
    "CAMPAIGN_AGENT_NAME",
    "CAMPAIGN_SESSION_NAME",
)
# Folders a legacy checkout carries that hold no prompt modules of its own.
_SKIP_DIRS = {"node_modules", "__pycache__", "venv", "env", "site-packages", "dist", "build"}
_SCAN_DEPTH = 3
_MAX_MODULE_BYTES = 5 * 1024 * 1024
_ASSIGNS_CONST = re.compile(rf"^\s*({AGENT_CONST}|{SESSION_CONST})\s*[:=+]", re.M)


@dataclass
class _Entry:
    """One campaign as a legacy registry names it."""

    name: str | None
    module: str | None
    agent_name: str
    session_name: str
    custom: bool
    origin: Location
    agent_text: str | None = None
    session_text: str | None = None


def _clean_name(name: str | None) -> str | None:
    """The legacy UI label without its ` (module)` suffix, as the legacy dashboard showed it."""
    if not name or not name.strip():
        return None
    return re.sub(r"\s*\([^()]*\)\s*$", "", name.strip()) or name.strip()


def _entries_from_agent_py(path: Path, shown: str) -> tuple[list[_Entry], dict, list[DialerError]]:
    """agent.py's built-in `CAMPAIGNS = {name: (module, agent, session)}`, and the voice and
    temperature its RealtimeModel was created with (all by parsing, never by importing)."""
    try:
        tree = ast.parse(path.read_bytes(), filename=shown)
    except SyntaxError as exc:
        return [], {}, [DialerError(f"syntax error: {exc.msg}", Location(shown, exc.lineno))]
    except (OSError, ValueError) as exc:
        return [], {}, [DialerError(f"can not read: {exc}", Location(shown))]
    entries, errors, agent = [], [], {}
    for stmt in tree.body:
        for name, value, _node in _assignments(stmt):
            if name != "CAMPAIGNS" or not isinstance(value, ast.Dict):
                continue
            for key, item in zip(value.keys, value.values, strict=True):
                where = Location(shown, (key or item).lineno)
                parts = item.elts if isinstance(item, ast.Tuple | ast.List) else [item]
                try:
                    label = _literal(key, {}) if key is not None else None
                    strings = [_literal(p, {}) for p in parts]
                except _NotLiteral:
                    errors.append(
                        DialerError("CAMPAIGNS entry is not literal strings, skipped", where)
                    )
                    continue
                if not 1 <= len(strings) <= 3 or label is None:
                    errors.append(
                        DialerError(
                            "CAMPAIGNS entry is not name: (module, agent, session), skipped", where
                        )
                    )
                    continue
                strings += [AGENT_CONST, SESSION_CONST][len(strings) - 1 :]
                entries.append(_Entry(label, strings[0], strings[1], strings[2], False, where))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and (_dotted(node.func) or "").endswith("RealtimeModel"):
            for kw in node.keywords:
                if kw.arg in ("voice", "temperature") and isinstance(kw.value, ast.Constant):
                    agent.setdefault(kw.arg, kw.value.value)
    if not isinstance(agent.get("voice"), str):
        agent.pop("voice", None)
    if not isinstance(agent.get("temperature"), int | float) or not 0 <= agent["temperature"] <= 2:
        agent.pop("temperature", None)
    return entries, agent, errors


def _first(item: Mapping, *keys: str) -> Any:
    for k in keys:
        if isinstance(item.get(k), str) and item[k].strip():
            return item[k].strip()
    return None


def _json_items(data: Any, custom: bool) -> Iterator[tuple[str | None, Any, bool]]:
    """(key, value, custom) per campaign in the shapes campaigns.json took: a list of objects,
    a mapping name -> object or (module, agent, session), or those under campaigns, custom or
    builtin keys."""
    if isinstance(data, list):
        for item in data:
            yield None, item, custom
        return
    if not isinstance(data, dict):
        return
    groups = [k for k in ("campaigns", "items", "custom", "builtin") if k in data]
    if groups and all(isinstance(data[k], list | dict) for k in groups):
        for k in groups:
            yield from _json_items(data[k], k != "builtin" and custom)
        return
    for key, value in data.items():
        yield str(key), value, custom


def _entries_from_json(path: Path, shown: str) -> tuple[list[_Entry], list[DialerError]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        return [], [DialerError(f"invalid JSON: {exc.msg}", Location(shown, exc.lineno, exc.colno))]
    except (OSError, UnicodeDecodeError) as exc:
        return [], [DialerError(f"can not read: {exc}", Location(shown))]
    entries, errors = [], []
    for i, (key, value, custom) in enumerate(_json_items(data, True), start=1):
        where = Location(shown)
        if isinstance(value, str):
            value = {"module": value}
        elif (
            isinstance(value, list)
            and 1 <= len(value) <= 3
            and all(isinstance(v, str) for v in value)
        ):
            value = dict(zip(("module", "agent_name", "session_name"), value, strict=False))
        if not isinstance(value, dict):
            errors.append(
                DialerError(f"campaign {i}: expected an object, got {type(value).__name__}", where)
            )
            continue
        name = _first(value, "name", "display_name", "label", "title", "key") or key
        module = _first(value, "module", "module_path", "prompt_module", "path", "file")
        consts = []
        for names in (
            ("agent_name", "agent_attr", "agent_const", "agent_constant", "agent"),
            ("session_name", "session_attr", "session_const", "session_constant", "session"),
        ):
            given = _first(value, *names)
            consts.append(given if given and given.isidentifier() else None)
        agent_text = value.get("agent_text") or (
            value.get("agent") if isinstance(value.get("agent"), str) and not consts[0] else None
        )
        session_text = value.get("session_text") or (
            value.get("session")
            if isinstance(value.get("session"), str) and not consts[1]
            else None
        )
        if isinstance(value.get("custom"), bool):
            custom = value["custom"]
        elif isinstance(value.get("builtin"), bool):
            custom = not value["builtin"]
        if not module and not (agent_text and session_text):
            label = f"campaign {i}" + (f" ({name!r})" if name else "")
            errors.append(DialerError(f"{label}: no module named, skipped", where))
            continue
        if module is None:
            module = re.sub(r"[^a-z0-9]+", "_", (name or f"campaign_{i}").lower()).strip("_")
        entries.append(
            _Entry(
                name,
                module,
                consts[0] or AGENT_CONST,
                consts[1] or SESSION_CONST,
                custom,
                where,
                agent_text if isinstance(agent_text, str) else None,
                session_text if isinstance(session_text, str) else None,
            )
        )
    return entries, errors


def _normal_module(spec: str) -> str:
    """A module as `CAMPAIGN_PROMPT_MODULE` or a registry wrote it, as a dotted name."""
    spec = spec.strip().replace("\\", "/").removeprefix("./")
    if spec.endswith(".py"):
        spec = spec[:-3]
    return spec.replace("/", ".").strip(".").removesuffix(".__init__")


def _inside(root: Path, path: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def _module_file(root: Path, spec: str) -> Path | None:
    """The file a legacy module name meant: the legacy agent ran from the project root or from
    `backend/`, and a bare custom-campaign name lived in `campaigns_prompts/`."""
    parts = [p for p in _normal_module(spec).split(".") if p]
    if not parts or ".." in parts:
        return None
    forms = [parts]
    if parts[0] == "backend" and len(parts) > 1:
        forms.append(parts[1:])
    if len(parts) == 1:
        forms.append(["campaigns_prompts", *parts])
    for base in (root, root / "backend"):
        for form in forms:
            for candidate in (
                base.joinpath(*form[:-1], form[-1] + ".py"),
                base.joinpath(*form, "__init__.py"),
            ):
                if candidate.is_file() and _inside(root, candidate):
                    return candidate
    return None


def _dotted_of(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def _scan_modules(root: Path) -> Iterator[Path]:
    """Python files that assign one of the standard constants, a few folders deep."""
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        depth = len(here.relative_to(root).parts)
        dirs[:] = sorted(
            d
            for d in dirs
            if depth < _SCAN_DEPTH
            and not d.startswith(".")
            and d not in _SKIP_DIRS
            and not (here / d / "pyvenv.cfg").exists()
        )
        for name in sorted(files):
            path = here / name
            if not name.endswith(".py") or name == "agent.py":
                continue
            try:
                if path.stat().st_size > _MAX_MODULE_BYTES:
                    continue
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            if _ASSIGNS_CONST.search(text):
                yield path
