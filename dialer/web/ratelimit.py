"""Per-client request limits (uploads): an exact sliding window per client address."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from dialer.schedule.rate import RateLimiter


class ClientLimiter:
    """At most `per_minute` requests per client in any 60 seconds; refusals are not counted.

    The dial limiter's exact window does the counting (`burst` = the limit makes it a pure
    sliding window, no pacing). `clock` is injectable for tests.
    """

    def __init__(
        self, per_minute: int, clock: Callable[[], float] = time.monotonic, window: float = 60.0
    ) -> None:
        self.per_minute = per_minute
        self.window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._clients: dict[str, RateLimiter] = {}
        self._last: dict[str, float] = {}

    def check(self, client: str) -> float:
        """Count a request from `client`: 0 when allowed, else seconds until it would be."""
        with self._lock:
            now = self._clock()
            limiter = self._clients.get(client)
            if limiter is None:
                if len(self._clients) > 10_000:  # forget clients idle for a whole window
                    self._forget_idle(now)
                limiter = RateLimiter(self.per_minute, self.window, burst=self.per_minute)
                self._clients[client] = limiter
            at = limiter.next_allowed(now)
            if at > now:
                return at - now
            limiter.record(now)
            self._last[client] = now
            return 0.0

    def _forget_idle(self, now: float) -> None:
        for client in [c for c, t in self._last.items() if t <= now - self.window]:
            del self._clients[client], self._last[client]


def retry_after_header(seconds: float) -> str:
    """Whole seconds, rounded up, at least 1 (the Retry-After header's unit)."""
    return str(max(1, math.ceil(seconds)))
