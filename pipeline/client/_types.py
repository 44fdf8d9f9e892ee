"""Plain result types of the client: raw responses, raw workflow pages, request counters."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson


@dataclass
class RawResponse:
    """A successful response as received, for callers that archive the exact bytes."""

    status_code: int
    content: bytes
    headers: httpx.Headers

    def json(self) -> Any:
        return orjson.loads(self.content)


@dataclass
class WorkflowPageRaw:
    """One page of `GET /v2/consumer/workflows`, checked to be `{"items": [...], ...}`.

    `content` is the body exactly as served (for the raw archive); `next` is None on the last
    page (the API may omit it, send null, or send ""); `request_params` are the query
    parameters as sent, with repeated keys (`tags`) as lists.
    """

    content: bytes
    items: list[dict[str, Any]]
    next: str | None
    request_params: dict[str, Any]


@dataclass
class ClientStats:
    """Request counters, safe to update from many threads and tasks at once."""

    requests: int = 0
    retries: int = 0
    status_429: int = 0
    status_5xx: int = 0
    transport_errors: int = 0
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
        with self._lock:
            self.requests += requests
            self.retries += retries
            self.status_429 += status_429
            self.status_5xx += status_5xx
            self.transport_errors += transport_errors

    def as_dict(self) -> dict[str, int]:
        with self._lock:
            return {
                "requests": self.requests,
                "retries": self.retries,
                "status_429": self.status_429,
                "status_5xx": self.status_5xx,
                "transport_errors": self.transport_errors,
            }
