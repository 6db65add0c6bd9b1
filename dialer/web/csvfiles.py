"""Lead CSV files in the leads folder: checked uploads, listing, preview, the active file, delete.

The legacy dashboard's CSV management, as library functions the API, CLI and console share.
A file is checked before it is kept (it parses the way a campaign will read it, it has a phone
column) and written atomically, so a campaign never sees half a file or one it can not read.
"""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import duckdb

from dialer.files import write_atomic
from dialer.leads import SMALL_SOURCE, quote_ident, quote_str
from dialer.phones import PHONE_HEADERS, install_phone_sql, normalize_phone
from dialer.web.errors import BadInput, NotFound, TooLarge

ACTIVE_FILE = ".active"  # the selected lead file's name, one line
PREVIEW_LIMIT, PREVIEW_MAX = 10, 1000
EXAMPLES = 50  # invalid/duplicate rows listed in an upload report (all are counted)
_CHUNK = 1 << 16
_NAME_RE = re.compile(r"[\w][\w .()+-]*")


def safe_name(name: str | None) -> str:
    """`name` if it is a plain, visible `.csv` file name; BadInput saying what is wrong if not."""
    name = unicodedata.normalize("NFC", (name or "").strip())
    if not name:
        raise BadInput("a file name is required")
    if "/" in name or "\\" in name or "\0" in name or name in (".", ".."):
        raise BadInput(f"file name must not contain a path: {name!r}", hint="send a bare name")
    if name.startswith("."):
        raise BadInput(f"hidden files are not accepted: {name!r}")
    if not name.lower().endswith(".csv") or len(name) <= 4:
        raise BadInput(f"only .csv files are accepted, got {name!r}")
    if any(unicodedata.category(ch).startswith("C") for ch in name) or not _NAME_RE.fullmatch(name):
        raise BadInput(
            f"file name may use letters, digits, spaces and _ . ( ) + - only, got {name!r}"
        )
    if len(name.encode("utf-8")) > 200:
        raise BadInput("file name is longer than 200 bytes")
    return name


def lead_file(leads_dir: Path, name: str) -> Path:
    """The existing lead file called `name` (checked with `safe_name`); NotFound if absent."""
    path = Path(leads_dir) / safe_name(name)
    if not path.is_file():
        raise NotFound(f"no lead file {name!r}", hint="GET /api/agentic/csv/list shows the files")
    return path


def active_name(leads_dir: Path, legacy_csv: Path | None = None) -> str | None:
    """The selected lead file: `leads/.active`, else the legacy `LEADS_CSV_PATH` when it is a
    file of this folder; None when neither names an existing file."""
    leads_dir = Path(leads_dir)
    try:
        name = (leads_dir / ACTIVE_FILE).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        name = ""
    if name and (leads_dir / name).is_file():
        return name
    if legacy_csv is not None and legacy_csv.parent.resolve() == leads_dir.resolve():
        if legacy_csv.is_file():
            return legacy_csv.name
    return None


def list_files(leads_dir: Path, legacy_csv: Path | None = None) -> dict[str, Any]:
    """`{"ok": true, "active": name|null, "files": [{name, size, mtime, active}]}`, by name.

    Only visible `.csv` files count; `mtime` is epoch seconds (the legacy shape).
    """
    leads_dir = Path(leads_dir)
    active = active_name(leads_dir, legacy_csv)
    files = []
    if leads_dir.is_dir():
        for p in sorted(leads_dir.iterdir(), key=lambda p: p.name.lower()):
            if p.name.startswith(".") or p.suffix.lower() != ".csv" or not p.is_file():
                continue
            st = p.stat()
            files.append(
                {
                    "name": p.name,
                    "size": st.st_size,
                    "mtime": int(st.st_mtime),
                    "active": p.name == active,
                }
            )
    return {"ok": True, "active": active, "files": files}


def select_file(leads_dir: Path, name: str) -> str:
    """Make `name` the active lead file (kept in `leads/.active`); returns the name."""
    path = lead_file(leads_dir, name)
    write_atomic(Path(leads_dir) / ACTIVE_FILE, (path.name + "\n").encode("utf-8"))
    return path.name


def delete_file(leads_dir: Path, name: str) -> bool:
    """Delete a lead file; returns whether it was the active one (which is then cleared)."""
    path = lead_file(leads_dir, name)
    was_active = active_name(leads_dir) == path.name
    path.unlink()
    if was_active:
        (Path(leads_dir) / ACTIVE_FILE).unlink(missing_ok=True)
    return was_active


def _read(con: duckdb.DuckDBPyConnection, path: Path, shown: str) -> list[str]:
    """Load `path` into TEMP table `u` the way campaigns read lead CSVs; returns its headers."""
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE u AS SELECT * FROM "
            f"read_csv({quote_str(str(path))}, header=true, all_varchar=true)"
        )
    except duckdb.Error as exc:
        text = str(exc)
        if "unicode" in text.lower() or "utf" in text.lower():
            raise BadInput(
                f"{shown} is not valid UTF-8", hint="save it as UTF-8 (Excel: 'CSV UTF-8')"
            ) from None
        first = re.sub(r"^[A-Za-z ]+Error: ", "", text.strip().splitlines()[0] if text else "")
        raise BadInput(f"{shown} can not be read as CSV: {first}") from None
    return [r[0] for r in con.execute("DESCRIBE u").fetchall()]


def preview(leads_dir: Path, name: str, limit: int = PREVIEW_LIMIT) -> dict[str, Any]:
    """`{"ok": true, "name", "headers": [...], "rows": [{header: value}], "total": N}`."""
    path = lead_file(leads_dir, name)
    limit = max(0, min(int(limit), PREVIEW_MAX))
    con = duckdb.connect()
    try:
        headers = _read(con, path, path.name)
        total = con.execute("SELECT count(*) FROM u").fetchone()[0]
        rows = con.execute(f"SELECT * FROM u ORDER BY rowid LIMIT {limit}").fetchall()
    finally:
        con.close()
    return {
        "ok": True,
        "name": path.name,
        "headers": headers,
        "rows": [dict(zip(headers, r, strict=True)) for r in rows],
        "total": total,
    }


def read_rows(leads_dir: Path, name: str) -> tuple[list[str], list[tuple]]:
    """Every row of a lead file, as text (for a download)."""
    path = lead_file(leads_dir, name)
    con = duckdb.connect()
    try:
        headers = _read(con, path, path.name)
        return headers, con.execute("SELECT * FROM u ORDER BY rowid").fetchall()
    finally:
        con.close()


def headers_of(path: Path) -> list[str]:
    """A lead CSV's column names, read as a campaign reads them."""
    con = duckdb.connect()
    try:
        return [
            r[0]
            for r in con.execute(
                "DESCRIBE SELECT * FROM "
                f"read_csv({quote_str(str(path))}, header=true, all_varchar=true)"
            ).fetchall()
        ]
    except duckdb.Error as exc:
        raise BadInput(f"{Path(path).name} can not be read as CSV: {exc}") from None
    finally:
        con.close()


def phone_column(headers: list[str]) -> str | None:
    """The header that holds phone numbers: `phone`, else a common alias (case-insensitive)."""
    if "phone" in headers:
        return "phone"
    for h in headers:
        if h.strip().lower() in PHONE_HEADERS:
            return h
    return None


@dataclass
class CsvCheck:
    """What an upload check found. Rows are 1-based data rows (the file line is row + 1)."""

    rows: int
    headers: list[str]
    phone_column: str
    valid: int = 0
    invalid_count: int = 0
    invalid: list[dict[str, Any]] = field(default_factory=list)
    duplicate_count: int = 0
    duplicates: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "headers": self.headers,
            "phone_column": self.phone_column,
            "valid_numbers": self.valid,
            "invalid": {"count": self.invalid_count, "rows": self.invalid},
            "duplicates": {"count": self.duplicate_count, "rows": self.duplicates},
        }


def check_lead_csv(path: Path, region: str = "US", shown: str | None = None) -> CsvCheck:
    """Read a lead CSV as a campaign would; BadInput when it does not parse, has no phone
    column or no rows. Invalid and duplicate numbers are reported, not refused: the campaign's
    lead query skips them and `dialer plan` says so."""
    shown = shown or Path(path).name
    con = duckdb.connect()
    try:
        headers = _read(con, Path(path), shown)
        column = phone_column(headers)
        if column is None:
            raise BadInput(
                f"{shown} has no phone column",
                hint=f"name it phone (or one of {', '.join(sorted(PHONE_HEADERS))}); "
                f"its columns are: {', '.join(headers)}",
                headers=headers,
            )
        rows = con.execute(f"SELECT {quote_ident(column)} FROM u ORDER BY rowid").fetchall()
        if not rows:
            raise BadInput(f"{shown} has a header but no rows")
        raws = sorted({r[0] for r in rows if r[0] is not None})
        if len(raws) <= SMALL_SOURCE:
            e164 = {raw: normalize_phone(raw, region) for raw in raws}
        else:  # a big file: the compiled SQL normaliser, as lead selection does
            install_phone_sql(con)
            e164 = dict(
                con.execute(
                    "SELECT raw, dialer_e164(raw, ?) FROM (SELECT unnest(?::VARCHAR[]) AS raw)",
                    [region, raws],
                ).fetchall()
            )
    finally:
        con.close()
    check = CsvCheck(rows=len(rows), headers=headers, phone_column=column)
    first_row: dict[str, int] = {}
    for i, (raw,) in enumerate(rows, start=1):
        phone = e164.get(raw) if raw is not None else None
        if phone is None:
            check.invalid_count += 1
            if len(check.invalid) < EXAMPLES:
                check.invalid.append({"row": i, "value": raw or ""})
        elif phone in first_row:
            check.duplicate_count += 1
            if len(check.duplicates) < EXAMPLES:
                check.duplicates.append({"row": i, "phone": phone, "first_row": first_row[phone]})
        else:
            first_row[phone] = i
            check.valid += 1
    return check


def save_upload(
    leads_dir: Path,
    name: str,
    stream: BinaryIO,
    max_bytes: int,
    region: str = "US",
) -> dict[str, Any]:
    """Check an uploaded lead CSV and keep it as `leads_dir/name`, atomically, replacing any
    file of that name; nothing is written when it is refused. Returns the upload report:

    `{"ok": true, "name", "remote", "replaced", "size", "rows", "headers", "phone_column",
    "valid_numbers", "invalid": {"count", "rows": [{"row", "value"}]},
    "duplicates": {"count", "rows": [{"row", "phone", "first_row"}]}}`
    (`remote` is the legacy field, the same name: there is no second copy.)
    """
    name = safe_name(name)
    if not re.fullmatch(r"[A-Za-z]{2}", region or ""):
        raise BadInput(f"default_region: expected a two-letter country code, got {region!r}")
    leads_dir = Path(leads_dir)
    leads_dir.mkdir(parents=True, exist_ok=True)
    target = leads_dir / name
    fd, tmp_name = tempfile.mkstemp(dir=leads_dir, prefix=".upload-", suffix=".csv")
    tmp = Path(tmp_name)
    try:
        size = 0
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge(
                        f"file is larger than the {max_bytes // (1024 * 1024)} MB limit",
                        limit_bytes=max_bytes,
                    )
                out.write(chunk)
        if size == 0:
            raise BadInput(f"{name} is empty")
        check = check_lead_csv(tmp, region.upper(), shown=name)
        replaced = target.exists()
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return {
        "ok": True,
        "name": name,
        "remote": name,
        "replaced": replaced,
        "size": size,
        **check.to_dict(),
    }
