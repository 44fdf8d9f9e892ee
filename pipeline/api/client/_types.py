"""Plain result types of the client: raw responses, raw workflow pages, request counters."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import httpx
import msgspec
import orjson


@dataclass
class RawResponse:
    """A successful response as received, for callers that archive the exact bytes."""

    status_code: int
    content: bytes
    headers: httpx.Headers

    def json(self) -> Any:
        return orjson.loads(self.content)


class ItemHead(msgspec.Struct):
    """The two members of a listed workflow that place it in a window (any JSON type: the
    caller checks them); every other member is skipped by the decoder, not built."""

    id: Any = None
    createdAt: Any = None


class PageHead(msgspec.Struct):
    items: list[ItemHead]
    next: Any = None


# A sync only needs each item's id and createdAt before archiving the page; building every
# workflow as Python objects (and freeing them) cost ~6x the decoding of these two members.
PAGE_HEAD = msgspec.json.Decoder(PageHead)


@dataclass
class WorkflowPageRaw:
    """One page of `GET /v2/consumer/workflows`, checked to be `{"items": [{...}, ...], ...}`.

    `content` is the body exactly as served (for the raw archive); `heads` holds each item's
    id and createdAt; `items` (the full documents) is decoded on first use. `next` is None on
    the last page (the API may omit it, send null, or send ""); `request_params` are the query
    parameters as sent, with repeated keys (`tags`) as lists.
    """

    content: bytes
    heads: list[ItemHead]
    next: str | None
    request_params: dict[str, Any]

    @cached_property
    def items(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = orjson.loads(self.content)["items"]
        return items


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
