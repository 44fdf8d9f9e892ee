"""The figures of a client's run: requests, answers that asked to slow down, retries, and the
rate the client really achieved (what the sync summary and the ledger show)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pipeline.api.ratelimit import RateBudget


@dataclass
class ClientStats:
    """Request counters, safe to update from many threads at once.

    `effective_rate` is requests per second between the first and the last request (None
    before two requests); `budget` is the rate budget the client draws from, if any, whose
    own figures (`rate`, `lowest_rate`, pauses) `as_dict` includes.
    """

    requests: int = 0
    retries: int = 0
    status_429: int = 0
    status_5xx: int = 0
    transport_errors: int = 0
    budget: RateBudget | None = field(default=None, repr=False, compare=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)
    _first: float | None = field(default=None, repr=False, compare=False)
    _last: float | None = field(default=None, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(
        self,
        *,
        requests: int = 0,
        retries: int = 0,
        status_429: int = 0,
        status_5xx: int = 0,
        transport_errors: int = 0,
    ) -> None:
        now = self.clock() if requests else None
        with self._lock:
            self.requests += requests
            self.retries += retries
            self.status_429 += status_429
            self.status_5xx += status_5xx
            self.transport_errors += transport_errors
            if now is not None:
                self._first = now if self._first is None else self._first
                self._last = now

    @property
    def effective_rate(self) -> float | None:
        with self._lock:
            if self._first is None or self._last is None or self._last <= self._first:
                return None
            return (self.requests - 1) / (self._last - self._first)

    def as_dict(self) -> dict[str, Any]:
        rate = self.effective_rate
        with self._lock:
            out: dict[str, Any] = {
                "requests": self.requests,
                "retries": self.retries,
                "status_429": self.status_429,
                "status_5xx": self.status_5xx,
                "transport_errors": self.transport_errors,
                "effective_rate": None if rate is None else round(rate, 2),
            }
        if self.budget is not None:
            out["budget"] = self.budget.stats().as_dict()
        return out
