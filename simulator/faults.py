"""Deciding which requests misbehave, and counting what was served."""

from __future__ import annotations

import random
import threading
from collections import Counter
from typing import Any

from simulator.config import Faults
from simulator.ids import mix

GATEWAY_HTML = (
    "<!DOCTYPE html>\n<html>\n<head><title>{status} {reason}</title></head>\n<body>\n"
    "<center><h1>{status} {reason}</h1></center>\n<hr><center>cloudflare</center>\n"
    "</body>\n</html>\n"
)


class FaultInjector:
    """Draws 429/5xx decisions from one seeded RNG, so a sequential run is reproducible.

    Under concurrency the same number of faults is drawn, but which request gets which draw
    depends on thread scheduling.
    """

    def __init__(self, faults: Faults, seed: int) -> None:
        self.faults = faults
        self._rng = random.Random(mix(seed, 0xFA17))
        self._lock = threading.Lock()

    def draw(self, route: str) -> int | None:
        """The error status to answer this request with, or None to serve it."""
        faults = self.faults
        if not faults.applies_to(route) or (faults.rate_5xx <= 0 and faults.rate_429 <= 0):
            return None
        with self._lock:
            gateway = self._rng.random()
            limited = self._rng.random()
            which = self._rng.random()
        if gateway < faults.rate_5xx:
            return 502 if which < 0.5 else 503
        if limited < faults.rate_429:
            return 429
        return None


class SimulatorStats:
    """Thread-safe counters: requests per route, statuses served, faults injected."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.status_429 = 0
        self.status_5xx = 0
        self.malformed = 0

    def record(self, route: str, status: int, *, malformed: bool = False) -> None:
        with self._lock:
            self.requests[route] += 1
            self.statuses[status] += 1
            if status == 429:
                self.status_429 += 1
            elif status >= 500:
                self.status_5xx += 1
            if malformed:
                self.malformed += 1

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.requests.values())

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": dict(self.requests),
                "total": sum(self.requests.values()),
                "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
                "status_429": self.status_429,
                "status_5xx": self.status_5xx,
                "malformed_pages": self.malformed,
            }

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.statuses.clear()
            self.status_429 = self.status_5xx = self.malformed = 0
