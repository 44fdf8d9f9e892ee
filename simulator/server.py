"""The simulator's HTTP server: the Orchestration API's read endpoints on 127.0.0.1.

A ThreadingHTTPServer speaking HTTP/1.1 with keep-alive (one thread per client connection).
Responses are written in a single `sendall` with TCP_NODELAY: headers and body in separate
small writes would meet Nagle's algorithm and delayed ACKs and cost ~40 ms per request.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import socket
import sys
import threading
import time
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from simulator import answers
from simulator.account import SimulatedAccount
from simulator.answers import Reply, not_found, problem
from simulator.config import Faults, SimulatorConfig
from simulator.faults import FaultInjector, SimulatorStats
from simulator.ids import mix
from simulator.listing import BadRequest, CursorCodec

IDLE_CONNECTION_TIMEOUT = 120


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], simulator: SimulatorServer) -> None:
        self.simulator = simulator
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, conn: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(conn)

    def untrack(self, conn: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(conn)

    def close_connections(self) -> None:
        """Hang up on keep-alive clients, so a stopped server really stops answering."""
        with self._connections_lock:
            conns = list(self._connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "orchestration-simulator"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = IDLE_CONNECTION_TIMEOUT
    server: _HTTPServer
    _answer_at = 0.0  # time.monotonic() before which the reply is held back (latency)

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request would dominate the benchmark; stats count instead

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    # --- plumbing --------------------------------------------------------------------------
    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str | None,
        headers: dict[str, str] | None = None,
    ) -> None:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = ""
        lines = [
            f"HTTP/1.1 {status} {reason}",
            f"Server: {self.server_version}",
            f"Content-Length: {len(body)}",
        ]
        if content_type:
            lines.append(f"Content-Type: {content_type}")
        for key, value in (headers or {}).items():
            lines.append(f"{key}: {value}")
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        # Latency is the time from request to answer, as an API's response time is: the
        # simulator's own work counts toward it instead of adding to it.
        wait = self._answer_at - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._answer_at = 0.0
        self.wfile.write(head + body)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self, method: str) -> None:
        started = time.monotonic()
        self._answer_at = 0.0
        body = self._read_body()
        sim = self.server.simulator
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        params: dict[str, list[str]] = {}
        for key, values in parse_qs(url.query, keep_blank_values=True).items():
            params.setdefault(key.lower(), []).extend(values)
        if path.startswith("/_simulator/"):
            self._reply(answers.admin(sim, method, path, body))
            return
        route, args = answers.route_of(path)
        answered = answers.Answered(Reply(500))
        try:
            answered = self._answer(method, path, route, args, params, started)
        except Reply as reply:
            answered = answers.Answered(reply)
        except BadRequest as exc:
            answered = answers.Answered(answers.bad_request(exc))
        except Exception as exc:  # a simulator bug: answer 500 and say why on stderr
            traceback.print_exc(file=sys.stderr)
            answered = answers.Answered(
                Reply(500, problem(500, "Internal Server Error", type(exc).__name__))
            )
        # Counted before the reply leaves: a client that reads the stats after its answer
        # must find its request in them.
        sim.stats.record(route, answered.reply.status, malformed=answered.malformed)
        if not self._reply(answered.reply):
            return
        # While the client parses this page, build the next one; its request waits in the
        # socket buffer meanwhile. Overlaps the two sides' CPU work.
        for g in answered.upcoming:
            sim.account.record(g)

    def _answer(
        self,
        method: str,
        path: str,
        route: str,
        args: tuple[str, ...],
        params: dict[str, list[str]],
        started: float,
    ) -> answers.Answered:
        sim = self.server.simulator
        if route == "blobs.content":
            if method != "GET":
                raise Reply(405, problem(405, "Method Not Allowed"))
            return answers.Answered(answers.content(sim, args[0], params))
        if route == "unknown":
            raise not_found(f"No route for {path}.")
        faults = sim.faults
        if faults.latency_ms and faults.applies_to(route):
            self._answer_at = started + faults.latency_ms / 1000.0
        fault = sim.injector.draw(route)
        if fault is not None:
            raise answers.fault_reply(fault, faults)
        if method != "GET":
            raise Reply(
                405,
                problem(405, "Method Not Allowed", "The simulator only serves reads."),
                headers={"Allow": "GET"},
            )
        self._authenticate(sim.config.token)
        return answers.consumer(sim, route, args, params, self.headers.get("Host"))

    def _reply(self, reply: Reply) -> bool:
        """Send `reply`; False when the client has gone."""
        try:
            self._send(reply.status, reply.body, reply.content_type, reply.headers)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            return False
        return True

    def _authenticate(self, token: str) -> None:
        header = self.headers.get("Authorization") or ""
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or value.strip() != token:
            # Never echo the presented credential.
            raise Reply(
                401,
                problem(401, "Unauthorized", "A valid bearer token is required."),
                headers={"WWW-Authenticate": "Bearer"},
            )


class SimulatorServer:
    """The simulator on 127.0.0.1 (`port=0` picks a free port); see the package docstring."""

    def __init__(
        self, config: SimulatorConfig | None = None, port: int = 0, host: str = "127.0.0.1"
    ) -> None:
        self.config = config or SimulatorConfig()
        self.account = SimulatedAccount(self.config)
        # A copy: changing the running server's faults never edits the caller's config.
        self.injector = FaultInjector(dataclasses.replace(self.config.faults), self.config.seed)
        self.stats = SimulatorStats()
        self.cursors = CursorCodec(self.config.seed)
        self._httpd = _HTTPServer((host, port), self)
        self.host = host
        self.port: int = self._httpd.server_address[1]
        self._thread: threading.Thread | None = None
        self._closed = False

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def faults(self) -> Faults:
        return self.injector.faults

    @faults.setter
    def faults(self, value: Faults) -> None:
        if not isinstance(value, Faults):
            raise TypeError("faults must be a Faults instance")
        self.injector.faults = value

    def content_token(self, blob_id: str) -> str:
        check = mix(self.config.seed, 0x70C, *blob_id.encode()) & 0xFFFFFFFF
        raw = f"{blob_id}:{check:08x}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def blob_id_from_token(self, token: str) -> str | None:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        blob_id, _, _check = raw.rpartition(":")
        return blob_id if blob_id and self.content_token(blob_id) == token else None

    def start(self) -> SimulatorServer:
        if self._closed:
            raise RuntimeError("this simulator has been stopped; create a new one")
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"simulator-{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the foreground until interrupted (for `civitai-sync simulator serve`)."""
        try:
            self._httpd.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            pass
        finally:
            self._close()

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._close()

    def _close(self) -> None:
        if not self._closed:
            self._closed = True
            self._httpd.close_connections()
            self._httpd.server_close()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"SimulatorServer(url={self.url!r}, config={self.config!r})"
