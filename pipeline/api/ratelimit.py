"""The request-rate budget every thread of a process draws from before it sends a request.

`RateBudget` is the interface the client uses: `acquire()` before each request,
`on_429(retry_after)` when the API says "too many requests", `stats()` for the run's
figures. `RateLimiter` is the in-process budget; one shared across processes (a multi-worker
backfill keeping it in Redis or PostgreSQL) implements the same three methods and is passed
to the client in its place.

`RateLimiter` adapts: it starts at the configured rate (the ceiling), cuts the rate by
RATE_BACKOFF_FACTOR on a 429 (a burst of 429s within RATE_BACKOFF_INTERVAL is one signal,
since the requests in flight all meet the same limit) and gives back RATE_RECOVERY_FRACTION
of the ceiling per second without one, never above the ceiling. A 429's Retry-After pauses
everyone, and the queue resumes at the rate after the pause, not in a burst.

The bucket is kept as a "theoretical arrival time" (the GCRA form of a token bucket): each
caller reserves the next free send slot under a lock, then waits outside it, so the order of
reservations is the order in which callers arrived.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from pipeline.core import settings

# A sleeper may wake up to one clock tick early; that must not count as "too early".
_WAKE_TOLERANCE = 1e-3


@dataclass(frozen=True)
class BudgetStats:
    """A budget's figures: `ceiling` and `rate` (now) and `lowest_rate` in requests/s;
    `granted` sends; `throttles` 429s reported; `backoffs` rate cuts; `paused_seconds` the
    pauses ordered by Retry-After, added up."""

    ceiling: float
    rate: float
    lowest_rate: float
    granted: int
    throttles: int
    backoffs: int
    paused_seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(self).items()}


class RateBudget(Protocol):
    """What the client needs of a rate budget (in-process or shared between processes)."""

    def acquire(self) -> None:
        """Block until the caller may send one request."""

    def on_429(self, retry_after: float | None) -> None:
        """The API answered 429; `retry_after` is its Retry-After in seconds, if it sent one."""

    def stats(self) -> BudgetStats:
        """The budget's figures so far."""


class RateLimiter:
    """In-process adaptive token bucket: at most `rate` requests per second (the ceiling),
    bursts of up to `burst` (default RATE_BURST_SECONDS' worth), slower after 429s."""

    def __init__(
        self,
        rate: float,
        burst: int | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        backoff_factor: float = settings.RATE_BACKOFF_FACTOR,
        backoff_interval: float = settings.RATE_BACKOFF_INTERVAL,
        floor_fraction: float = settings.RATE_FLOOR_FRACTION,
        recovery_fraction: float = settings.RATE_RECOVERY_FRACTION,
    ) -> None:
        if not rate > 0 or math.isinf(rate):
            raise ValueError(f"rate must be a positive number of requests per second, got {rate!r}")
        if burst is None:
            burst = max(1, math.ceil(rate * settings.RATE_BURST_SECONDS))
        if burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst!r}")
        if not 0 < backoff_factor <= 1:
            raise ValueError(f"backoff_factor must be in (0, 1], got {backoff_factor!r}")
        self.ceiling = float(rate)
        self.burst = burst
        self._rate = self.ceiling
        self._lowest = self.ceiling
        self._floor = self.ceiling * floor_fraction
        self._factor = backoff_factor
        self._backoff_interval = backoff_interval
        self._recovery = self.ceiling * recovery_fraction  # requests/s regained per second
        # The burst as a span of time, so that a slower rate also bursts less.
        self._tolerance = (burst - 1) / self.ceiling
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        now = clock()
        self._tat = now  # theoretical arrival time of the next request
        self._blocked_until = float("-inf")
        self._recovered_at = now
        self._last_backoff = float("-inf")
        self._granted = self._throttles = self._backoffs = 0
        self._paused = 0.0

    def __repr__(self) -> str:
        return f"RateLimiter(rate={self._rate:g}, ceiling={self.ceiling:g}, burst={self.burst})"

    @property
    def rate(self) -> float:
        """The rate allowed now, in requests per second."""
        with self._lock:
            self._recover(self._clock())
            return self._rate

    @property
    def blocked_for(self) -> float:
        """Seconds until a Retry-After pause ends (0 when none is active)."""
        with self._lock:
            return max(0.0, self._blocked_until - self._clock())

    def acquire(self) -> None:
        """Block the calling thread until it may send one request."""
        while True:
            delay = self._reserve()
            if delay > 0:
                self._sleep(delay)
            if self._may_send():
                return

    def on_429(self, retry_after: float | None) -> None:
        """Pause everyone for `retry_after` (at least RETRY_AFTER_FLOOR), and cut the rate
        unless it was cut less than RATE_BACKOFF_INTERVAL ago."""
        pause = max(retry_after or 0.0, settings.RETRY_AFTER_FLOOR)
        with self._lock:
            now = self._clock()
            self._recover(now)
            self._throttles += 1
            until = now + pause
            if until > self._blocked_until:
                self._paused += until - max(now, self._blocked_until)
                self._blocked_until = until
            if now - self._last_backoff >= self._backoff_interval and self._rate > self._floor:
                self._last_backoff = now
                self._backoffs += 1
                self._rate = max(self._floor, self._rate * self._factor)
                self._lowest = min(self._lowest, self._rate)
            # The bucket is empty when the pause ends, and recovery starts from there.
            self._tat = max(self._tat, self._blocked_until + self._tolerance)
            self._recovered_at = max(self._recovered_at, self._blocked_until)

    def stats(self) -> BudgetStats:
        with self._lock:
            self._recover(self._clock())
            return BudgetStats(
                ceiling=self.ceiling,
                rate=self._rate,
                lowest_rate=self._lowest,
                granted=self._granted,
                throttles=self._throttles,
                backoffs=self._backoffs,
                paused_seconds=self._paused,
            )

    def _recover(self, now: float) -> None:
        # Called with the lock held: additive increase for the time since the last look.
        if now > self._recovered_at:
            if self._rate < self.ceiling:
                gained = self._recovery * (now - self._recovered_at)
                self._rate = min(self.ceiling, self._rate + gained)
            self._recovered_at = now

    def _reserve(self) -> float:
        with self._lock:
            now = self._clock()
            self._recover(now)
            interval = 1.0 / self._rate
            send_at = max(now, self._tat - self._tolerance, self._blocked_until)
            self._tat = max(self._tat, send_at) + interval
            return send_at - now

    def _may_send(self) -> bool:
        # A pause that arrived while this caller slept on an earlier reservation sends it
        # back to the queue; the reservation is simply lost, which only errs on the slow side.
        with self._lock:
            if self._clock() + _WAKE_TOLERANCE >= self._blocked_until:
                self._granted += 1
                return True
            return False
