"""The run log's single writer: dial intents, outcomes, transcripts, events, group-committed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, NamedTuple

import duckdb

INTENT_COLUMNS = (
    ("attempt_id", "VARCHAR"),
    ("run_id", "VARCHAR"),
    ("campaign", "VARCHAR"),
    ("lead_key", "VARCHAR"),
    ("lead_row", "INTEGER"),
    ("phone", "VARCHAR"),
    ("lead_timezone", "VARCHAR"),
    ("attempt_no", "INTEGER"),
    ("variant", "VARCHAR"),
    ("revision", "VARCHAR"),
    ("git_commit", "VARCHAR"),
    ("scheduled_at", "DOUBLE"),
    ("dialed_at", "DOUBLE"),
)
OUTCOME_COLUMNS = (
    ("attempt_id", "VARCHAR"),
    ("status", "VARCHAR"),
    ("disposition", "VARCHAR"),
    ("answered_at", "DOUBLE"),
    ("ended_at", "DOUBLE"),
    ("duration_s", "DOUBLE"),
    ("sip_status", "INTEGER"),
    ("callback_at", "DOUBLE"),
    ("error", "VARCHAR"),
)
_TIMES = {"scheduled_at", "dialed_at", "answered_at", "ended_at", "callback_at"}
_EVENT_COLUMNS = (
    ("occurred_at", "DOUBLE"),
    ("run_id", "VARCHAR"),
    ("attempt_id", "VARCHAR"),
    ("kind", "VARCHAR"),
    ("data", "VARCHAR"),
)
_DNC_COLUMNS = (
    ("phone", "VARCHAR"),
    ("added_at", "DOUBLE"),
    ("source", "VARCHAR"),
    ("reason", "VARCHAR"),
    ("campaign", "VARCHAR"),
    ("attempt_id", "VARCHAR"),
)
_TRANSCRIPT_COLUMNS = (
    ("attempt_id", "VARCHAR"),
    ("seq", "INTEGER"),
    ("spoken_at", "DOUBLE"),
    ("role", "VARCHAR"),
    ("text", "VARCHAR"),
)


class Intent(NamedTuple):
    """A dial about to happen; durable before the backend is asked to dial. Times are epochs.

    The fields are the columns of `INTENT_COLUMNS`, in order: an intent is its own row.
    """

    attempt_id: str
    run_id: str
    campaign: str
    lead_key: str
    lead_row: int | None
    phone: str
    lead_timezone: str | None
    attempt_no: int
    variant: str | None
    revision: str
    git_commit: str | None
    scheduled_at: float | None
    dialed_at: float


class Outcome(NamedTuple):
    """How a dial ended. Times are epochs (UTC seconds).

    The fields before `transcript` are the columns of `OUTCOME_COLUMNS`, in order.
    """

    attempt_id: str
    status: str
    disposition: str | None = None
    answered_at: float | None = None
    ended_at: float | None = None
    duration_s: float | None = None
    sip_status: int | None = None
    callback_at: float | None = None
    error: str | None = None
    transcript: Sequence[tuple[float | None, str, str]] = ()


assert Intent._fields == tuple(n for n, _ in INTENT_COLUMNS)
assert Outcome._fields[: len(OUTCOME_COLUMNS)] == tuple(n for n, _ in OUTCOME_COLUMNS)
_OUTCOME_ROW = slice(1, len(OUTCOME_COLUMNS))  # an outcome's columns after attempt_id
_ID = itemgetter(0)  # an intent's or an outcome's attempt_id


@dataclass
class _Batch:
    intents: list[Intent] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    events: list[tuple[float, str | None, str | None, str, str | None]] = field(
        default_factory=list
    )
    dnc: list[tuple[str, float, str, str | None, str | None, str | None]] = field(
        default_factory=list
    )
    waiters: list[asyncio.Future] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.intents or self.outcomes or self.events or self.dnc or self.waiters)


# DuckDB 2.0 buffers rows from Python straight into a statement (a query appender), several
# times faster than sending them as lists; before 2.0 the lists are unnested instead.
_APPENDER = hasattr(duckdb.DuckDBPyConnection, "query_appender")


def _lists(columns: list[tuple[str, str, list]]) -> tuple[str, list[Any]]:
    """A `SELECT` yielding one row per value of the (name, type, values) columns, and its
    parameters: each column one list, unnested.

    A column holding the same value in every row (run, campaign, revision, most NULLs) is sent
    as that one value, which DuckDB repeats on each row: converting Python values is most of
    what this costs. The first column is always a list, so the statement yields one row per
    row even when all the others repeat.
    """
    parts, params = [], []
    for index, (name, kind, values) in enumerate(columns):
        if index and values.count(values[0]) == len(values):
            parts.append(f"?::{kind} AS {name}")
            params.append(values[0])
        else:
            parts.append(f"unnest(?::{kind}[]) AS {name}")
            params.append(values)
    return "SELECT " + ", ".join(parts), params


def _ts(name: str) -> str:
    return f"CASE WHEN {name} IS NULL THEN NULL ELSE to_timestamp({name}) END"


class RunLogWriter:
    """One writer per run log. `write_intents` waits for the commit; the rest are batched.

    Everything submitted while a commit is in progress goes into the next one, so the number of
    transactions follows the disk, not the call rate.

    With `sync=True` (virtual time: a forecast, rerun rather than resumed) writes are committed
    inline on the event loop's thread, so simulated time can not move during a write, in batches
    of about `SYNC_BATCH` rows. A dial whose result is not in yet waits for the next batch, so
    each attempt is written once, whole, rather than inserted and then updated.
    """

    SYNC_BATCH = 5000

    def __init__(self, con: duckdb.DuckDBPyConnection, sync: bool = False) -> None:
        self.con = con
        self.sync = sync
        self._pending = _Batch()
        self._wake = asyncio.Event()
        self._closed = False
        self._task: asyncio.Task | None = None
        self.commits = 0
        self.rows = 0
        # dial time of each attempt still awaiting its outcome: lets an UPDATE skip the old
        # row groups of `attempts` by their dialed_at zone maps instead of scanning them all
        self._dialed: dict[str, float] = {}
        self._appenders: dict[str, Any] = {}  # INSERT statement -> its query appender

    async def __aenter__(self) -> RunLogWriter:
        if not self.sync:
            self._task = asyncio.create_task(self._run(), name="run-log-writer")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _sync_maybe_commit(self, force: bool = False) -> None:
        p = self._pending
        size = len(p.intents) + len(p.outcomes) + len(p.events) + len(p.dnc)
        if not size or not (force or size >= self.SYNC_BATCH):
            return
        later: list[Intent] = []  # dials still in progress: written with their result
        if self.sync and not force:
            ended = {o.attempt_id for o in p.outcomes}
            later = [i for i in p.intents if i.attempt_id not in ended]
            if later:
                p.intents = [i for i in p.intents if i.attempt_id in ended]
        self._pending = _Batch(intents=later)
        self._commit(p)

    async def write_intents(self, intents: list[Intent]) -> None:
        """Queue dial intents and wait until they are committed."""
        if self.sync:
            self._pending.intents.extend(intents)
            self._sync_maybe_commit()
            return
        if self._task_gone():
            self._pending.intents.extend(intents)
            await self.flush()
            return
        fut = asyncio.get_running_loop().create_future()
        self._pending.intents.extend(intents)
        self._pending.waiters.append(fut)
        self._wake.set()
        await fut

    def write_outcome(self, outcome: Outcome) -> None:
        self._pending.outcomes.append(outcome)
        self._wake.set()

    def write_event(
        self,
        at: float,
        run_id: str | None,
        attempt_id: str | None,
        kind: str,
        data: dict | None = None,
    ) -> None:
        self._pending.events.append(
            (at, run_id, attempt_id, kind, json.dumps(data) if data is not None else None)
        )
        self._wake.set()

    def write_dnc(
        self,
        phone: str,
        at: float,
        source: str,
        reason: str | None,
        campaign: str | None,
        attempt_id: str | None,
    ) -> None:
        self._pending.dnc.append((phone, at, source, reason, campaign, attempt_id))
        self._wake.set()

    def _task_gone(self) -> bool:
        # the loop is being torn down (its tasks cancelled) while the run still writes its end:
        # commit in place rather than wait for a task that will never run again
        return self._task is not None and self._task.done()

    async def flush(self) -> None:
        """Wait until everything submitted so far is committed."""
        if self.sync or self._task_gone():
            waiters, self._pending.waiters = self._pending.waiters, []
            self._sync_maybe_commit(force=True)
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)
            return
        fut = asyncio.get_running_loop().create_future()
        self._pending.waiters.append(fut)
        self._wake.set()
        await fut

    async def close(self) -> None:
        try:
            await self._close()
        finally:
            self._appenders.clear()  # they hold the connection; nothing is left buffered in them

    async def _close(self) -> None:
        if self.sync:
            self._sync_maybe_commit(force=True)
            return
        if self._task is None:
            return
        if self._task_gone():
            await self.flush()
            self._task = None
            return
        await self.flush()
        self._closed = True
        self._wake.set()
        await self._task
        self._task = None

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, _Batch()
            if batch:
                try:
                    if self.sync:
                        self._commit(batch)
                    else:
                        await asyncio.to_thread(self._commit, batch)
                except BaseException as exc:  # every waiter learns the write failed
                    for fut in batch.waiters:
                        if not fut.done():
                            fut.set_exception(
                                exc
                                if isinstance(exc, Exception)
                                else RuntimeError("run log write interrupted")
                            )
                    if not isinstance(exc, Exception):
                        raise
                else:
                    for fut in batch.waiters:
                        if not fut.done():
                            fut.set_result(None)
            if self._closed and not self._pending:
                return

    def _commit(self, batch: _Batch) -> None:
        con = self.con
        con.execute("BEGIN")
        try:
            intents, outcomes = batch.intents, batch.outcomes
            if intents and outcomes:
                # Only in sync mode (virtual time) can a dial and its result share a batch:
                # write such attempts as one finished row instead of an insert and an update.
                started = dict(zip(map(_ID, intents), intents, strict=True))
                done = [o for o in outcomes if o.attempt_id in started]
                if done:
                    self._insert_finished([(started.pop(o.attempt_id), o) for o in done])
                    if len(done) < len(outcomes):
                        finished = set(map(_ID, done))
                        outcomes = [o for o in outcomes if o.attempt_id not in finished]
                    else:
                        outcomes = []
                    intents = list(started.values())
            if intents:
                self._insert_intents(intents)
            if outcomes:
                self._apply_outcomes(outcomes)
            if batch.events:
                self._insert(
                    "INSERT INTO events (occurred_at, run_id, attempt_id, kind, data) "
                    "SELECT to_timestamp(occurred_at), run_id, attempt_id, kind, data::JSON "
                    "FROM appender_data",
                    _EVENT_COLUMNS,
                    batch.events,
                )
            if batch.dnc:
                seen: dict[str, tuple] = {}
                for row in batch.dnc:
                    seen.setdefault(row[0], row)
                self._insert(
                    "INSERT INTO dnc (phone, added_at, source, reason, campaign, attempt_id) "
                    "SELECT phone, to_timestamp(added_at), source, reason, campaign, attempt_id "
                    "FROM appender_data WHERE phone NOT IN (SELECT phone FROM dnc)",
                    _DNC_COLUMNS,
                    list(seen.values()),
                )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        self.commits += 1
        self.rows += len(batch.intents) + len(batch.outcomes) + len(batch.events) + len(batch.dnc)

    def _insert(self, dml: str, columns: tuple[tuple[str, str], ...], rows: list[tuple]) -> None:
        """Run `dml`, which reads the rows as a table named `appender_data` with `columns`."""
        if not _APPENDER:
            values = zip(*rows, strict=True)
            select, params = _lists(
                [(n, k, list(v)) for (n, k), v in zip(columns, values, strict=True)]
            )
            self.con.execute(f"WITH appender_data AS ({select}) {dml}", params)
            return
        appender = self._appenders.get(dml)
        if appender is None:
            appender = self._appenders[dml] = self.con.query_appender(dml, dict(columns))
        try:
            appender.append_rows(rows)
            appender.flush()
        except BaseException:
            appender.clear()  # a failed flush leaves the rows buffered; the batch is rolled back
            raise

    def _insert_intents(self, intents: list[Intent]) -> None:
        for i in intents:
            self._dialed[i.attempt_id] = i.dialed_at
        names = ", ".join(n for n, _ in INTENT_COLUMNS)
        select = ", ".join(_ts(n) if n in _TIMES else n for n, _ in INTENT_COLUMNS)
        self._insert(
            f"INSERT INTO attempts ({names}, status) SELECT {select}, 'dialing' FROM appender_data",
            INTENT_COLUMNS,
            intents,
        )

    def _insert_finished(self, pairs: list[tuple[Intent, Outcome]]) -> None:
        spec = INTENT_COLUMNS + OUTCOME_COLUMNS[1:]
        names = ", ".join(n for n, _ in spec)
        select = ", ".join(_ts(n) if n in _TIMES else n for n, _ in spec)
        self._insert(
            f"INSERT INTO attempts ({names}) SELECT {select} FROM appender_data",
            spec,
            [i + o[_OUTCOME_ROW] for i, o in pairs],
        )
        self._insert_transcripts([o for _, o in pairs])

    def _apply_outcomes(self, outcomes: list[Outcome]) -> None:
        names = [n for n, _ in OUTCOME_COLUMNS if n != "attempt_id"]
        sets = ", ".join(f"{n} = {_ts('r.' + n) if n in _TIMES else 'r.' + n}" for n in names)
        known = [self._dialed.pop(o.attempt_id, None) for o in outcomes]
        since = (
            f" AND attempts.dialed_at >= to_timestamp({min(known) - 1.0!r})"
            if known and None not in known
            else ""
        )
        # an UPDATE, and its text changes with `since`: lists, not a (cached) appender
        values = zip(*outcomes, strict=True)
        select, params = _lists(
            [(n, k, list(v)) for (n, k), v in zip(OUTCOME_COLUMNS, values, strict=False)]
        )
        self.con.execute(
            f"UPDATE attempts SET {sets} FROM ({select}) r "
            f"WHERE attempts.attempt_id = r.attempt_id{since}",
            params,
        )
        self._insert_transcripts(outcomes)

    def _insert_transcripts(self, outcomes: list[Outcome]) -> None:
        lines = [
            (o.attempt_id, seq, at, role, text)
            for o in outcomes
            for seq, (at, role, text) in enumerate(o.transcript)
        ]
        if lines:
            self._insert(
                "INSERT INTO transcripts (attempt_id, seq, spoken_at, role, text) "
                "SELECT attempt_id, seq, to_timestamp(spoken_at), role, text FROM appender_data",
                _TRANSCRIPT_COLUMNS,
                lines,
            )
