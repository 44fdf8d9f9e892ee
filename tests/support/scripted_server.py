"""A real HTTP server on this machine that answers from a script, for client tests.

    with ScriptedServer(reply(429, headers={"Retry-After": "1"}), page([...])) as server:
        client = OrchestrationClient(base_url=server.url, token=TOKEN)
        ...
        server.requests[0].headers["authorization"]

Answers are served in order and the last one repeats; each is an `Answer`, a function of the
request that returns one, or `DROP` (the connection is closed without an answer, as a server
that died mid-request). Every request is recorded with its raw target, so what the client
put on the wire can be checked byte for byte. `host` may be "localhost" to have a second
origin beside 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson


@dataclass
class Seen:
    """One request as it arrived."""

    method: str
    target: str  # the raw request target: path and query exactly as sent
    headers: dict[str, str]  # lower-case names

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.target).query, keep_blank_values=True)

    @property
    def raw_query(self) -> str:
        return urlsplit(self.target).query


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (a slow server)
    chunked: bool = False  # send the body without a Content-Length


Script = Answer | Callable[[Seen], "Answer | object"] | object
DROP = object()


def reply(
    status: int = 200,
    *,
    json: Any = None,
    content: bytes | str | None = None,
    headers: dict[str, str] | None = None,
    gzip_body: bool = False,
    chunked: bool = False,
    delay: float = 0.0,
) -> Answer:
    hdrs = dict(headers or {})
    if json is not None:
        body = orjson.dumps(json)
        hdrs.setdefault("Content-Type", "application/json")
    elif isinstance(content, str):
        body = content.encode()
    else:
        body = content or b""
    if gzip_body:
        body = gzip.compress(body)
        hdrs["Content-Encoding"] = "gzip"
    return Answer(status, body, hdrs, delay=delay, chunked=chunked)


def page(items: list[dict[str, Any]], next_cursor: Any = ..., **extra: Any) -> Answer:
    body: dict[str, Any] = {"items": items, **extra}
    if next_cursor is not ...:
        body["next"] = next_cursor
    return reply(200, json=body)


def workflow(n: int, created_at: str = "2026-11-01T00:00:00.000Z") -> dict[str, Any]:
    return {"id": f"{n}-20261101000000000", "createdAt": created_at, "status": "succeeded"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()})
        answer = self.server.owner.next_answer(seen)
        if answer is DROP:
            self.close_connection = True
            return
        assert isinstance(answer, Answer), answer
        if answer.delay:
            time.sleep(answer.delay)
        self.send_response(answer.status)
        for key, value in answer.headers.items():
            self.send_header(key, value)
        if answer.chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                for start in range(0, len(answer.body), 65536):
                    part = answer.body[start : start + 65536]
                    self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):  # the client stopped reading
                self.close_connection = True
            return
        if "Content-Length" not in answer.headers:
            self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        try:
            self.wfile.write(answer.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_HEAD = do_GET


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: ScriptedServer

    def process_request(self, request: Any, client_address: Any) -> None:
        self.owner.connections.add(request)
        super().process_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up (it refused a body, or was stopped) is no error of the
        # server's; anything else is still printed.
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class ScriptedServer:
    """See the module docstring. Use as a context manager; `url` has no trailing slash."""

    MAX_REQUESTS = 2000  # a client that never stops asking fails the test instead of hanging

    def __init__(self, *answers: Script, host: str = "127.0.0.1") -> None:
        self.answers: list[Script] = list(answers)
        self.requests: list[Seen] = []
        self.connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._server = _Server((host, 0), _Handler)
        self._server.owner = self
        self.url = f"http://{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def script(self, *answers: Script) -> None:
        """Replace the answers still to come."""
        with self._lock:
            self.answers = list(answers)

    def next_answer(self, seen: Seen) -> object:
        with self._lock:
            self.requests.append(seen)
            if len(self.requests) > self.MAX_REQUESTS:
                return Answer(599, b"the client does not stop asking")
            answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if callable(answer):
            return answer(seen)
        return answer

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop answering: no new connection is accepted and kept-alive ones are cut."""
        self._server.shutdown()
        self._server.server_close()
        for conn in list(self.connections):
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
