"""Check a campaign's `where` and `order_by` SQL: one expression over lead columns, nothing else."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field

import duckdb

# Scalar functions that read outside the lead row or change state. Table functions
# (read_csv, glob, ...) can only appear in a FROM, and subqueries are refused outright.
_DENIED_FUNCTIONS = {
    "getenv",
    "current_setting",
    "nextval",
    "currval",
    "setseed",
    "read_text",
    "read_blob",
    "query",
    "query_table",
    "sql_auto_complete",
    "current_database",
    "current_schema",
    "current_schemas",
    "current_query",
    "txid_current",
    "version",
    "pg_typeof",
}
_DENIED_PREFIXES = ("read_", "duckdb_", "pragma_", "pg_", "glob", "load", "install", "dialer_")


@dataclass
class SqlProblem:
    """One problem in a user SQL fragment; `offset` is a 0-based character offset in it."""

    message: str
    offset: int | None = None


@dataclass
class SqlCheck:
    """What a checked fragment reads: its columns and functions, and any problems."""

    columns: set[str] = field(default_factory=set)
    problems: list[SqlProblem] = field(default_factory=list)
    windows: bool = False  # it calls a window function


_PREFIX = {"where": "SELECT * FROM __leads WHERE (", "order_by": "SELECT * FROM __leads ORDER BY "}


_shared: duckdb.DuckDBPyConnection | None = None
_shared_lock = threading.Lock()
# check_fragment's answers by (kind, sql): a campaign's fragments are checked by several steps
_checked: dict[tuple[str, str], SqlCheck] = {}
_CHECKED_MAX = 256


def _parser() -> duckdb.DuckDBPyConnection:
    """An empty in-memory database to parse SQL with when the caller has none (SQL is only
    parsed, never executed)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = duckdb.connect()
        return _shared


def _serialize(con: duckdb.DuckDBPyConnection, sql: str) -> dict:
    # A cursor per call: a DuckDB connection refuses a second call while busy (validate checks
    # files in parallel), and a cursor closed here leaves nothing to a thread that outlives it
    # (a connection kept per thread aborts the interpreter at exit if its thread is a daemon).
    cur = con.cursor()
    try:
        return json.loads(cur.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0])
    finally:
        cur.close()


def _walk(node: object, out: SqlCheck, prefix_len: int) -> None:
    if isinstance(node, list):
        for item in node:
            _walk(item, out, prefix_len)
        return
    if not isinstance(node, dict):
        return
    cls = node.get("class")
    loc = node.get("query_location")
    offset = loc - prefix_len if isinstance(loc, int) and loc >= prefix_len else None
    if cls == "SUBQUERY" or node.get("type") in ("SUBQUERY", "SELECT_NODE", "SET_OPERATION_NODE"):
        out.problems.append(SqlProblem("subqueries are not allowed; use lead columns", offset))
        return
    if cls == "STAR":  # (what `*` or COLUMNS(...) reads depends on the file, not the campaign)
        out.problems.append(SqlProblem("name the lead columns: * and COLUMNS() read any", offset))
        return
    if cls == "WINDOW":
        out.windows = True
    if cls == "COLUMN_REF":
        names = node.get("column_names") or []
        if len(names) != 1:
            out.problems.append(
                SqlProblem(f"write plain column names, not {'.'.join(names)}", offset)
            )
        elif names:
            out.columns.add(names[0])
    if cls == "FUNCTION":
        name = str(node.get("function_name", "")).lower()
        if node.get("schema") or node.get("catalog"):
            out.problems.append(SqlProblem(f"function {name}() is not allowed here", offset))
        elif name in _DENIED_FUNCTIONS or name.startswith(_DENIED_PREFIXES):
            out.problems.append(
                SqlProblem(
                    f"function {name}() is not allowed: where/order_by may only read lead columns",
                    offset,
                )
            )
    for key, value in node.items():
        if key != "literal":
            _walk(value, out, prefix_len)


def check_fragment(kind: str, sql: str, con: duckdb.DuckDBPyConnection | None = None) -> SqlCheck:
    """Parse `sql` as a campaign `where` or `order_by` and report what it reads and any problem
    (the answer is shared: do not change it). Parsed on `con` when given, which saves opening
    a database; only parsed: `json_serialize_sql` runs nothing."""
    key = (kind, sql)
    found = _checked.get(key)
    if found is None:
        found = _check(kind, sql, con or _parser())
        if len(_checked) >= _CHECKED_MAX:
            _checked.clear()
        _checked[key] = found
    return found


def _check(kind: str, sql: str, con: duckdb.DuckDBPyConnection) -> SqlCheck:
    out = SqlCheck()
    prefix = _PREFIX[kind]
    text = prefix + sql + (")" if kind == "where" else "")
    parsed = _serialize(con, text)
    if parsed.get("error"):
        message = parsed.get("error_message", "does not parse")
        position = parsed.get("position")
        offset = int(position) - len(prefix) if position not in (None, "") else None
        if offset is not None and not 0 <= offset <= len(sql):
            offset = None
        if "Only SELECT" in message:
            message = "expected one SQL expression"
        out.problems.append(SqlProblem(f"SQL does not parse: {message}", offset))
        return out
    statements = parsed.get("statements") or []
    if len(statements) != 1:
        out.problems.append(SqlProblem("expected one SQL expression"))
        return out
    node = statements[0].get("node", {})
    if (
        node.get("type") != "SELECT_NODE"
        or (node.get("from_table") or {}).get("table_name") != "__leads"
    ):
        out.problems.append(SqlProblem("expected one SQL expression"))
        return out
    if kind == "where":
        _check_shape(node, out, has_where=True)
        _walk(node.get("where_clause"), out, len(prefix))
    else:
        _check_shape(node, out, has_where=False)
        mods = node.get("modifiers") or []
        if len(mods) != 1 or mods[0].get("type") != "ORDER_MODIFIER":
            out.problems.append(SqlProblem("expected a list of ORDER BY terms"))
        else:
            _walk(mods[0].get("orders"), out, len(prefix))
    return out


def _check_shape(node: dict, out: SqlCheck, has_where: bool) -> None:
    extra = [
        k
        for k in ("group_expressions", "having", "qualify", "sample")
        if node.get(k) not in (None, [], {}, {"grouping_sets": [], "group_expressions": []})
    ]
    cte = (node.get("cte_map") or {}).get("map") or []
    mods = node.get("modifiers") or []
    if extra or cte or (has_where and mods) or (has_where and not node.get("where_clause")):
        out.problems.append(SqlProblem("expected one SQL expression"))
