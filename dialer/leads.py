"""Select a campaign's leads in one DuckDB query: read, map, filter, normalise, dedupe, suppress."""

from __future__ import annotations

import contextlib
import functools
import glob
import re
import threading
import uuid
import zoneinfo
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from dialer.campaign.load import LoadedCampaign
from dialer.campaign.schema import Leads
from dialer.campaign.sqlcheck import check_fragment
from dialer.errors import DialerError, LeadSourceError, Location
from dialer.phones import (
    PHONE_HEADERS,
    fast_phone_sql,
    fast_timezones_sql,
    install_fast_phone_sql,
    install_phone_sql,
    normalize_phone,
    timezones_for_phone,
    with_timezones_sql,
)
from dialer.store.connect import attach_run_log

# Stages a source row can stop at, in the order they are checked.
STAGES = (
    "not_matched",
    "invalid_phone",
    "duplicate",
    "suppressed",
    "no_timezone",
    "over_limit",
)
# Up to this many distinct numbers are normalised in Python; more go through compiled SQL.
SMALL_SOURCE = 5_000
# Lead files this big (in all) have the suppression lists read alongside them, on another thread.
BIG_SOURCE_BYTES = 4_000_000
_LINE_RE = re.compile(r"[Ll]ine:? (\d+)")
# a suppression list entry that may be a number: it has a digit, or is written in another script
_MAY_BE_A_NUMBER = re.compile(r"[0-9]|[^\x00-\x7f]")


def _whole_number(raw: str, region: str) -> bool:
    """Whether phonenumbers reads `raw` as a number of a length that can be dialed as written
    (valid or not): not a fragment, a local number without its area code, or two numbers."""
    import phonenumbers

    try:
        number = phonenumbers.parse(raw, region.upper() if region else None)
    except phonenumbers.NumberParseException:
        return False
    reason = phonenumbers.is_possible_number_with_reason(number)
    return reason == phonenumbers.ValidationResult.IS_POSSIBLE


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass
class Selection:
    """The outcome of a campaign's lead query: counts per stage, and `__sel` on `con`."""

    con: duckdb.DuckDBPyConnection
    columns: list[str]
    source_rows: int
    counts: dict[str, int]
    has_run_log: bool
    source_files: list[Path] = field(default_factory=list)
    log_catalog: str = "log"

    @property
    def selected(self) -> int:
        return self.counts.get("selected", 0)


def _source_files(loaded: LoadedCampaign) -> list[Path]:
    spec = loaded.campaign.leads.source
    where = loaded.locate(("leads", "source"))
    pattern = str(loaded.resolve(spec))
    files = sorted(Path(p) for p in glob.glob(pattern)) if glob.has_magic(pattern) else []
    if not glob.has_magic(pattern):
        files = [Path(pattern)]
        if not files[0].exists():
            raise LeadSourceError(
                f"lead source not found: {spec}",
                where,
                f"paths are relative to the campaign file's folder ({loaded.base_dir})",
                field="leads.source",
            )
    if not files:
        raise LeadSourceError(f"no lead files match {spec}", where, field="leads.source")
    for f in files:
        if f.is_dir():
            raise LeadSourceError(f"lead source is a folder: {f}", where, field="leads.source")
    return files


def _reader(files: list[Path], overrides: dict[str, str] | None = None) -> str:
    names = "[" + ", ".join(quote_str(str(f)) for f in files) + "]"
    suffixes = {f.suffix.lower() for f in files}
    if suffixes <= {".parquet", ".pq"}:
        return f"read_parquet({names}, union_by_name=true)"
    if suffixes <= {".json", ".jsonl", ".ndjson"}:
        return f"read_json_auto({names}, union_by_name=true)"
    if suffixes <= {".csv", ".tsv", ".txt"}:
        types = ""
        if overrides:
            types = (
                ", types={"
                + ", ".join(f"{quote_str(k)}: {quote_str(v)}" for k, v in overrides.items())
                + "}"
            )
        return f"read_csv({names}, header=true, union_by_name=true{types})"
    raise LeadSourceError(
        f"unsupported lead file type {sorted(suffixes)}: expected .csv, .parquet or .json",
        Location(str(files[0])),
    )


def _source_error(exc: duckdb.Error, files: list[Path]) -> LeadSourceError:
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    line = _LINE_RE.search(text)
    path = next((str(f) for f in files if str(f) in text), str(files[0]))
    if "unicode" in text.lower() or "utf-8" in text.lower() or "utf8" in text.lower():
        return LeadSourceError(
            "lead file is not valid UTF-8",
            Location(path, int(line.group(1)) if line else None),
            "save it as UTF-8 (Excel: 'CSV UTF-8')",
        )
    first = re.sub(r"^[A-Za-z ]+Error: ", "", first)
    return LeadSourceError(
        f"can not read lead file: {first}",
        Location(path, int(line.group(1)) if line else None),
    )


@dataclass
class _Source:
    files: list[Path]
    headers: list[str]
    reader: str  # the read_* call, the phone and timezone columns read as text


def _describe_source(
    loaded: LoadedCampaign, con: duckdb.DuckDBPyConnection, files: list[Path] | None = None
) -> _Source:
    """The lead files (`files`, else found now) and their headers, checked against
    `leads.columns`."""
    files = files or _source_files(loaded)
    leads = loaded.campaign.leads
    phone_header = leads.columns.get("phone", "phone")
    sniffed = _sniff_csv(con, files)
    if sniffed is not None:
        headers = list(sniffed[1])
    else:
        try:
            described = con.execute(f"DESCRIBE SELECT * FROM {_reader(files)}").fetchall()
        except duckdb.Error as exc:
            raise _source_error(exc, files) from None
        headers = [r[0] for r in described]
    if not headers or headers == ["column0"] and files[0].stat().st_size == 0:
        raise LeadSourceError("lead file is empty", Location(str(files[0]), 1))
    missing = [(k, v) for k, v in leads.columns.items() if v not in headers]
    for key, header in missing:
        raise LeadSourceError(
            f"leads.columns.{key}: column {header!r} is not in the lead file",
            loaded.locate(("leads", "columns", key)),
            f"the file's columns are: {', '.join(headers)}",
        )
    if phone_header not in headers:
        guesses = [h for h in headers if any(w in h.lower() for w in ("phone", "mobile", "tel"))]
        hint = (
            f"map it in the campaign: leads.columns: {{phone: {guesses[0]!r}}}"
            if guesses
            else f"the file's columns are: {', '.join(headers)}"
        )
        raise LeadSourceError("lead file has no phone column", Location(str(files[0]), 1), hint)
    overrides = {phone_header: "VARCHAR"}
    tz_header = leads.columns.get("timezone", "timezone")
    if tz_header in headers:
        overrides[tz_header] = "VARCHAR"
    if sniffed is not None:  # read as sniffed (a second sniff would cost as much again)
        options, types = sniffed
        types = {**types, **overrides}
        columns = "{" + ", ".join(f"{quote_str(k)}: {quote_str(v)}" for k, v in types.items()) + "}"
        reader = f"read_csv({quote_str(str(files[0]))}, {options}, columns={columns})"
    else:
        csv = files[0].suffix.lower() in (".csv", ".tsv", ".txt")
        reader = _reader(files, overrides if csv else None)
    return _Source(files, headers, reader)


def _sniff_csv(
    con: duckdb.DuckDBPyConnection, files: list[Path]
) -> tuple[str, dict[str, str]] | None:
    """For one CSV file: the dialect DuckDB's sniffer finds (read_csv options, with auto
    detection off) and the columns with their types. None for anything else, or when the
    sniffer fails (DESCRIBE then words the error)."""
    if len(files) != 1 or files[0].suffix.lower() not in (".csv", ".tsv", ".txt"):
        return None
    try:
        found = con.execute(
            "SELECT Delimiter, Quote, Escape, NewLineDelimiter, Comment, SkipRows, HasHeader,"
            " Columns, DateFormat, TimestampFormat"
            f" FROM sniff_csv({quote_str(str(files[0]))}, header=true)"
        ).fetchone()
    except duckdb.Error:
        return None
    delim, quote, escape, new_line, comment, skip, header, columns, date, stamp = found

    def text(value: str | None) -> str:
        return quote_str("" if value in (None, "(empty)") else value)

    options = (
        f"auto_detect=false, delim={text(delim)}, quote={text(quote)}, escape={text(escape)},"
        f" new_line={text(new_line)}, skip={int(skip)}, comment={text(comment)},"
        f" header={'true' if header else 'false'}"
    )
    if date not in (None, "", "(empty)"):
        options += f", dateformat={text(date)}"
    if stamp not in (None, "", "(empty)"):
        options += f", timestampformat={text(stamp)}"
    return options, {c["name"]: c["type"] for c in columns}


def _load_source(
    loaded: LoadedCampaign,
    con: duckdb.DuckDBPyConnection,
    source: _Source,
    where: str | None,
    keep: list[str] | None = None,
    region: str | None = None,
    stored: list[str] | None = None,
) -> int:
    """Read the source once into TEMP table `__src` and return its number of rows.

    `__src` has the lead columns (renamed by `leads.columns`; only those in `keep` when given),
    `__row` (the 1-based row across the files, in name order) and `__rid` (the row of its table
    `__all`). With a `where` it has only the matching rows (the bulk of a big file is never
    kept), and only the columns in `stored`, when given, of those it read.
    With `region`, it also has `fast_phone_sql`'s `__e164` and `__region` of the matching
    rows' numbers read in that region, computed as the file is read (on every core).
    Raises duckdb.Error when `where` fails on the data.
    """
    names = [name for _, name in _mapped_columns(loaded, source.headers, keep)]
    mapped = f"SELECT {_mapped_select(loaded, source.headers, keep)} FROM {source.reader}"
    # The file is read in parallel into a table that keeps the order of its rows (DuckDB's
    # preserve_insertion_order): a row's rowid is its place in the source. Numbering rows with
    # a window would read the file on one core. But a `where` that calls a window function
    # passes rows on in the order its window sorts them: for it, the rows are numbered before
    # (a window over () keeps the source's order).
    row = "rowid + 1"
    if where and check_fragment("where", where, con).windows:
        mapped, row = f"SELECT row_number() OVER () AS __n, * FROM ({mapped})", "__n"
    # in `__all` the lead columns are __c0, __c1...: a lead column named rowid would hide the
    # rowid that numbers the rows
    inner = [f"__c{i}" for i in range(len(names))]
    if where:
        # `where` is evaluated once per row, as a column (a filter would have to repeat it for
        # `__m`, and could not hold a window function); the other columns are kept for the
        # matching rows only
        if stored is not None:
            names = [n for n in names if n in stored]
            inner = inner[: len(names)]
        kept = "".join(
            f", CASE WHEN __m THEN {quote_ident(n)} END AS {c}"
            for n, c in zip(names, inner, strict=True)
        )
        if row == "__n":
            kept += ", __n"
        read = (
            f"SELECT __m{kept} FROM (SELECT coalesce(({where}), false) AS __m, * FROM ({mapped}))"
        )
    else:
        kept = "".join(f", {quote_ident(n)} AS {c}" for n, c in zip(names, inner, strict=True))
        read = f"SELECT true AS __m{kept} FROM ({mapped})"
    numbers = ""
    if region and "phone" in names:
        fast = fast_phone_sql(read, inner[names.index("phone")], region)
        if fast is not None:
            read, numbers = fast, ", __e164, __region"
    ordered = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()[0]
    if not ordered:  # (for this statement only: the setting is the database's)
        con.execute("SET preserve_insertion_order = true")
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE __all AS {read}")
    finally:
        if not ordered:
            con.execute("SET preserve_insertion_order = false")
    columns = ", ".join(f"{c} AS {quote_ident(n)}" for n, c in zip(names, inner, strict=True))
    # (`__rid`: the row of `__all`, for an UPDATE of it)
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW __src AS SELECT {row} AS __row, rowid AS __rid,"
        f" {columns}{numbers} FROM __all WHERE __m"
    )
    rows = con.execute("SELECT count(*) FROM __all").fetchone()[0]
    if rows == 0:
        raise LeadSourceError(
            "lead file has a header but no rows", Location(str(source.files[0]), 2)
        )
    return rows


def _read_all(loaded: LoadedCampaign, con: duckdb.DuckDBPyConnection, source: _Source) -> int:
    try:
        return _load_source(loaded, con, source, None)
    except duckdb.Error as exc:
        raise _source_error(exc, source.files) from None


def read_source(loaded: LoadedCampaign, con: duckdb.DuckDBPyConnection) -> list[Path]:
    """Load every row of the lead source into TEMP table `__src` (see `_load_source`)."""
    source = _describe_source(loaded, con)
    _read_all(loaded, con, source)
    return source.files


def lead_columns(loaded: LoadedCampaign, con: duckdb.DuckDBPyConnection) -> list[str]:
    """The lead columns templates and SQL see (of `__src`): source headers, renamed by
    `leads.columns`."""
    internal = ("__row", "__rid", "__e164", "__region")
    return [r[0] for r in con.execute("DESCRIBE __src").fetchall() if r[0] not in internal]


def _mapped_columns(
    loaded: LoadedCampaign, headers: list[str], keep: list[str] | None = None
) -> list[tuple[str, str]]:
    """(header, lead column name) of the columns read: renamed by `leads.columns`, only those
    in `keep` when given."""
    mapping = loaded.campaign.leads.columns
    renamed = {v: k for k, v in mapping.items()}
    targets = set(mapping)
    out = []
    for h in headers:
        name = renamed.get(h, h)
        if (h not in renamed and h in targets) or (keep is not None and name not in keep):
            continue
        out.append((h, name))
    return out


def _mapped_select(
    loaded: LoadedCampaign, headers: list[str], keep: list[str] | None = None
) -> str:
    return ", ".join(
        quote_ident(h) if h == name else f"{quote_ident(h)} AS {quote_ident(name)}"
        for h, name in _mapped_columns(loaded, headers, keep)
    )


def check_lead_sql(
    loaded: LoadedCampaign, columns: list[str], con: duckdb.DuckDBPyConnection | None = None
) -> list[DialerError]:
    """Problems in `where`/`order_by`: parse errors, forbidden reads, unknown columns (parsed
    on `con` when given)."""
    errors: list[DialerError] = []
    known = {c.lower() for c in columns}
    for kind in ("where", "order_by"):
        sql = getattr(loaded.campaign.leads, kind)
        if not sql:
            continue
        where = loaded.locate(("leads", kind))
        result = check_fragment(kind, sql, con)
        for problem in result.problems:
            errors.append(DialerError(problem.message, where, field=f"leads.{kind}"))
        for col in sorted(result.columns):
            if col.lower() not in known:
                import difflib

                close = difflib.get_close_matches(col, columns, n=1)
                errors.append(
                    DialerError(
                        f"column {col!r} is not a lead column",
                        where,
                        f"did you mean {close[0]!r}?"
                        if close
                        else f"lead columns: {', '.join(columns)}",
                        field=f"leads.{kind}",
                    )
                )
    return errors


class _Lists:
    """The suppression lists' numbers: as written (table `raw`, one VARCHAR column `phone`) and,
    on the SQL path, in E.164 (table `sp`, column `__e164`, each valid number once).

    Read on `con` when asked, or (`alongside`) at once on a thread of its own while `con` reads
    the lead file, which takes one core: through a cursor, into an in-memory catalog of its own
    (the TEMP tables of `con` are not seen by a cursor). `close()` waits for the thread and
    drops that catalog; `wait()` re-raises what went wrong there.
    """

    def __init__(self, loaded: LoadedCampaign, con: duckdb.DuckDBPyConnection, alongside: bool):
        self.loaded, self.con = loaded, con
        self.region = loaded.campaign.leads.default_region
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None
        self.catalog: str | None = None
        self.raw, self.sp = "__suppress_raw", "__sp"
        self.done_alongside = False  # (`sp` made on the thread)
        if alongside:
            catalog = f"__dialer_lists_{uuid.uuid4().hex[:16]}"
            try:
                con.execute(f"ATTACH ':memory:' AS {catalog}")
            except duckdb.Error:  # (a read-only database can not): read them here, later
                return
            self.catalog = catalog
            self.raw, self.sp = f"{catalog}.raw", f"{catalog}.sp"
            self.thread = threading.Thread(
                target=self._alongside, args=(con.cursor(),), name="dialer-lists", daemon=True
            )
            self.thread.start()

    def _table(self, name: str) -> str:
        return f"TABLE {name}" if self.catalog else f"TEMP TABLE {name}"

    def _alongside(self, cur: duckdb.DuckDBPyConnection) -> None:
        try:
            self._read(cur)
            # only lists long enough to send the leads down the SQL path for sure: shorter
            # ones may end on the Python path, and are quick to normalise anyway
            distinct = f"SELECT count(DISTINCT phone) FROM {self.raw}"
            if cur.execute(distinct).fetchone()[0] > SMALL_SOURCE:
                self._normalise(cur)
                self.done_alongside = True
        except BaseException as exc:  # re-raised by wait(), on the caller's thread
            self.error = exc
        finally:
            cur.close()

    def read(self) -> None:
        """Read the lists (on `con`, unless that is under way alongside)."""
        if self.catalog is None:
            self._read(self.con)

    def _join(self) -> None:
        if self.thread is not None:
            self.thread.join()
            self.thread = None

    def wait(self) -> None:
        self._join()
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def normalised(self) -> str:
        """The table of E.164 numbers (normalised now, unless that was done alongside)."""
        self.wait()
        if not self.done_alongside:
            self._normalise(self.con)
        return self.sp

    def check_read(self, unread: list[str]) -> None:
        """Raise for list entries (of `unread`, those no valid number was made of) that are
        written with digits (or another script) but are not a whole number phonenumbers reads:
        what can not be read can not be suppressed, so the lists are refused until it is fixed.
        A whole number that is not valid (no lead can have it) and ASCII text without a digit
        ('n/a') are no entries to worry about."""
        unread = [
            r for r in unread if _MAY_BE_A_NUMBER.search(r) and not _whole_number(r, self.region)
        ]
        if not unread:
            return
        found = sorted((self._line_of(r), r) for r in unread[:50])
        where, first = found[0]
        more = f" (and {len(unread) - 1} more)" if len(unread) > 1 else ""
        raise LeadSourceError(
            f"suppression list entry {first!r} is not a phone number{more}: a number that can"
            " not be read can not be suppressed",
            Location(where[0], where[1]) if where[0] else self.loaded.locate(("suppress",)),
            f"write it as a whole number in E.164 ('+12015550123') or as dialed in"
            f" {self.region}, or remove it",
            field="suppress",
        )

    def _line_of(self, entry: str) -> tuple[str, int]:
        """Where the list files have `entry` (file, line): as a whole line or cell if it is
        one, else anywhere in a line; ('', 0) when not found."""
        cell = re.compile(r"(?:^|[,;\t|])\s*[\"']?" + re.escape(entry) + r"[\"']?\s*(?:$|[,;\t|])")
        loose = None
        for spec in self.loaded.campaign.suppress:
            for f in self._files(spec):
                with contextlib.suppress(OSError, UnicodeDecodeError):
                    lines = Path(f).read_text(encoding="utf-8").splitlines()
                    for n, line in enumerate(lines, 1):
                        if cell.search(line):
                            return f, n
                        if loose is None and entry in line:
                            loose = (f, n)
        return loose or ("", 0)

    def close(self) -> None:
        self._join()
        if self.catalog is not None:
            catalog, self.catalog = self.catalog, None
            with contextlib.suppress(duckdb.Error):  # (never hide the error being raised)
                self.con.execute(f"DETACH DATABASE IF EXISTS {catalog}")

    def _files(self, spec: str) -> list[str]:
        """The files of one `suppress` entry (a path or a glob), in name order."""
        pattern = str(self.loaded.resolve(spec))
        return sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]

    def _read(self, con: duckdb.DuckDBPyConnection) -> None:
        loaded = self.loaded
        con.execute(f"CREATE OR REPLACE {self._table(self.raw)} (phone VARCHAR)")
        for i, spec in enumerate(loaded.campaign.suppress):
            where = loaded.locate(("suppress", i))
            files = self._files(spec)
            if not files or not Path(files[0]).exists():
                raise LeadSourceError(
                    f"suppression list not found: {spec}", where, field="suppress"
                )
            for f in files:
                _load_suppression_file(Path(f), con, self.raw, self.region)

    def _normalise(self, con: duckdb.DuckDBPyConnection) -> None:
        """`sp` from `raw`: the region's usual forms by `fast_phone_sql`, the rest by the
        `dialer_e164` macro, compiled only when some number needs it, and what neither reads
        by phonenumbers."""
        region = self.region
        fast = fast_phone_sql(f"SELECT phone FROM {self.raw}", "phone", region) or (
            f"SELECT phone, NULL::VARCHAR AS __region, '?' AS __e164 FROM {self.raw}"
        )
        parsed = f"{self.sp}_parsed"
        con.execute(f"CREATE OR REPLACE {self._table(parsed)} AS {fast}")
        e164 = "__e164"
        if con.execute(f"SELECT EXISTS (SELECT 1 FROM {parsed} WHERE __e164 = '?')").fetchone()[0]:
            install_phone_sql(con)
            slow = f"dialer_e164(phone, {quote_str(region)})"
            e164 = f"CASE WHEN __e164 = '?' THEN {slow} ELSE __e164 END"
        read = f"{self.sp}_read"
        con.execute(
            f"CREATE OR REPLACE {self._table(read)} AS SELECT phone, {e164} AS e FROM {parsed}"
        )
        con.execute(f"DROP TABLE {parsed}")
        con.execute(
            f"CREATE OR REPLACE {self._table(self.sp)} AS SELECT DISTINCT e AS __e164"
            f" FROM {read} WHERE e IS NOT NULL"
        )
        # The SQL reads only the written forms a lead's number may take to be dialed: a listed
        # number written otherwise (with an extension or a label, in other digits) is read by
        # phonenumbers itself, so that no number on a list is dropped for how it is written.
        # (An entry of ASCII characters with no digit, like 'n/a', is no number.)
        others = con.execute(
            f"SELECT DISTINCT phone FROM {read} WHERE e IS NULL"
            " AND regexp_matches(phone, '[0-9]|[^\\x00-\\x7F]')"
        ).fetchall()
        read_here = {r: normalize_phone(r, region) for (r,) in others}
        self.check_read([r for r, e in read_here.items() if e is None])
        found = [e for e in read_here.values() if e is not None]
        if found:
            con.execute(
                f"INSERT INTO {self.sp} SELECT DISTINCT e FROM (SELECT unnest(?::VARCHAR[]) AS e)"
                f" WHERE e NOT IN (SELECT __e164 FROM {self.sp})",
                [found],
            )
        con.execute(f"DROP TABLE {read}")


def _suppressed(con: duckdb.DuckDBPyConnection, sp: str, has_log: bool, catalog: str) -> str:
    """The relation (`phone`) of every suppressed E.164 number once: the lists' from `sp` (each
    once, none NULL), plus the run log's dnc table, in TEMP table `__suppress`."""
    union = f"SELECT __e164 AS phone FROM {sp}"
    if not has_log:
        return f"({union})"
    union += f" UNION ALL SELECT phone FROM {quote_ident(catalog)}.dnc"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE __suppress AS SELECT DISTINCT phone FROM ({union}) "
        "WHERE phone IS NOT NULL"
    )
    return "__suppress"


_LEAD_RAWS = "SELECT CAST(phone AS VARCHAR) AS raw FROM __src WHERE phone IS NOT NULL"


def _is_small(con: duckdb.DuckDBPyConnection, lists: _Lists) -> bool:
    """Whether at most SMALL_SOURCE distinct numbers are written (leads and lists): counted on
    the leads' first rows first, which settle it for a big source."""
    first = f"SELECT count(DISTINCT raw) FROM ({_LEAD_RAWS} LIMIT {4 * SMALL_SOURCE})"
    if con.execute(first).fetchone()[0] > SMALL_SOURCE:
        return False
    lists.wait()
    every = f"{_LEAD_RAWS} UNION ALL SELECT phone FROM {lists.raw} WHERE phone IS NOT NULL"
    return con.execute(f"SELECT count(DISTINCT raw) FROM ({every})").fetchone()[0] <= (SMALL_SOURCE)


def _phone_map(
    con: duckdb.DuckDBPyConnection, region: str, lists: _Lists, read: bool = False
) -> tuple[str, str | None, bool]:
    """Normalise the matched leads' and the suppression lists' numbers.

    Makes TEMP view `__lp(__row, phone, __e164, __region)` of the matched leads, and table
    `__lpz(__row, __phone_zones)` for those whose zones are known already; returns the table
    of the lists' E.164 numbers (see `_Lists`), the region whose numbers (the rows of `__lp`
    with a `__region`) still need their zones from `fast_timezones_sql`, or None, and whether
    `__lp` is `__src` itself (its `__e164` and `__region`).

    A small set is normalised by phonenumbers itself (no SQL to compile). A large one in SQL:
    the usual written forms of the region by `fast_phone_sql`, the rest by the `dialer_e164`
    macro that `dialer.phones` compiles from phonenumbers' metadata, compiled only when some
    number needs it; that SQL is stricter on exotic input (extensions, letters), never looser.
    With `read`, `__src` has that SQL's columns already (`_load_source` with the region): then
    `__lp` is a view of it, and the numbers `dialer_e164` reads are written to its table `__all`.
    """
    if _is_small(con, lists):
        return _python_phone_map(con, region, lists), None, False
    leads = "SELECT __row, phone FROM __src"
    fast = fast_phone_sql(leads, "phone", region)
    zoned = region if fast is not None else None
    in_src = bool(read and zoned)
    if zoned:
        install_fast_phone_sql(con, region)
    else:  # no such region: only '+' forms parse, all through dialer_e164
        fast = f"SELECT *, NULL::VARCHAR AS __region, '?' AS __e164 FROM ({leads})"
    if not in_src:
        con.execute(f"CREATE OR REPLACE TEMP TABLE __lpt AS {fast}")
    con.execute(
        "CREATE OR REPLACE TEMP VIEW __lp AS SELECT __row, phone, __e164, __region"
        f" FROM {'__src' if in_src else '__lpt'}"
    )
    slow = con.execute("SELECT EXISTS (SELECT 1 FROM __lp WHERE __e164 = '?')").fetchone()[0]
    if slow:
        install_phone_sql(con)
        con.execute(
            "CREATE OR REPLACE TEMP TABLE __slow AS SELECT raw,"
            f" dialer_e164(raw, {quote_str(region)}) AS e164 FROM (SELECT DISTINCT"
            " CAST(phone AS VARCHAR) AS raw FROM __lp WHERE __e164 = '?')"
        )
        fixed = (
            "SELECT __row, s.e164 FROM __lp JOIN __slow s ON s.raw = CAST(__lp.phone AS VARCHAR)"
            " WHERE __lp.__e164 = '?'"
        )
        if in_src:
            fixed = (
                "SELECT __rid, s.e164 FROM __src JOIN __slow s"
                " ON s.raw = CAST(__src.phone AS VARCHAR) WHERE __src.__e164 = '?'"
            )
            con.execute(
                f"UPDATE __all SET __e164 = f.e164 FROM ({fixed}) f WHERE __all.rowid = f.__rid"
            )
        else:
            con.execute(
                f"UPDATE __lpt SET __e164 = f.e164 FROM ({fixed}) f WHERE __lpt.__row = f.__row"
            )
        rest = "SELECT __row, __e164 FROM __lp WHERE __region IS NULL AND __e164 IS NOT NULL"
        rest = f"SELECT __row, __phone_zones FROM ({with_timezones_sql(rest, '__e164')})"
    else:  # every number without a region is invalid
        rest = "SELECT 0 AS __row, NULL::VARCHAR[] AS __phone_zones WHERE false"
    con.execute(f"CREATE OR REPLACE TEMP TABLE __lpz AS {rest}")
    return lists.normalised(), zoned, in_src


def _python_phone_map(con: duckdb.DuckDBPyConnection, region: str, lists: _Lists) -> str:
    raw = lists.raw
    rows = con.execute(
        "SELECT raw, bool_or(lead), bool_or(NOT lead) FROM (SELECT CAST(phone AS VARCHAR) AS"
        f" raw, true AS lead FROM __src UNION ALL SELECT phone, false FROM {raw})"
        " WHERE raw IS NOT NULL GROUP BY raw"
    ).fetchall()
    raws = [r for r, _, _ in rows]
    e164 = [normalize_phone(r, region) for r in raws]
    lists.check_read([r for (r, _, listed), p in zip(rows, e164, strict=True) if listed and not p])
    zones = [
        list(timezones_for_phone(p)) if p and lead else None
        for (_, lead, _), p in zip(rows, e164, strict=True)
    ]
    con.execute(
        "CREATE OR REPLACE TEMP TABLE __pymap AS SELECT unnest(?::VARCHAR[]) AS raw, "
        "unnest(?::VARCHAR[]) AS e164, unnest(?::VARCHAR[][]) AS zones",
        [raws, e164, zones],
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE __lpt AS SELECT l.__row, l.phone, m.e164 AS __e164,"
        " NULL::VARCHAR AS __region FROM (SELECT __row, phone FROM __src) l"
        " LEFT JOIN __pymap m ON m.raw = CAST(l.phone AS VARCHAR)"
    )
    con.execute("CREATE OR REPLACE TEMP VIEW __lp AS SELECT * FROM __lpt")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE __lpz AS SELECT l.__row, m.zones AS __phone_zones"
        " FROM __lp l JOIN __pymap m ON m.raw = CAST(l.phone AS VARCHAR)"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE __sp AS SELECT DISTINCT m.e164 AS __e164 FROM"
        f" {raw} s JOIN __pymap m ON m.raw = s.phone WHERE m.e164 IS NOT NULL"
    )
    return "__sp"


def _load_suppression_file(
    path: Path, con: duckdb.DuckDBPyConnection, raw: str, region: str
) -> None:
    name = quote_str(str(path))
    try:
        if path.suffix.lower() in (".csv", ".tsv"):
            first = con.execute(
                f"SELECT * FROM read_csv({name}, header=false, all_varchar=true) LIMIT 1"
            ).fetchone()
            if first is None:
                return
            cells = [str(c or "").strip() for c in first]
            col, skip = 0, 1
            lowered = [c.lower() for c in cells]
            named = [i for i, c in enumerate(lowered) if c in PHONE_HEADERS]
            if named:
                col = named[0]
            elif normalize_phone(cells[0], region):
                skip = 0
            con.execute(
                f"INSERT INTO {raw} SELECT column{col:d} FROM "
                f"read_csv({name}, header=false, all_varchar=true) OFFSET {skip}"
            )
        else:
            con.execute(
                f"INSERT INTO {raw} SELECT line FROM (SELECT trim(unnest(string_split(content,"
                f" chr(10)))) AS line FROM read_text({name})) WHERE NOT starts_with(line, '#')"
            )
    except duckdb.Error as exc:
        raise LeadSourceError(
            f"can not read suppression list: {str(exc).splitlines()[0]}", Location(str(path))
        ) from None


def select_leads(
    loaded: LoadedCampaign,
    run_log: Path | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
    log_catalog: str | None = None,
    columns: Collection[str] | None = None,
) -> Selection:
    """Run the campaign's lead query; the result is TEMP table `__sel` on the returned connection.

    `__sel` has every source row that matched `where`, its lead columns, `__row`, `__e164`,
    `__zones` (IANA zones), `__stage` (one of STAGES, or 'selected') and `__order` (1-based
    position among selected leads, by `order_by` then source row). The run log's `dnc` table is
    read from `run_log` (attached read-only as `log`), or from `log_catalog` on `con` when the
    caller already has the run log open. With `columns`, only those lead columns are read
    (those that exist), and the ones the query itself needs (phone, timezone, those `where` and
    `order_by` read), and `__sel` keeps only the first: what a caller that shows counts and a
    few names needs, read faster.
    """
    con = con or duckdb.connect()
    leads = loaded.campaign.leads
    asked = columns
    files = _source_files(loaded)
    # a big source: its leads' numbers are normalised as it is read, and the lists are read
    # and normalised on a thread of their own meanwhile
    big = sum(f.stat().st_size for f in files) >= BIG_SOURCE_BYTES
    lists = _Lists(loaded, con, alongside=big and bool(loaded.campaign.suppress))
    try:
        source = _describe_source(loaded, con, files)
        all_columns = _column_names(loaded, source.headers)
        errors = check_lead_sql(loaded, all_columns, con)
        if errors:
            from dialer.errors import CampaignInvalid

            _read_all(loaded, con, source)  # an unreadable file is reported first, as it was
            raise CampaignInvalid(errors)
        keep = stored = None
        if asked is not None:
            keep = _needed_columns(loaded, all_columns, asked, con)
            stored = _needed_columns(loaded, all_columns, asked, con, where=False)
        query_failed = None
        try:
            region = leads.default_region if big else None
            source_rows, stored = _read_matched(loaded, con, source, keep, stored, region)
        except duckdb.Error as exc:
            query_failed = exc
        if log_catalog:
            has_log, catalog = True, log_catalog
        else:
            has_log, catalog = bool(run_log) and attach_run_log(con, Path(run_log)), "log"
        lists.read()
        if query_failed is not None:
            lists.wait()  # a missing list is named before a failing where, as it was
            raise _query_error(loaded, query_failed)
        _timezone_names(con)
        try:
            sp, zoned, in_src = _phone_map(con, leads.default_region, lists, read=big)
        except duckdb.Error as exc:
            raise _query_error(loaded, exc) from None
        suppress = _suppressed(con, sp, has_log, catalog)
        columns = all_columns if stored is None else stored
        # what `__sel` keeps: every lead column, or those asked for (not those only the query read)
        wanted = None if asked is None else {c.lower() for c in asked}
        kept = [c for c in columns if wanted is None or c.lower() in wanted]
        sql = _selection_sql(leads, columns, kept, zoned, in_src, suppress)
        try:
            con.execute(sql)
        except duckdb.Error as exc:
            raise _query_error(loaded, exc) from None
    finally:
        lists.close()
    stage_counts = dict(con.execute("SELECT __stage, count(*) FROM __sel GROUP BY 1").fetchall())
    matched = sum(stage_counts.values())
    counts = {"source_rows": source_rows, "not_matched": source_rows - matched}
    for stage in STAGES[1:]:
        counts[stage] = stage_counts.get(stage, 0)
    counts["selected"] = stage_counts.get("selected", 0)
    return Selection(con, kept, source_rows, counts, has_log, source.files, catalog)


def _selection_sql(
    leads: Leads,
    columns: list[str],
    kept: list[str],
    zoned: str | None,
    in_src: bool,
    suppress: str,
) -> str:
    """The statement that makes `__sel` (see `select_leads`) of `columns` of `__src`, keeping
    `kept`: `zoned`, `in_src` as `_phone_map` returns them, `suppress` as `_suppressed`."""
    order = f"{leads.order_by}, __row" if leads.order_by else "__row"
    tz = quote_ident("timezone") if "timezone" in columns else None
    tz_valid = (
        f"coalesce(CAST(s.{tz} AS VARCHAR) IN (SELECT name FROM __iana), false)" if tz else "false"
    )
    over_limit = f"WHEN o.__order > {int(leads.limit)} THEN 'over_limit' " if leads.limit else ""
    lead_cols = "".join(f", s.{quote_ident(c)}" for c in columns)
    # `__tzok`: the lead's own timezone is a zone name, so its number's zones are not needed
    # (nor looked up: `__tzregion` is NULL)
    lp = "s" if in_src else "l"
    numbers = (
        f"SELECT s.__row{lead_cols}, {lp}.__e164, {lp}.__region, {tz_valid} AS __tzok"
        " FROM __src s" + ("" if in_src else " JOIN __lp l ON l.__row = s.__row")
    )
    numbers = f"SELECT *, CASE WHEN NOT __tzok THEN __region END AS __tzregion FROM ({numbers})"
    if zoned:
        numbers = fast_timezones_sql(numbers, "__e164", "__tzregion", zoned, "__fast_zones")
    else:
        numbers = f"SELECT *, NULL::VARCHAR[] AS __fast_zones FROM ({numbers})"
    # The windows see only row numbers and the order_by columns: a window over whole lead rows
    # would sort them all.
    return f"""
        CREATE OR REPLACE TEMP TABLE __sel AS
        WITH n AS (
            SELECT n.* EXCLUDE (__region, __tzok, __tzregion, __fast_zones),
                CASE WHEN __tzok THEN [CAST({f"n.{tz}" if tz else "NULL"} AS VARCHAR)]
                     ELSE coalesce(n.__fast_zones, z.__phone_zones, []) END AS __zones
            FROM ({numbers}) n LEFT JOIN __lpz z ON z.__row = n.__row),
        f AS (SELECT __e164, min(__row) AS __first FROM __lp WHERE __e164 IS NOT NULL
              GROUP BY 1),
        p AS (
            SELECT n.*, CASE
                WHEN n.__e164 IS NULL THEN 'invalid_phone'
                WHEN n.__row > f.__first THEN 'duplicate'
                WHEN x.phone IS NOT NULL THEN 'suppressed'
                WHEN len(n.__zones) = 0 THEN 'no_timezone'
                ELSE 'selected' END AS __pre
            FROM n LEFT JOIN f ON f.__e164 = n.__e164
            LEFT JOIN {suppress} x ON x.phone = n.__e164),
        o AS (
            SELECT __row, row_number() OVER (ORDER BY {order}) AS __order
            FROM p WHERE __pre = 'selected')
        SELECT p.__row{"".join(f", p.{quote_ident(c)}" for c in kept)}, p.__e164, p.__zones,
            CASE WHEN __pre <> 'selected' THEN __pre {over_limit}ELSE 'selected' END AS __stage,
            o.__order
        FROM p LEFT JOIN o ON o.__row = p.__row
    """


def _needed_columns(
    loaded: LoadedCampaign,
    columns: list[str],
    wanted: Collection[str],
    con: duckdb.DuckDBPyConnection,
    where: bool = True,
) -> list[str]:
    """The lead columns (of `columns`, in their order) in `wanted` or read by the query (with
    `where` False: by the query once `where` is evaluated)."""
    leads = loaded.campaign.leads
    need = {c.lower() for c in wanted} | {"phone", "timezone"}
    for kind in ("where", "order_by") if where else ("order_by",):
        sql = getattr(leads, kind)
        if sql:
            need |= {c.lower() for c in check_fragment(kind, sql, con).columns}
    return [c for c in columns if c.lower() in need]


def _read_matched(
    loaded: LoadedCampaign,
    con: duckdb.DuckDBPyConnection,
    source: _Source,
    keep: list[str] | None,
    stored: list[str] | None,
    region: str | None,
) -> tuple[int, list[str] | None]:
    """`_load_source` with the `where` (and `region`): (source rows, the columns kept, None
    for all). Raises the file's LeadSourceError when the file is at fault, else the where's
    duckdb.Error."""
    where = loaded.campaign.leads.where
    try:
        return _load_source(loaded, con, source, where, keep, region, stored), stored
    except duckdb.Error as exc:
        failed = exc
    if keep is not None:  # (a column the where reads that the check did not see)
        try:
            return _load_source(loaded, con, source, where, None, region), None
        except duckdb.Error:
            pass
    _read_all(loaded, con, source)  # the file's fault raises here
    raise failed


def _query_error(loaded: LoadedCampaign, exc: duckdb.Error) -> DialerError:
    leads = loaded.campaign.leads
    return DialerError(
        f"lead query failed: {str(exc).splitlines()[0]}",
        loaded.locate(("leads", "where" if leads.where else "source")),
        field="leads.where" if leads.where else "leads.source",
    )


def _column_names(loaded: LoadedCampaign, headers: list[str]) -> list[str]:
    mapping = loaded.campaign.leads.columns
    renamed = {v: k for k, v in mapping.items()}
    out: list[str] = []
    for h in headers:
        if h in renamed:
            out.append(renamed[h])
        elif h not in mapping:
            out.append(h)
    return out


def _timezone_names(con: duckdb.DuckDBPyConnection) -> None:
    # (asking duckdb_tables() whether it exists costs more than the list itself)
    con.execute(
        "CREATE TEMP TABLE IF NOT EXISTS __iana AS SELECT unnest(?::VARCHAR[]) AS name",
        [_iana_names()],
    )


@functools.lru_cache(maxsize=1)
def _iana_names() -> list[str]:
    return sorted(zoneinfo.available_timezones())


def find_lead_row(
    con: duckdb.DuckDBPyConnection,
    loaded: LoadedCampaign,
    row: int | None,
    phone: str | None,
    source_rows: int,
) -> tuple[int, str, str | None]:
    """`__sel`'s (row, stage, E.164) of the lead at 1-based source `row` (the legacy
    LEAD_INDEX) or with `phone` (the selected one first when the number is on several rows).
    A one-line DialerError when there is no such lead."""
    if row is not None:
        if row < 1:
            raise DialerError(f"--lead is 1-based, got {row}")
        found = con.execute(
            "SELECT __row, __stage, __e164 FROM __sel WHERE __row = ?", [row]
        ).fetchone()
        if found is None:
            reason = (
                f"the lead source has {source_rows} rows"
                if row > source_rows
                else "it is not matched by leads.where"
            )
            raise DialerError(f"no lead at row {row}: {reason}")
        return found
    e164 = normalize_phone(phone or "", loaded.campaign.leads.default_region)
    if e164 is None:
        raise DialerError(f"not a valid phone number: {phone!r}")
    found = con.execute(
        "SELECT __row, __stage, __e164 FROM __sel WHERE __e164 = ? "
        "ORDER BY __stage <> 'selected', __row LIMIT 1",
        [e164],
    ).fetchone()
    if found is None:
        raise DialerError(f"no lead with phone {e164} matches the campaign")
    return found


def fetch_leads(
    selection: Selection,
    condition: str = "__stage = 'selected'",
    limit: int | None = None,
    order: str = "__order",
) -> list[dict]:
    """Lead rows of `__sel` as template-ready dicts (E.164 `phone`, `row`, `timezone`)."""
    cols = ", ".join(quote_ident(c) for c in selection.columns)
    sql = (
        f"SELECT __row, __e164, __zones, __stage, {cols} FROM __sel "
        f"WHERE {condition} ORDER BY {order}"
    )
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    cursor = selection.con.execute(sql)
    names = [d[0] for d in cursor.description]
    out = []
    for values in cursor.fetchall():
        raw = dict(zip(names, values, strict=True))
        lead = {c: ("" if raw[c] is None else raw[c]) for c in selection.columns}
        lead["phone"] = raw["__e164"] or lead.get("phone", "")
        lead["row"] = raw["__row"]
        lead["key"] = raw["__e164"]
        zones = list(raw["__zones"] or [])
        lead["timezones"] = zones
        if not lead.get("timezone") or lead.get("timezone") not in zones:
            lead["timezone"] = zones[0] if zones else ""
        lead["__stage"] = raw["__stage"]
        out.append(lead)
    return out
