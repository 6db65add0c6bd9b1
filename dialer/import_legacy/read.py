"""What a legacy folder holds: its campaigns with their texts read, its lead list, its agent."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dialer.errors import DialerError, Location
from dialer.import_legacy.literal import read_constants
from dialer.import_legacy.registry import (
    AGENT_CONST,
    DEFAULT_MODULE,
    SESSION_CONST,
    _clean_name,
    _dotted_of,
    _entries_from_agent_py,
    _entries_from_json,
    _Entry,
    _module_file,
    _normal_module,
    _scan_modules,
)


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
