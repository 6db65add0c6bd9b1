"""Select a campaign's leads in one DuckDB query: read, map, filter, normalise, dedupe, suppress."""

from __future__ import annotations

import functools
import glob
import re
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from dialer.campaign.load import LoadedCampaign
from dialer.campaign.sqlcheck import check_fragment
from dialer.errors import DialerError, LeadSourceError, Location
from dialer.phones import (
    PHONE_HEADERS,
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
_LINE_RE = re.compile(r"[Ll]ine:? (\d+)")


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


def read_source(loaded: LoadedCampaign, con: duckdb.DuckDBPyConnection) -> list[Path]:
    """Load the lead source into TEMP table `__src` (see `_describe_src` for its row numbers)."""
    files = _source_files(loaded)
    leads = loaded.campaign.leads
    phone_header = leads.columns.get("phone", "phone")
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
    reader = _reader(
        files, overrides if files[0].suffix.lower() in (".csv", ".tsv", ".txt") else None
    )
    # `__row` is the table's rowid + 1: an insertion-ordered copy numbers the rows as the file
    # does, without a window over every row (a lead file's own `rowid` column would hide it).
    numbered = (
        "row_number() OVER () AS __rowid, " if "rowid" in {h.lower() for h in headers} else ""
    )
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE __src AS SELECT {numbered}* FROM {reader}")
    except duckdb.Error as exc:
        raise _source_error(exc, files) from None
    if con.execute("SELECT count(*) FROM __src").fetchone()[0] == 0:
        raise LeadSourceError("lead file has a header but no rows", Location(str(files[0]), 2))
    return files


def lead_columns(loaded: LoadedCampaign, con: duckdb.DuckDBPyConnection) -> list[str]:
    """The lead columns templates and SQL see: source headers, renamed by `leads.columns`."""
    return _column_names(loaded, _src_headers(con))


def _src_headers(con: duckdb.DuckDBPyConnection) -> list[str]:
    return _describe_src(con)[0]


def _describe_src(con: duckdb.DuckDBPyConnection) -> tuple[list[str], str]:
    """`__src`'s lead headers, and its 1-based source row number as SQL."""
    names = [r[0] for r in con.execute("DESCRIBE __src").fetchall()]
    row_sql = "__rowid" if "__rowid" in names else "rowid + 1"
    return [n for n in names if n != "__rowid"], row_sql


def _mapped_select(loaded: LoadedCampaign, headers: list[str], row_sql: str) -> str:
    mapping = loaded.campaign.leads.columns
    renamed = {v: k for k, v in mapping.items()}
    targets = set(mapping)
    parts = [f"{row_sql} AS __row"]
    for h in headers:
        if h in renamed:
            parts.append(f"{quote_ident(h)} AS {quote_ident(renamed[h])}")
        elif h not in targets:
            parts.append(quote_ident(h))
    return ", ".join(parts)


def check_lead_sql(loaded: LoadedCampaign, columns: list[str]) -> list[DialerError]:
    """Problems in `where`/`order_by`: parse errors, forbidden reads, unknown columns."""
    errors: list[DialerError] = []
    known = {c.lower() for c in columns}
    for kind in ("where", "order_by"):
        sql = getattr(loaded.campaign.leads, kind)
        if not sql:
            continue
        where = loaded.locate(("leads", kind))
        result = check_fragment(kind, sql)
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


def _suppression_table(
    loaded: LoadedCampaign, con: duckdb.DuckDBPyConnection, has_log: bool, catalog: str = "log"
) -> None:
    region = quote_str(loaded.campaign.leads.default_region)
    con.execute("CREATE OR REPLACE TEMP TABLE __suppress_raw (phone VARCHAR)")
    for i, spec in enumerate(loaded.campaign.suppress):
        where = loaded.locate(("suppress", i))
        pattern = str(loaded.resolve(spec))
        files = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        if not files or not Path(files[0]).exists():
            raise LeadSourceError(f"suppression list not found: {spec}", where, field="suppress")
        for f in files:
            _load_suppression_file(Path(f), con, region, where)


def _suppressed(con: duckdb.DuckDBPyConnection, has_log: bool, catalog: str) -> None:
    """`__suppress`: every suppressed E.164 number (lists through `__phones`, plus dnc)."""
    union = "SELECT p.e164 AS phone FROM __suppress_raw s JOIN __e164s p ON p.raw = s.phone"
    if has_log:
        union += f" UNION ALL SELECT phone FROM {quote_ident(catalog)}.dnc"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE __suppress AS SELECT DISTINCT phone FROM ({union}) "
        "WHERE phone IS NOT NULL"
    )


def _phone_map(con: duckdb.DuckDBPyConnection, region: str, lead_raws: str) -> str:
    """Normalise every distinct written number once; returns the method used.

    `lead_raws` is a query for the leads' written numbers. Makes `__e164s(raw, e164)` for those
    and the suppression lists' numbers, and `__phones(raw, e164, zones)` for the leads' only
    (a suppressed number needs no timezone). A small set is normalised by phonenumbers itself
    (no SQL to compile); a large one by the SQL that `dialer.phones` compiles from phonenumbers'
    metadata, which is stricter on exotic input (extensions, letters) and never looser.
    """
    con.execute(
        "CREATE OR REPLACE TEMP TABLE __raws AS SELECT raw, bool_or(lead) AS lead FROM ("
        f"SELECT raw, true AS lead FROM ({lead_raws}) UNION ALL "
        "SELECT phone, false FROM __suppress_raw) WHERE raw IS NOT NULL GROUP BY raw"
    )
    count = con.execute("SELECT count(*) FROM __raws").fetchone()[0]
    if count <= SMALL_SOURCE:
        rows = con.execute("SELECT raw, lead FROM __raws").fetchall()
        raws = [r for r, _ in rows]
        e164 = [normalize_phone(r, region) for r in raws]
        con.execute(
            "CREATE OR REPLACE TEMP TABLE __e164s AS SELECT unnest(?::VARCHAR[]) AS raw, "
            "unnest(?::VARCHAR[]) AS e164",
            [raws, e164],
        )
        leads = [(r, p) for (r, lead), p in zip(rows, e164, strict=True) if lead]
        con.execute(
            "CREATE OR REPLACE TEMP TABLE __phones AS SELECT unnest(?::VARCHAR[]) AS raw, "
            "unnest(?::VARCHAR[]) AS e164, unnest(?::VARCHAR[][]) AS zones",
            [
                [r for r, _ in leads],
                [p for _, p in leads],
                [list(timezones_for_phone(p)) if p else None for _, p in leads],
            ],
        )
        return "python"
    install_phone_sql(con)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE __e164s AS "
        f"SELECT raw, dialer_e164(raw, {quote_str(region)}) AS e164, lead FROM __raws"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE __phones AS "
        + with_timezones_sql("SELECT raw, e164 FROM __e164s WHERE lead", "e164", "zones")
    )
    return "sql"


def _load_suppression_file(
    path: Path, con: duckdb.DuckDBPyConnection, region: str, where: Location
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
            elif normalize_phone(cells[0], region.strip("'")):
                skip = 0
            con.execute(
                f"INSERT INTO __suppress_raw SELECT column{col:d} FROM "
                f"read_csv({name}, header=false, all_varchar=true) OFFSET {skip}"
            )
        else:
            con.execute(
                "INSERT INTO __suppress_raw SELECT trim(unnest(string_split(content, chr(10)))) "
                f"FROM read_text({name})"
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
) -> Selection:
    """Run the campaign's lead query; the result is TEMP table `__sel` on the returned connection.

    `__sel` has every source row that matched `where`, its lead columns, `__row`, `__e164`,
    `__zones` (IANA zones), `__stage` (one of STAGES, or 'selected') and `__order` (1-based
    position among selected leads, by `order_by` then source row). The run log's `dnc` table is
    read from `run_log` (attached read-only as `log`), or from `log_catalog` on `con` when the
    caller already has the run log open.
    """
    con = con or duckdb.connect()
    files = read_source(loaded, con)
    headers, row_sql = _describe_src(con)
    mapped = _mapped_select(loaded, headers, row_sql)
    columns = _column_names(loaded, headers)
    errors = check_lead_sql(loaded, columns)
    if errors:
        from dialer.errors import CampaignInvalid

        raise CampaignInvalid(errors)
    if log_catalog:
        has_log, catalog = True, log_catalog
    else:
        has_log, catalog = bool(run_log) and attach_run_log(con, Path(run_log)), "log"
    _suppression_table(loaded, con, has_log, catalog)
    _timezone_names(con)
    leads = loaded.campaign.leads
    where = f"WHERE ({leads.where})" if leads.where else ""
    matched = f"SELECT * FROM (SELECT {mapped} FROM __src) {where}"
    try:
        _phone_map(
            con,
            leads.default_region,
            f"SELECT DISTINCT CAST(phone AS VARCHAR) AS raw FROM ({matched})",
        )
    except duckdb.Error as exc:
        raise DialerError(
            f"lead query failed: {str(exc).splitlines()[0]}",
            loaded.locate(("leads", "where" if leads.where else "source")),
            field="leads.where" if leads.where else "leads.source",
        ) from None
    _suppressed(con, has_log, catalog)
    order = f"{leads.order_by}, __row" if leads.order_by else "__row"
    tz = "timezone" if "timezone" in columns else None
    tz_valid = (
        f"(CAST({quote_ident(tz)} AS VARCHAR) IN (SELECT name FROM __iana))" if tz else "false"
    )
    limit_check = (
        f"WHEN row_number() OVER (PARTITION BY __pre = 'selected' ORDER BY {order}) > "
        f"{int(leads.limit)} THEN 'over_limit' "
        if leads.limit
        else ""
    )
    sql = f"""
        CREATE OR REPLACE TEMP TABLE __sel AS
        WITH m AS ({matched}),
        n AS (SELECT m.*, ph.e164 AS __e164, ph.zones AS __phone_zones
              FROM m LEFT JOIN __phones ph ON ph.raw = CAST(m.phone AS VARCHAR)),
        d AS (SELECT *, row_number() OVER (PARTITION BY __e164 ORDER BY __row) AS __dup FROM n),
        z AS (SELECT d.*, (x.phone IS NOT NULL) AS __suppressed
              FROM d LEFT JOIN __suppress x ON x.phone = d.__e164),
        t AS (
            SELECT * EXCLUDE (__phone_zones),
                CASE WHEN {tz_valid} THEN [CAST({quote_ident(tz) if tz else "NULL"} AS VARCHAR)]
                     ELSE coalesce(__phone_zones, []) END AS __zones
            FROM z),
        p AS (
            SELECT *, CASE
                WHEN __e164 IS NULL THEN 'invalid_phone'
                WHEN __dup > 1 THEN 'duplicate'
                WHEN __suppressed THEN 'suppressed'
                WHEN len(__zones) = 0 THEN 'no_timezone'
                ELSE 'selected' END AS __pre
            FROM t)
        SELECT * EXCLUDE (__pre, __dup, __suppressed),
            CASE WHEN __pre <> 'selected' THEN __pre {limit_check}ELSE 'selected' END AS __stage,
            CASE WHEN __pre = 'selected'
                 THEN row_number() OVER (PARTITION BY __pre = 'selected' ORDER BY {order}) END
                AS __order
        FROM p
    """
    try:
        con.execute(sql)
    except duckdb.Error as exc:
        raise DialerError(
            f"lead query failed: {str(exc).splitlines()[0]}",
            loaded.locate(("leads", "where" if leads.where else "source")),
            field="leads.where" if leads.where else "leads.source",
        ) from None
    source_rows = con.execute("SELECT count(*) FROM __src").fetchone()[0]
    stage_counts = dict(con.execute("SELECT __stage, count(*) FROM __sel GROUP BY 1").fetchall())
    matched = sum(stage_counts.values())
    counts = {"source_rows": source_rows, "not_matched": source_rows - matched}
    for stage in STAGES[1:]:
        counts[stage] = stage_counts.get(stage, 0)
    counts["selected"] = stage_counts.get("selected", 0)
    return Selection(con, columns, source_rows, counts, has_log, files, catalog)


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
