"""What the server process holds while it runs: its config, token secret and the run log.

DuckDB allows one writer process per file, so the server owns the run log for its lifetime:
`open()` takes the file's lock once (a `dialer run` elsewhere then gets the "in use by process
N" error) and every request reads or writes through its own `cursor()` (a DuckDB connection must
not be used from two threads at once; cursors are separate connections to the same database).

Blocking library work (DuckDB, lead files, validation) runs on `run()`'s executor, whose threads
end at shutdown, while the interpreter is alive. Not on the framework's daemon thread pool:
a thread that used the campaign SQL checker holds a thread-local DuckDB connection, and
destroying that during interpreter exit aborts the process.

Run control (runs started inside the server, live status) hangs off this object too: `startup`
and `shutdown` are the lifespan hooks where it starts and stops, awaited in that order.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import duckdb

from dialer.store.connect import open_run_log
from dialer.web.auth import check_secret, new_secret
from dialer.web.config import WebConfig
from dialer.web.ratelimit import ClientLimiter

T = TypeVar("T")
WORKERS = 4  # blocking requests at once; DuckDB itself runs queries on all cores


class ServerState:
    """One per app (`app.state.server`)."""

    def __init__(self, config: WebConfig) -> None:
        self.config = config
        # without a configured secret the server signs with a throwaway one (loopback only:
        # `check_bind` refuses anything else); its tokens die with the process
        self.secret = check_secret(config.jwt_secret) if config.jwt_secret else new_secret()
        self.ephemeral_secret = config.jwt_secret is None
        self.con: duckdb.DuckDBPyConnection | None = None
        # request cursors are spawned from a connection nothing else executes on, so a run
        # writing on `con` (run control) never shares a connection object with a request
        self._spawner: duckdb.DuckDBPyConnection | None = None
        self._spawn_lock = threading.Lock()
        self.upload_limiter = ClientLimiter(config.uploads_per_minute)
        self._lock = threading.Lock()
        self.runs = None  # RunService, from startup to shutdown
        self._executor: ThreadPoolExecutor | None = None

    # ----- the run log ------------------------------------------------------------------------
    def open(self) -> None:
        """Open (create, migrate) the run log and hold its lock; idempotent.

        `dialer serve` calls this before it binds the port, so a held lock is a one-line error,
        not a failed startup; under a test client the lifespan calls it.
        """
        with self._lock:
            if self.con is None:
                self.con = open_run_log(self.config.db)
                self._spawner = self.con.cursor()

    def close(self) -> None:
        with self._lock:
            if self.con is not None:
                if self._spawner is not None:
                    self._spawner.close()
                self.con.close()
                self.con, self._spawner = None, None

    @contextlib.contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor on the run log for one request (its TEMP tables die with it)."""
        with self._spawn_lock:
            if self._spawner is None:
                raise RuntimeError("the run log is not open: the server has not started")
            cur = self._spawner.cursor()
        try:
            yield cur
        finally:
            cur.close()

    def catalog(self, cur: duckdb.DuckDBPyConnection) -> str:
        """The run log's catalog name on `cur` (lead selection reads `dnc` and history there)."""
        return cur.execute("SELECT current_database()").fetchone()[0]

    # ----- blocking work ------------------------------------------------------------------------
    async def run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """`fn(*args, **kwargs)` on the server's worker threads, awaited."""
        if self._executor is None:
            raise RuntimeError("the server has not started")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    async def query(self, fn: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """`fn(cursor)` on a worker thread with a run log cursor of its own."""

        def with_cursor() -> T:
            with self.cursor() as cur:
                return fn(cur)

        return await self.run(with_cursor)

    # ----- lifespan hooks (run control starts and stops here) ----------------------------------
    async def startup(self) -> None:
        self.open()
        if self._executor is None:
            self._executor = ThreadPoolExecutor(WORKERS, thread_name_prefix="dialer-web")
        if self.runs is None:
            from dialer.runner.service import RunService

            # runs started from the dashboard write through the server's own connection
            self.runs = RunService(self.con, self.config.db, backend=self.config.backend)

    async def shutdown(self) -> None:
        runs, self.runs = self.runs, None
        if runs is not None:  # hang up what is in progress; its results are written first
            await runs.aclose()
        executor, self._executor = self._executor, None
        if executor is not None:  # its threads end here, before the run log closes
            await asyncio.get_running_loop().run_in_executor(
                None, functools.partial(executor.shutdown, wait=True)
            )
        self.close()
