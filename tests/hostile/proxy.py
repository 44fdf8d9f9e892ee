"""A hostile HTTP proxy in front of the simulator: one day's workflow list misbehaves, every
other request passes through untouched.

    with HostileProxy(simulator.url, day=days[1], fault=repeat_next) as proxy:
        sync the range against proxy.url ...

It is a `ScriptedServer` (tests/support/scripted_server.py) whose one route forwards the
request to the simulator with httpx (no redirects followed, the Authorization header passed
on) and hands the answer to `fault` when the request is a list page of `day`. A fault is a
function `(seen, upstream, proxy) -> Answer` that rewrites the simulator's real answer (or
invents one); `upstream` is the simulator's answer to the request as it came, and
`proxy.forward(seen, ...)` asks the simulator for something else (another cursor, ...).

A day is recognised by the list request's `fromDate` (a window, or one of its sub-windows,
starts on that day); the pipeline always sends it for a window (its server-filter mode).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson

from tests.support.scripted_server import Answer, ScriptedServer, Seen

Fault = Callable[[Seen, Answer, "HostileProxy"], Answer]
LIST_PATH = "/v2/consumer/workflows"
# Hop-by-hop headers and the ones httpx recomputes: the rest of the answer is passed on as is.
_DROPPED = {"content-length", "transfer-encoding", "connection", "keep-alive", "content-encoding"}


class HostileProxy:
    """See the module docstring. `faulted` counts the answers `fault` produced."""

    def __init__(self, upstream: str, *, day: date | None = None, fault: Fault | None = None):
        self.upstream = upstream.rstrip("/")
        self.day = day
        self.fault = fault
        self.faulted = 0
        self._http = httpx.Client(timeout=30, follow_redirects=False)
        self._server = ScriptedServer(self._route)
        self.url = self._server.url

    @property
    def requests(self) -> list[Seen]:
        return self._server.requests

    def is_target(self, seen: Seen) -> bool:
        """Whether `seen` is a list page of the hostile day."""
        if self.day is None or seen.path.rstrip("/") != LIST_PATH:
            return False
        return seen.query.get("fromDate", [""])[0].startswith(self.day.isoformat())

    def forward(self, seen: Seen, **query: Any) -> Answer:
        """The simulator's answer to `seen`, with `query` replacing parameters of its own."""
        params = {k: v[-1] for k, v in seen.query.items()}
        params.update({k: v for k, v in query.items() if v is not None})
        for name in [k for k, v in query.items() if v is None]:
            params.pop(name, None)
        target = seen.path + ("?" + urlencode(params) if params else "")
        headers = {k: v for k, v in seen.headers.items() if k in ("authorization", "accept")}
        response = self._http.get(self.upstream + target, headers=headers)
        kept = {k: v for k, v in response.headers.items() if k.lower() not in _DROPPED}
        return Answer(response.status_code, response.content, kept)

    def _route(self, seen: Seen) -> Answer:
        upstream = self.forward(seen)
        if self.fault is None or not self.is_target(seen):
            return upstream
        self.faulted += 1
        return self.fault(seen, upstream, self)

    def __enter__(self) -> HostileProxy:
        self._server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()
        self._http.close()


def body_of(answer: Answer) -> dict[str, Any]:
    """The JSON page of an answer from the simulator."""
    return orjson.loads(answer.body)


def json_answer(doc: Any, status: int = 200, **headers: str) -> Answer:
    return Answer(status, orjson.dumps(doc), {"Content-Type": "application/json", **headers})
