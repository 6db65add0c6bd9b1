"""Campaign files over HTTP: list them with their errors, read one, write one validated first.

A campaign is addressed by its file stem (`campaigns/q4.yaml` is `q4`), which is also the
legacy API's `module`. Every write is validated exactly as `dialer validate` does (schema,
templates against the real leads, lead SQL, compliance lints, unique names) on a temporary copy
beside the target, and only a valid file replaces the target (atomic rename); an invalid one is
refused with every error and nothing is written.

Built-in and custom (the legacy list's two groups): a campaign created through the API (legacy
create, or PUT of a new name) is recorded in `campaigns/.custom`; every other campaign file, the
ones the project ships and keeps in git, is built-in.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from pathlib import Path
from typing import Any

import yaml

from dialer.errors import DialerError, Location
from dialer.files import file_mode, write_atomic
from dialer.validate import campaign_files, validate_file, validate_paths
from dialer.web.errors import BadInput, Conflict, Invalid, NotFound, error_dict

CUSTOM_REGISTRY = ".custom"
MAX_CAMPAIGN_BYTES = 1024 * 1024
_STEM_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")
_WRITE_LOCK = threading.Lock()  # one campaign write at a time: check-then-rename stays atomic


# ----- names and files -------------------------------------------------------------------------
def check_stem(stem: str) -> str:
    """A campaign's file stem, if it is a plain name (letters, digits, _ and -)."""
    if not _STEM_RE.fullmatch(stem or ""):
        raise BadInput(
            f"campaign name must be a file stem of letters, digits, _ and -, got {stem!r}",
            hint="campaigns/q4.yaml is q4",
        )
    return stem


def campaign_path(campaigns_dir: Path, stem: str) -> Path | None:
    """`campaigns/<stem>.yaml` (or `.yml`) when it exists."""
    check_stem(stem)
    for suffix in (".yaml", ".yml"):
        p = Path(campaigns_dir) / f"{stem}{suffix}"
        if p.is_file():
            return p
    return None


def existing_campaign(campaigns_dir: Path, stem: str) -> Path:
    path = campaign_path(campaigns_dir, stem)
    if path is None:
        raise NotFound(f"no campaign file {stem!r}", hint="GET /api/campaigns lists them")
    return path


def custom_stems(campaigns_dir: Path) -> set[str]:
    """Stems of the campaigns created through the API (`campaigns/.custom`)."""
    try:
        lines = (Path(campaigns_dir) / CUSTOM_REGISTRY).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return set()
    return {ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")}


def _register_custom(campaigns_dir: Path, stem: str) -> None:
    stems = custom_stems(campaigns_dir) | {stem}
    text = "# campaigns created through the dialer API (the legacy 'custom' group)\n"
    text += "".join(f"{s}\n" for s in sorted(stems))
    write_atomic(Path(campaigns_dir) / CUSTOM_REGISTRY, text.encode("utf-8"))


def raw_yaml(text: str) -> Any:
    """The file's YAML as data, without `${ENV}` interpolation (values never leave the server)."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return None


def declared_name(path: Path) -> str | None:
    try:
        data = raw_yaml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return None
    name = data.get("name") if isinstance(data, dict) else None
    return name if isinstance(name, str) else None


# ----- reading ---------------------------------------------------------------------------------
def relative(path: str | Path, root: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def _report_dict(report, root: Path, custom: set[str]) -> dict[str, Any]:
    path = Path(report.path)
    return {
        "name": path.stem,
        "file": relative(path, root),
        "campaign": report.name,
        "custom": path.stem in custom,
        "valid": report.ok,
        "revision": report.revision,
        "leads_selected": report.leads_selected,
        "errors": [error_dict(e, str(root)) for e in report.errors],
    }


def list_campaigns(campaigns_dir: Path, root: Path) -> list[dict[str, Any]]:
    """Every campaign file, validated as `dialer validate` does, valid or with its errors.

    `leads_selected` counts leads before the run log's do-not-call table (lead files only).
    """
    campaigns_dir = Path(campaigns_dir)
    if not campaigns_dir.is_dir():
        return []
    custom = custom_stems(campaigns_dir)
    return [_report_dict(r, root, custom) for r in validate_paths([campaigns_dir])]


def read_campaign(campaigns_dir: Path, stem: str, root: Path) -> dict[str, Any]:
    """One campaign: `{"name", "file", "text", "parsed", "valid", "errors", ...}`.

    `parsed` is the YAML as written (no `${ENV}` values filled in: they stay on the server).
    """
    path = existing_campaign(campaigns_dir, stem)
    text = path.read_text(encoding="utf-8", errors="replace")
    report = validate_file(path)
    return {
        "ok": True,
        **_report_dict(report, root, custom_stems(campaigns_dir)),
        "text": text,
        "parsed": raw_yaml(text),
    }


# ----- writing ---------------------------------------------------------------------------------
def _retarget(errors: list[DialerError], tmp: Path, target: Path) -> list[DialerError]:
    """Errors found in the temporary copy, pointed at the file the user is writing."""
    out = []
    for e in errors:
        loc = e.location
        if loc is not None and loc.path == str(tmp):
            loc = Location(str(target), loc.line, loc.col)
        out.append(DialerError(e.message, loc, e.hint, e.field))
    return out


def write_campaign(
    campaigns_dir: Path,
    stem: str,
    text: str,
    root: Path,
    *,
    must_exist: bool | None = None,
    custom: bool | None = None,
) -> dict[str, Any]:
    """Validate `text` as `campaigns/<stem>.yaml` and, if valid, write it atomically.

    `must_exist`: True to only replace, False to only create, None for either. `custom`: record
    it as created through the API (None: when it is new). Raises `Invalid` (422) with every
    error when it does not validate; nothing is written then.
    """
    check_stem(stem)
    campaigns_dir = Path(campaigns_dir)
    data = text.replace("\r\n", "\n").encode("utf-8")
    if len(data) > MAX_CAMPAIGN_BYTES:
        raise BadInput(f"campaign file is larger than {MAX_CAMPAIGN_BYTES // 1024} KB")
    campaigns_dir.mkdir(parents=True, exist_ok=True)
    with _WRITE_LOCK:
        existing = campaign_path(campaigns_dir, stem)
        if must_exist is True and existing is None:
            raise NotFound(f"no campaign file {stem!r}")
        if must_exist is False and existing is not None:
            raise Conflict(
                f"campaign {stem!r} already exists ({relative(existing, root)})",
                hint="use the update endpoint, or choose another module name",
            )
        target = existing or campaigns_dir / f"{stem}.yaml"
        unreadable = _unprintable(text, target)
        if unreadable is not None:
            raise Invalid(
                f"campaign {stem!r} is invalid: nothing was written",
                errors=[error_dict(unreadable, str(root))],
            )
        fd, tmp_name = tempfile.mkstemp(dir=campaigns_dir, prefix=f".{stem}.", suffix=".yaml.tmp")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            report = validate_file(tmp)
            errors = _retarget(report.errors, tmp, target)
            if report.name is not None:
                errors.extend(_name_clash(campaigns_dir, target, report.name, report, tmp))
            if errors:
                raise Invalid(
                    f"campaign {stem!r} is invalid: nothing was written",
                    errors=[error_dict(e, str(root)) for e in errors],
                )
            os.chmod(tmp, file_mode(target))
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        if custom or (custom is None and existing is None):
            _register_custom(campaigns_dir, stem)
    return {
        "ok": True,
        "name": stem,
        "module": stem,
        "file": relative(target, root),
        "campaign": report.name,
        "created": existing is None,
        "revision": report.revision,
        "leads_selected": report.leads_selected,
    }


def _unprintable(text: str, target: Path) -> DialerError | None:
    """The first character a YAML file may not hold (such as a control character other than tab
    and newline), as an error at its line and column; None when there is none.

    Checked before the file is validated: the campaign loader lets the YAML reader's error for
    such a character escape unreported, which made the API answer 500."""
    text = text.replace("\r\n", "\n")
    found = yaml.reader.Reader.NON_PRINTABLE.search(text)
    if found is None:
        return None
    line = text.count("\n", 0, found.start()) + 1
    col = found.start() - (text.rfind("\n", 0, found.start()) + 1) + 1
    return DialerError(
        f"invalid YAML: character #x{ord(found.group()):04x} is not allowed in a YAML file",
        Location(str(target), line, col),
        "remove it; inside a double-quoted string an escape such as \\x80 stands for it",
    )


def _name_clash(
    campaigns_dir: Path, target: Path, name: str, report, tmp: Path
) -> list[DialerError]:
    for other in campaign_files([campaigns_dir]):
        if other.resolve() == target.resolve() or other.resolve() == tmp.resolve():
            continue
        if declared_name(other) == name:
            loc = report.name_location
            loc = Location(str(target), loc.line, loc.col) if loc else Location(str(target), 1, 1)
            return [
                DialerError(
                    f"campaign name {name!r} is already used by campaigns/{other.name}",
                    loc,
                    "campaign names are unique: the run log keys attempts by them",
                    field="name",
                )
            ]
    return []
