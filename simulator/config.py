"""Simulator settings: what data to generate and which faults to inject."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date
from typing import Any

# Every consumer route the simulator serves; `Faults.routes` may narrow faults to some of them.
ROUTES = ("workflows.list", "workflows.get", "steps.get", "jobs.get", "blobs.get")
LAST_PAGE_NEXT = ("omit", "null", "empty", "cursor")

# Workflow timestamps are spaced >= 1 ms apart only up to this volume, and a workflow id
# (`{user}-{yyyyMMddHHmmssfff}`) must map back to exactly one workflow.
MAX_WORKFLOWS_PER_DAY = 1_000_000


@dataclass
class Faults:
    """Switchable misbehaviour, mutable while the server runs (`server.faults.rate_429 = 0.1`).

    latency_ms: every consumer request is answered this long after it arrived (or later, when
        building the answer takes longer): the simulator's own work counts toward it.
    rate_429 / rate_5xx: share of consumer requests answered 429 (ProblemDetails) or 502/503
        (an HTML gateway page), drawn from a seeded RNG so a sequential run is reproducible.
    retry_after: the 429's Retry-After header value; None leaves the header out, "0" is allowed.
    ignore_date_filter: the list endpoint ignores fromDate/toDate (the skill warns that date
        filters "may have limited support"), so the client has to filter by itself.
    page_size_clamp: the list endpoint never returns more than this many items per page.
    malformed_pages: 1-based positions in a list cursor chain (the request without a cursor is
        page 1) whose body is cut in half, i.e. not valid JSON.
    last_page_next: how the last list page says "no more": leave `next` out ("omit"), send
        null, send "", or send a cursor that leads to one final empty page ("cursor").
    routes: route names (see ROUTES) that latency/429/5xx apply to; empty means all of them.
    """

    latency_ms: float = 0
    rate_429: float = 0
    retry_after: str | None = "1"
    rate_5xx: float = 0
    ignore_date_filter: bool = False
    page_size_clamp: int | None = None
    malformed_pages: frozenset[int] = frozenset()
    last_page_next: str = "omit"
    routes: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        if self.latency_ms < 0:
            raise ValueError("latency_ms must be >= 0")
        for name in ("rate_429", "rate_5xx"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        if self.page_size_clamp is not None and self.page_size_clamp < 1:
            raise ValueError("page_size_clamp must be >= 1 or None")
        if self.last_page_next not in LAST_PAGE_NEXT:
            raise ValueError(f"last_page_next must be one of {LAST_PAGE_NEXT}")
        unknown = set(self.routes) - set(ROUTES)
        if unknown:
            raise ValueError(f"unknown fault routes {sorted(unknown)}; known: {ROUTES}")
        self.malformed_pages = frozenset(int(p) for p in self.malformed_pages)
        self.routes = frozenset(self.routes)

    def applies_to(self, route: str) -> bool:
        return not self.routes or route in self.routes

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        out["malformed_pages"] = sorted(self.malformed_pages)
        out["routes"] = sorted(self.routes)
        return out

    def update(self, changes: Mapping[str, Any]) -> None:
        """Apply a partial update (the body of POST /_simulator/faults); all-or-nothing."""
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown fault settings {sorted(unknown)}; known: {sorted(known)}")
        current = self.to_dict()
        current.update(changes)
        candidate = Faults(**current)  # validates
        for name in known:
            setattr(self, name, getattr(candidate, name))


@dataclass
class SimulatorConfig:
    """The generated account: `days` UTC days from `start`, `workflows_per_day` each."""

    seed: int = 7
    start: date = date(2026, 11, 1)
    days: int = 3
    workflows_per_day: int = 200
    token: str = field(default="sim-token", repr=False)
    # Share of workflows that are still scheduled/processing until `advance()`.
    running_share: float = 0.05
    faults: Faults = field(default_factory=Faults)
    # Keep every serialized workflow and job document once built instead of a bounded LRU:
    # with `SimulatedAccount.warm()` the server's cost per request is only HTTP, like an API
    # whose servers are not on the client's cores (the benchmark uses it).
    cache_all: bool = False

    def __post_init__(self) -> None:
        if self.days < 1:
            raise ValueError("days must be >= 1")
        if not 1 <= self.workflows_per_day <= MAX_WORKFLOWS_PER_DAY:
            raise ValueError(f"workflows_per_day must be between 1 and {MAX_WORKFLOWS_PER_DAY}")
        if not 0 <= self.running_share <= 1:
            raise ValueError("running_share must be between 0 and 1")
        if not self.token:
            raise ValueError("token must not be empty")
