"""What a change to a campaign does, against a git revision: prompts, settings, lead set."""

from __future__ import annotations

import difflib
import glob
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from dialer.campaign.load import LoadedCampaign, load_campaign
from dialer.campaign.templates import Prompts
from dialer.errors import DialerError, Location
from dialer.leads import fetch_leads, select_leads

EXAMPLES = 5
_TEMPLATE_KEYS = {"instructions", "instructions_file", "opening", "opening_file", "voicemail"}


@dataclass
class CampaignDiff:
    """A reviewer's view of one campaign change."""

    campaign: str
    rev: str
    old_revision: str | None
    new_revision: str
    settings: list[str] = field(default_factory=list)
    prompt_diff: str = ""
    sample_row: int | None = None
    leads: dict[str, Any] = field(default_factory=dict)
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _git(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=False, check=False)


def _repo_root(path: Path) -> Path:
    res = _git(["rev-parse", "--show-toplevel"], path.parent)
    if res.returncode != 0:
        raise DialerError(
            "not in a git repository", Location(str(path)), "dialer diff compares with git history"
        )
    return Path(res.stdout.decode().strip())


def _materialise_old(loaded: LoadedCampaign, rev: str, root: Path, tmp: Path) -> Path | None:
    """Write the campaign as it was at `rev` (and the files it reads) under `tmp`."""
    rel = loaded.path.resolve().relative_to(root)
    res = _git(["show", f"{rev}:{rel.as_posix()}"], root)
    if res.returncode != 0:
        err = res.stderr.decode(errors="replace")
        if "unknown revision" in err or "bad revision" in err or "invalid object" in err:
            raise DialerError(f"unknown git revision {rev!r}", Location(str(loaded.path)))
        return None
    target = tmp / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(res.stdout)
    refs = _referenced_files(res.stdout)
    for ref in refs:
        pattern = (loaded.path.parent / ref).resolve()
        current = [Path(p) for p in glob.glob(str(pattern))] or [pattern]
        for cur in current:
            try:
                rel_ref = cur.relative_to(root)
            except ValueError:
                continue
            dest = tmp / rel_ref
            dest.parent.mkdir(parents=True, exist_ok=True)
            shown = _git(["show", f"{rev}:{rel_ref.as_posix()}"], root)
            if shown.returncode == 0:
                dest.write_bytes(shown.stdout)
            elif cur.exists():
                shutil.copyfile(cur, dest)
    return target


def _referenced_files(text: bytes) -> list[str]:
    """Paths a campaign file reads (leads, suppression lists, prompt files), read leniently."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return []
    if not isinstance(data, dict):
        return []
    refs: list[str] = []
    leads = data.get("leads")
    if isinstance(leads, dict) and isinstance(leads.get("source"), str):
        refs.append(leads["source"])
    refs += [s for s in data.get("suppress") or [] if isinstance(s, str)]
    owners = [data.get("agent"), *(data.get("variants") or [])]
    for owner in owners:
        if isinstance(owner, dict):
            refs += [
                owner[k]
                for k in ("instructions_file", "opening_file")
                if isinstance(owner.get(k), str)
            ]
    return refs


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for k, v in data.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: data}


def describe_settings(old: LoadedCampaign, new: LoadedCampaign) -> list[str]:
    """Setting changes in words (prompt text is shown as a diff instead)."""

    def dump(loaded: LoadedCampaign) -> dict[str, Any]:
        data = loaded.campaign.model_dump(mode="json")
        for owner in [data["agent"], *data.get("variants", [])]:
            for key in _TEMPLATE_KEYS:
                owner.pop(key, None)
        data["dispositions"] = [d["name"] for d in data["dispositions"]]
        data["variants"] = {v.pop("name"): v for v in data.get("variants", [])}
        return _flatten(data)

    a, b = dump(old), dump(new)
    lines = []
    for key in sorted(set(a) | set(b)):
        before, after = a.get(key), b.get(key)
        if before == after:
            continue
        if key not in a:
            lines.append(f"{key} added: {after}")
        elif key not in b:
            lines.append(f"{key} removed (was {before})")
        else:
            lines.append(f"{key}: {before} → {after}{_meaning(key, before, after)}")
    return lines


def _meaning(key: str, before: Any, after: Any) -> str:
    if key in ("pacing.max_concurrent", "pacing.calls_per_minute") and isinstance(
        before, int | float
    ):
        return " (faster)" if after > before else " (slower)"
    if key == "pacing.max_attempts":
        return " (more attempts per lead)" if after > before else " (fewer attempts per lead)"
    if key == "pacing.window.start":
        return " (calls start earlier)" if after < before else " (calls start later)"
    if key == "pacing.window.end":
        return " (calls end later)" if after > before else " (calls end earlier)"
    if key.startswith("pacing.retry.") and isinstance(before, str) and isinstance(after, str):
        from dialer.campaign.schema import parse_duration

        sooner = parse_duration(after) < parse_duration(before)
        return " (retries sooner)" if sooner else " (retries later)"
    if key == "pacing.window.days":
        gone = sorted(set(before or []) - set(after or []))
        added = sorted(set(after or []) - set(before or []))
        parts = ([f"adds {', '.join(added)}"] if added else []) + (
            [f"drops {', '.join(gone)}"] if gone else []
        )
        return f" ({'; '.join(parts)})" if parts else ""
    return ""


def _prompt_text(loaded: LoadedCampaign, lead: dict, at: datetime) -> str:
    prompts = Prompts(loaded)
    parts = []
    for variant in prompts.variant_names:
        r = prompts.render(lead, at, variant)
        head = f"[{variant}] " if variant else ""
        parts += [
            f"## {head}opening",
            r.opening,
            f"## {head}instructions",
            r.instructions.rstrip(),
            f"## {head}voicemail",
            r.voicemail or "(hang up)",
            f"## {head}voice {r.voice}, temperature {r.temperature}",
        ]
    return "\n".join(parts) + "\n"


def diff_campaign(
    path: Path, rev: str = "HEAD", lead_row: int | None = None, run_log: Path | None = None
) -> CampaignDiff:
    """Compare the campaign in the working tree with the same file at git revision `rev`."""
    new = load_campaign(path)
    root = _repo_root(path)
    at = datetime.now(UTC).replace(microsecond=0)
    con = duckdb.connect()
    with tempfile.TemporaryDirectory(prefix="dialer-diff-") as tmp:
        old_path = _materialise_old(new, rev, root, Path(tmp))
        result = CampaignDiff(new.campaign.name, rev, None, new.revision)
        old = None
        if old_path is None:
            result.note = f"the campaign is new: it does not exist at {rev}"
        else:
            try:
                old = load_campaign(old_path)
                result.old_revision = old.revision
            except DialerError as exc:
                result.note = f"the campaign at {rev} does not load: {exc.message}"
        before_keys: set[str] = set()
        if old is not None:
            result.settings = describe_settings(old, new)
            try:
                select_leads(old, run_log, con)
                con.execute(
                    "CREATE OR REPLACE TEMP TABLE __old AS SELECT * FROM __sel "
                    "WHERE __stage = 'selected'"
                )
                before_keys = {"ok"}
            except DialerError as exc:
                result.note = f"the lead query at {rev} fails: {exc.message}"
        selection = select_leads(new, run_log, con)
        if not before_keys:
            con.execute("CREATE OR REPLACE TEMP TABLE __old AS SELECT * FROM __sel WHERE false")
        result.leads = _lead_delta(con, "prospect_name" in selection.columns)
        sample = (
            fetch_leads(selection, f"__row = {int(lead_row)}", 1)
            if lead_row
            else fetch_leads(selection, limit=1)
        ) or fetch_leads(selection, "true", 1, "__row")
        if sample:
            lead = sample[0]
            result.sample_row = lead["row"]
            old_text = _prompt_text(old, lead, at) if old is not None else ""
            new_text = _prompt_text(new, lead, at)
            result.prompt_diff = "".join(
                difflib.unified_diff(
                    old_text.splitlines(keepends=True),
                    new_text.splitlines(keepends=True),
                    fromfile=f"{rev}",
                    tofile="working tree",
                )
            )
    con.close()
    return result


def _lead_delta(con: duckdb.DuckDBPyConnection, has_name: bool) -> dict[str, Any]:
    name = "prospect_name" if has_name else "NULL"
    before = con.execute("SELECT count(*) FROM __old").fetchone()[0]
    after = con.execute("SELECT count(*) FROM __sel WHERE __stage = 'selected'").fetchone()[0]
    entering = con.execute(
        "SELECT count(*) FROM __sel n WHERE n.__stage = 'selected' "
        "AND n.__e164 NOT IN (SELECT __e164 FROM __old)"
    ).fetchone()[0]
    leaving = con.execute(
        "SELECT count(*) FROM __old o WHERE o.__e164 NOT IN "
        "(SELECT __e164 FROM __sel WHERE __stage = 'selected')"
    ).fetchone()[0]

    def examples(sql: str) -> list[dict]:
        return [
            {"row": r, "name": n, "phone": p}
            for r, n, p in con.execute(sql + f" ORDER BY __row LIMIT {EXAMPLES}").fetchall()
        ]

    return {
        "before": before,
        "after": after,
        "entering": entering,
        "leaving": leaving,
        "entering_examples": examples(
            f"SELECT __row, {name}, __e164 FROM __sel WHERE __stage = 'selected' "
            "AND __e164 NOT IN (SELECT __e164 FROM __old)"
        ),
        "leaving_examples": examples(
            f"SELECT __row, {name}, __e164 FROM __old WHERE __e164 NOT IN "
            "(SELECT __e164 FROM __sel WHERE __stage = 'selected')"
        ),
    }
