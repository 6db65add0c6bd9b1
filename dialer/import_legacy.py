"""Legacy import: the old Agentic Dialer's prompt modules and campaign registry as campaign files.

The legacy system kept a campaign as a Python module with two string constants (agent
instructions and the session script), listed in `agent.py`'s `CAMPAIGNS` mapping (built-in) and
in `campaigns.json` (created through its dashboard), and chose one per agent process with
`CAMPAIGN_PROMPT_MODULE` / `CAMPAIGN_AGENT_NAME` / `CAMPAIGN_SESSION_NAME`. Modules are read with
`ast` and never imported: a constant is taken only when it is a literal string (plain,
triple-quoted, concatenated, `.strip()`-ed or dedented); anything computed is reported.

Each (module, agent constant, session constant) becomes `campaigns/<stem>.yaml` with its texts in
`campaigns/prompts/<stem>_agent.md` and `<stem>_session.md`, validated before it is kept.
`campaigns/.legacy.json` maps the legacy selectors to those files; `legacy_campaign` reads it.
"""

from __future__ import annotations

import ast
import csv
import difflib
import json
import os
import re
import tempfile
import textwrap
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dialer.errors import DialerError, Location

AGENT_CONST = "ENHANCED_DEMANDIFY_CALLER_INSTRUCTIONS"
SESSION_CONST = "SESSION_INSTRUCTION"
DEFAULT_MODULE = "prompts"
MAPPING_FILE = ".legacy.json"
ENV_MODULE, ENV_AGENT, ENV_SESSION = (
    "CAMPAIGN_PROMPT_MODULE",
    "CAMPAIGN_AGENT_NAME",
    "CAMPAIGN_SESSION_NAME",
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
# Folders a legacy checkout carries that hold no prompt modules of its own.
_SKIP_DIRS = {"node_modules", "__pycache__", "venv", "env", "site-packages", "dist", "build"}
_SCAN_DEPTH = 3
_MAX_MODULE_BYTES = 5 * 1024 * 1024
_ASSIGNS_CONST = re.compile(rf"^\s*({AGENT_CONST}|{SESSION_CONST})\s*[:=+]", re.M)
_JINJA_OPEN = re.compile(r"\{[{%#]")
# A session text longer than this reads as a call script rather than an opening line.
_SCRIPT_CHARS, _SCRIPT_LINES = 400, 4


# ----- reading the legacy folder ---------------------------------------------------------------
def escape_jinja(text: str) -> str:
    """Legacy text as a template that renders to itself: `{{`, `{%` and `{#` become Jinja
    string expressions (`{{ '{{' }}`); the `[Prospect Name]` placeholders are left to work."""
    return _JINJA_OPEN.sub(lambda m: "{{ '" + m.group(0) + "' }}", text)


class _NotLiteral(Exception):
    """A constant whose value only exists when the module runs."""


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _describe(node: ast.AST) -> str:
    if isinstance(node, ast.JoinedStr):
        return "an f-string with {...} fields"
    if isinstance(node, ast.Name):
        return f"the name {node.id}, not a string constant defined above it"
    if isinstance(node, ast.Call):
        func = node.func
        name = _dotted(func) or (f".{func.attr}" if isinstance(func, ast.Attribute) else None)
        return f"a call to {name}()" if name else "a function call"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return "a %-formatted string"
    if isinstance(node, ast.Constant):
        kind = type(node.value).__name__
        return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}, not a string"
    return f"an expression ({type(node).__name__})"


def _literal(node: ast.AST, known: Mapping[str, str]) -> str:
    """The string a constant's expression evaluates to, worked out without running anything."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and all(isinstance(v, ast.Constant) for v in node.values):
        return "".join(str(v.value) for v in node.values)  # type: ignore[attr-defined]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _literal(node.left, known) + _literal(node.right, known)
    if isinstance(node, ast.Name) and node.id in known:
        return known[node.id]
    if isinstance(node, ast.Call) and not node.keywords and len(node.args) <= 1:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in ("strip", "lstrip", "rstrip"):
            chars = _literal(node.args[0], known) if node.args else None
            return getattr(_literal(func.value, known), func.attr)(chars)
        name = _dotted(func)
        if node.args and name in ("dedent", "textwrap.dedent"):
            return textwrap.dedent(_literal(node.args[0], known))
        if node.args and name in ("cleandoc", "inspect.cleandoc"):
            import inspect

            return inspect.cleandoc(_literal(node.args[0], known))
    raise _NotLiteral(_describe(node))


def _assignments(stmt: ast.stmt) -> Iterator[tuple[str, ast.AST | None, ast.AST]]:
    """(name, value expression or None when it can not be paired, the node) per assigned name."""
    if isinstance(stmt, ast.Assign):
        for target in stmt.targets:
            if isinstance(target, ast.Name):
                yield target.id, stmt.value, stmt
            elif isinstance(target, ast.Tuple | ast.List):
                values = stmt.value.elts if isinstance(stmt.value, ast.Tuple | ast.List) else None
                for i, elt in enumerate(target.elts):
                    if isinstance(elt, ast.Name):
                        paired = values[i] if values and len(values) == len(target.elts) else None
                        yield elt.id, paired, stmt
    elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value:
        yield stmt.target.id, stmt.value, stmt
    elif isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
        op = ast.BinOp(left=ast.Name(stmt.target.id), op=stmt.op, right=stmt.value)
        yield stmt.target.id, op, stmt


def read_constants(path: Path, shown: str) -> dict[str, str | DialerError]:
    """Top-level string constants of a Python file, parsed and never run. A constant whose last
    assignment is not a literal string maps to the error saying why."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DialerError(f"can not read prompt module: {exc.strerror}", Location(shown)) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DialerError("prompt module is not UTF-8", Location(shown, line)) from None
    try:
        tree = ast.parse(text, filename=shown)
    except SyntaxError as exc:
        raise DialerError(
            f"syntax error: {exc.msg}", Location(shown, exc.lineno, exc.offset)
        ) from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise DialerError(f"can not parse prompt module: {exc}", Location(shown)) from None
    values: dict[str, str | DialerError] = {}
    known: dict[str, str] = {}
    for stmt in tree.body:
        for name, value, node in _assignments(stmt):
            try:
                if value is None:
                    raise _NotLiteral("an unpacked value")
                known[name] = values[name] = _literal(value, known)
            except _NotLiteral as exc:
                known.pop(name, None)
                values[name] = DialerError(
                    f"{name} is {exc}: computed when the module runs, so it is not imported",
                    Location(shown, node.lineno, node.col_offset + 1),
                    "write the text out as a plain string; [Prospect Name]-style placeholders "
                    "and {{ lead.column }} work in the imported prompt",
                )
            except RecursionError:
                known.pop(name, None)
                values[name] = DialerError(
                    f"{name} is nested too deeply to read", Location(shown, node.lineno)
                )
    return values


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


@dataclass
class LegacyCampaign:
    """One legacy campaign, its texts read: what an imported campaign file is made from."""

    module: str  # dotted, relative to the legacy root (or as the registry wrote it, when inline)
    source: str  # the module file relative to the legacy root, or "campaigns.json"
    agent_name: str
    session_name: str
    instructions: str
    opening: str
    names: list[str] = field(default_factory=list)
    aliases: set[str] = field(default_factory=set)
    custom: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.module, self.agent_name, self.session_name)


@dataclass
class Legacy:
    """What a legacy folder holds: its campaigns, what could not be read, and its lead list."""

    root: Path
    campaigns: list[LegacyCampaign]
    problems: list[DialerError]
    leads_csv: Path | None
    agent: dict[str, Any]
    default_key: tuple[str, str, str] | None


def _suffixes(dotted: str) -> set[str]:
    parts = dotted.split(".")
    return {".".join(parts[i:]) for i in range(len(parts))}


def read_legacy(root: Path) -> Legacy:
    """Read a legacy Agentic Dialer folder without running any of it."""
    root = Path(root)
    if not root.exists():
        raise DialerError(
            "no such folder",
            Location(str(root)),
            "give the legacy Agentic Dialer folder (agent.py, campaigns.json, prompts.py)",
        )
    if not root.is_dir():
        raise DialerError("expected the legacy project folder, got a file", Location(str(root)))
    problems: list[DialerError] = []
    entries: list[_Entry] = []
    agent: dict[str, Any] = {}
    for rel in ("agent.py", "backend/agent.py"):
        if (root / rel).is_file():
            found, settings, errors = _entries_from_agent_py(root / rel, str(root / rel))
            entries += found
            problems += errors
            agent = agent or settings
    for rel in ("campaigns.json", "backend/campaigns.json"):
        if (root / rel).is_file():
            found, errors = _entries_from_json(root / rel, str(root / rel))
            entries += found
            problems += errors
    # modules no registry lists: CAMPAIGN_PROMPT_MODULE could still name them (a registered
    # one comes out once: campaigns are merged by module and constants below)
    for path in _scan_modules(root):
        where = Location(str(path))
        entries.append(
            _Entry(None, _dotted_of(root, path), AGENT_CONST, SESSION_CONST, False, where)
        )

    cache: dict[Path, dict[str, str | DialerError] | DialerError] = {}

    def constants(path: Path) -> dict[str, str | DialerError]:
        if path not in cache:
            try:
                cache[path] = read_constants(path, str(path))
            except DialerError as exc:
                cache[path] = exc
        found = cache[path]
        if isinstance(found, DialerError):
            raise found
        return found

    default_file = _module_file(root, DEFAULT_MODULE)
    by_key: dict[tuple[str, str, str], LegacyCampaign] = {}
    reported: set[tuple] = set()
    for entry in entries:
        assert entry.module is not None
        path = _module_file(root, entry.module)
        try:
            campaign = _campaign_of(root, entry, path, default_file, constants)
        except DialerError as exc:
            mark = (exc.location, exc.message)
            if mark not in reported:
                reported.add(mark)
                problems.append(exc)
            continue
        known = by_key.setdefault(campaign.key, campaign)
        if known is not campaign:
            known.aliases |= campaign.aliases
            known.custom = known.custom or campaign.custom
        for name in campaign.names:
            if name not in known.names:
                known.names.append(name)
    default_key = None
    if default_file is not None:
        default_key = (_dotted_of(root, default_file), AGENT_CONST, SESSION_CONST)
    leads = next(
        (root / r for r in ("leads.csv", "backend/leads.csv") if (root / r).is_file()), None
    )
    if leads is None:
        from dialer.campaign.load import read_dotenv

        configured = read_dotenv(root / ".env").get("LEADS_CSV_PATH")
        candidate = root / configured if configured else None
        leads = candidate if candidate is not None and candidate.is_file() else None
    return Legacy(root, list(by_key.values()), problems, leads, agent, default_key)


def _campaign_of(root, entry: _Entry, path, default_file, constants) -> LegacyCampaign:
    module = entry.module or ""
    names = [n for n in (entry.name, _clean_name(entry.name)) if n]
    if path is None:
        if entry.agent_text and entry.session_text:
            return LegacyCampaign(
                module=_normal_module(module),
                source=os.path.relpath(str(entry.origin.path), root),
                agent_name=entry.agent_name,
                session_name=entry.session_name,
                instructions=entry.agent_text,
                opening=entry.session_text,
                names=list(dict.fromkeys(names)),
                aliases=_suffixes(_normal_module(module)),
                custom=entry.custom,
            )
        label = f"campaign {entry.name!r}" if entry.name else "campaign"
        raise DialerError(
            f"{label}: prompt module {module!r} not found",
            entry.origin,
            "looked in the folder, backend/ and campaigns_prompts/ under both",
        )
    found = constants(path)
    texts, notes = [], []
    for const in (entry.agent_name, entry.session_name):
        value = found.get(const)
        if value is None and default_file is not None and path != default_file:
            # the legacy agent fell back to prompts.py's constant when a module lacked one
            fallback = constants(default_file).get(const)
            if fallback is not None:
                value = fallback
                notes.append(
                    f"{path.relative_to(root)} has no {const}: "
                    f"{default_file.relative_to(root)}'s is used, as the legacy agent did"
                )
        if value is None:
            raise DialerError(f"{const} is not defined in this module", Location(str(path)))
        if isinstance(value, DialerError):
            raise value
        texts.append(value)
    dotted = _dotted_of(root, path)
    return LegacyCampaign(
        module=dotted,
        source=str(path.relative_to(root)),
        agent_name=entry.agent_name,
        session_name=entry.session_name,
        instructions=texts[0],
        opening=texts[1],
        names=list(dict.fromkeys(names)),
        aliases=_suffixes(dotted) | {_normal_module(module)},
        custom=entry.custom,
        notes=notes,
    )


# ----- writing campaign files ------------------------------------------------------------------
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
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        mode = 0o644  # mkstemp's 0600 would hide a file meant for git from the team
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


# ----- legacy selectors -> campaign files ------------------------------------------------------
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
