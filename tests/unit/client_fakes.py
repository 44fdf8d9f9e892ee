"""Scripted answers for client tests, served through `httpx.MockTransport`.

The transport is the only seam mocked: the real client code (request building, retries,
error mapping) runs end to end.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import orjson

BASE_URL = "http://api.test"
TOKEN = "sk-test-9f8e7d6c5b4a-SECRET"

Answer = Callable[[httpx.Request], httpx.Response] | Exception


def reply(
    status: int = 200,
    *,
    json: Any = None,
    content: bytes | str | None = None,
    headers: dict[str, str] | None = None,
) -> Callable[[httpx.Request], httpx.Response]:
    """An answer that builds a fresh response each time it is used."""

    def build(request: httpx.Request) -> httpx.Response:
        hdrs = dict(headers or {})
        body: bytes
        if json is not None:
            body = orjson.dumps(json)
            hdrs.setdefault("content-type", "application/json")
        elif isinstance(content, str):
            body = content.encode()
        else:
            body = content or b""
        return httpx.Response(status, content=body, headers=hdrs)

    return build


def page(
    items: list[dict[str, Any]], next_cursor: Any = ..., **extra: Any
) -> Callable[[httpx.Request], httpx.Response]:
    body: dict[str, Any] = {"items": items, **extra}
    if next_cursor is not ...:
        body["next"] = next_cursor
    return reply(200, json=body)


def workflow(n: int) -> dict[str, Any]:
    return {
        "id": f"{n}-20261101000000000",
        "createdAt": "2026-11-01T00:00:00.000Z",
        "status": "succeeded",
        "steps": [],
    }


class Script:
    """A MockTransport handler: answers in order (the last answer repeats), records requests."""

    # A client that never stops asking (a pagination loop) fails the test instead of hanging it.
    MAX_REQUESTS = 1000

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if len(self.requests) > self.MAX_REQUESTS:
            raise AssertionError(
                f"more than {self.MAX_REQUESTS} requests: the client does not stop"
            )
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer(request)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


class Sleeps(list[float]):
    """Records the delays the client asked to sleep, without sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)

    async def async_sleep(self, seconds: float) -> None:
        self.append(seconds)
