"""A request-rate budget shared by every thread and asyncio task that talks to the API.

The bucket is kept as a "theoretical arrival time" (the GCRA form of a token bucket): each
caller reserves the next free send slot under a lock, then waits outside the lock. That makes
one limiter usable from threads (`acquire`) and from asyncio tasks (`acquire_async`) at once,
and the reservation order is the order in which callers arrived.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Awaitable, Callable

# asyncio may wake a sleeper up to one clock tick early; that must not count as "too early".
_WAKE_TOLERANCE = 1e-3


class RateLimiter:
    """Token bucket: `rate` requests per second with bursts of up to `burst` requests.

    `penalize(seconds)` is how a 429 slows the whole budget: no caller sends before
    now + seconds, and the bucket is empty when the pause ends, so the callers that
    queued up during the pause resume at `rate` instead of all at once.
    """

    def __init__(
        self,
        rate: float,
        burst: int | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        async_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not rate > 0 or math.isinf(rate):
            raise ValueError(f"rate must be a positive number of requests per second, got {rate!r}")
        if burst is None:
            burst = max(1, math.ceil(rate))
        if burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst!r}")
        self.rate = float(rate)
        self.burst = burst
        self._interval = 1.0 / self.rate
        self._tolerance = (burst - 1) * self._interval
        self._clock = clock
        self._sleep = sleep
        self._async_sleep = async_sleep
        self._lock = threading.Lock()
        self._tat = clock()  # theoretical arrival time of the next request
        self._blocked_until = float("-inf")

    def __repr__(self) -> str:
        return f"RateLimiter(rate={self.rate:g}, burst={self.burst})"

    def acquire(self) -> None:
        """Block the calling thread until it may send one request."""
        while True:
            delay = self._reserve()
            if delay > 0:
                self._sleep(delay)
            if self._may_send():
                return

    async def acquire_async(self) -> None:
        """Wait (without blocking the event loop) until this task may send one request."""
        while True:
            delay = self._reserve()
            if delay > 0:
                await self._async_sleep(delay)
            if self._may_send():
                return

    def penalize(self, seconds: float) -> None:
        """Pause everyone: nobody sends before now + `seconds`."""
        if seconds <= 0:
            return
        with self._lock:
            self._blocked_until = max(self._blocked_until, self._clock() + seconds)
            self._tat = max(self._tat, self._blocked_until + self._tolerance)

    @property
    def blocked_for(self) -> float:
        """Seconds until a penalty ends (0 when none is active)."""
        with self._lock:
            return max(0.0, self._blocked_until - self._clock())

    def _reserve(self) -> float:
        with self._lock:
            now = self._clock()
            send_at = max(now, self._tat - self._tolerance, self._blocked_until)
            self._tat = max(self._tat, send_at) + self._interval
            return send_at - now

    def _may_send(self) -> bool:
        # A penalty that arrived while this caller slept on an earlier reservation sends it
        # back to the queue; the reservation is simply lost, which only errs on the slow side.
        with self._lock:
            return self._clock() + _WAKE_TOLERANCE >= self._blocked_until
