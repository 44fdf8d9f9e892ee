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
import zlib
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import orjson

from simulator.account import SimulatedAccount
from simulator.config import Faults, SimulatorConfig
from simulator.faults import GATEWAY_HTML, FaultInjector, SimulatorStats
from simulator.ids import mix
from simulator.listing import (
    BadRequest,
    CursorCodec,
    list_page,
    parse_bool,
    parse_list_query,
)
from simulator.model import NSFW_ORDER

# GetWorkflow `wait` is honoured up to this many seconds (the real ceiling is ~100 s; tests
# must not sit that long), after which a still-running workflow is answered with 202.
WAIT_CAP_SECONDS = 0.25
IDLE_CONNECTION_TIMEOUT = 120

_PROBLEM_TYPES = {
    400: "https://tools.ietf.org/html/rfc9110#section-15.5.1",
    401: "https://tools.ietf.org/html/rfc9110#section-15.5.2",
    403: "https://tools.ietf.org/html/rfc9110#section-15.5.4",
    404: "https://tools.ietf.org/html/rfc9110#section-15.5.5",
    405: "https://tools.ietf.org/html/rfc9110#section-15.5.6",
    429: "https://tools.ietf.org/html/rfc6585#section-4",
    500: "https://tools.ietf.org/html/rfc9110#section-15.6.1",
}
JSON = "application/json; charset=utf-8"
PROBLEM_JSON = "application/problem+json; charset=utf-8"
_CONTENT_TYPES = {
    "jpeg": "image/jpeg",
    "jpg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "svg": "image/svg+xml",
    "mp4": "video/mp4",
    "mp3": "audio/mpeg",
    "glb": "model/gltf-binary",
    "json": "application/json",
}


def problem(status: int, title: str, detail: str | None = None, **extra: Any) -> bytes:
    doc: dict[str, Any] = {"type": _PROBLEM_TYPES.get(status), "title": title, "status": status}
    if detail is not None:
        doc["detail"] = detail
    doc.update(extra)
    doc["traceId"] = (
        f"00-{mix(time.monotonic_ns(), status):016x}{mix(status):016x}-{mix(id(doc)):016x}-00"
    )
    return orjson.dumps(doc)


def blob_content(blob_id: str) -> bytes:
    """Small deterministic bytes with the right magic numbers for the blob's extension."""
    ext = blob_id.rpartition(".")[2].lower()
    tag = blob_id.encode()
    if ext == "png":

        def chunk(kind: bytes, data: bytes) -> bytes:
            return (
                len(data).to_bytes(4, "big")
                + kind
                + data
                + zlib.crc32(kind + data).to_bytes(4, "big")
            )

        ihdr = (1).to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0])
        pixel = zlib.compress(b"\x00" + bytes([mix(len(tag), *tag) & 0xFF, 0x80, 0x40]))
        return (
            b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", ihdr)
            + chunk(b"tEXt", b"Comment\x00" + tag)
            + chunk(b"IDAT", pixel)
            + chunk(b"IEND", b"")
        )
    if ext == "mp4":
        ftyp = b"ftypisom" + b"\x00\x00\x02\x00" + b"isomiso2avc1mp41"
        free = b"free" + tag
        return (len(ftyp) + 4).to_bytes(4, "big") + ftyp + (len(free) + 4).to_bytes(4, "big") + free
    jfif = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    return (
        b"\xff\xd8\xff\xe0"
        + (len(jfif) + 2).to_bytes(2, "big")
        + jfif
        + b"\xff\xfe"
        + (len(tag) + 2).to_bytes(2, "big")
        + tag
        + b"\xff\xd9"
    )


class _Reply(Exception):
    """Raised inside a handler to answer at once."""

    def __init__(
        self,
        status: int,
        body: bytes = b"",
        content_type: str = PROBLEM_JSON,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers or {}


def _not_found(what: str) -> _Reply:
    return _Reply(404, problem(404, "Not Found", what))


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
    _malformed = False
    _upcoming = range(0)
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
        route = "unknown"
        status = 500
        try:
            if path.startswith("/_simulator/"):
                route = "admin"
                status, payload = self._admin(method, path, body)
                self._send(status, payload, JSON)
                return
            route, args = _route(path)
            if route == "blobs.content":
                if method != "GET":
                    raise _Reply(405, problem(405, "Method Not Allowed"))
                status = self._content(args[0], params)
                return
            if route == "unknown":
                raise _not_found(f"No route for {path}.")
            faults = sim.faults
            if faults.latency_ms and faults.applies_to(route):
                self._answer_at = started + faults.latency_ms / 1000.0
            fault = sim.injector.draw(route)
            if fault is not None:
                raise _fault_reply(fault, faults)
            if method != "GET":
                raise _Reply(
                    405,
                    problem(405, "Method Not Allowed", "The simulator only serves reads."),
                    headers={"Allow": "GET"},
                )
            self._authenticate(sim.config.token)
            reply_status, payload, extra = self._consumer(route, args, params)
            status = reply_status
            self._send(reply_status, payload, JSON if payload else None, extra)
            if self._upcoming:
                # While the client parses this page, build the next one; its request waits
                # in the socket buffer meanwhile. Overlaps the two sides' CPU work.
                upcoming, self._upcoming = self._upcoming, range(0)
                for g in upcoming:
                    sim.account.record(g)
        except _Reply as reply:
            status = reply.status
            self._send(
                reply.status, reply.body, reply.content_type if reply.body else None, reply.headers
            )
        except BadRequest as exc:
            status = 400
            self._send(
                400,
                problem(400, "One or more validation errors occurred.", errors=exc.errors),
                PROBLEM_JSON,
            )
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            return
        except Exception as exc:  # a simulator bug: answer 500 and say why on stderr
            traceback.print_exc(file=sys.stderr)
            status = 500
            self._send(500, problem(500, "Internal Server Error", type(exc).__name__), PROBLEM_JSON)
        finally:
            if route != "admin":
                sim.stats.record(route, status, malformed=getattr(self, "_malformed", False))
                self._malformed = False

    def _authenticate(self, token: str) -> None:
        header = self.headers.get("Authorization") or ""
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or value.strip() != token:
            # Never echo the presented credential.
            raise _Reply(
                401,
                problem(401, "Unauthorized", "A valid bearer token is required."),
                headers={"WWW-Authenticate": "Bearer"},
            )

    # --- consumer routes -------------------------------------------------------------------
    def _consumer(
        self, route: str, args: tuple[str, ...], params: dict[str, list[str]]
    ) -> tuple[int, bytes, dict[str, str] | None]:
        sim = self.server.simulator
        account = sim.account

        def one(name: str) -> str | None:
            values = params.get(name.lower())
            return values[-1] if values else None

        if route == "workflows.list":
            query = parse_list_query(params, sim.cursors)
            page = list_page(account, query, sim.faults, sim.cursors)
            self._malformed = query.page in sim.faults.malformed_pages
            self._upcoming = page.upcoming
            return 200, page.body, None
        if route == "workflows.get":
            workflow_id = args[0]
            g = account.position_of(workflow_id)
            if g is None:
                raise _not_found(f"Workflow {workflow_id} was not found.")
            hide_text = one("hideMatureContent")
            hide = parse_bool("hideMatureContent", hide_text) if hide_text else False
            wait_text = one("wait")
            try:
                wait = int(wait_text) if wait_text else 0
            except ValueError:
                raise BadRequest({"wait": [f"The value '{wait_text}' is not valid."]}) from None
            rec = account.record(g)
            status = 200
            if rec.running and wait > 0:
                time.sleep(min(wait, WAIT_CAP_SECONDS))
                rec = account.record(g)
                status = 202 if rec.running else 200
            return status, rec.hidden if hide else rec.full, None
        if route == "steps.get":
            workflow_id, step_name = args
            if account.position_of(workflow_id) is None:
                raise _not_found(f"Workflow {workflow_id} was not found.")
            step = account.step_bytes(workflow_id, step_name)
            if step is None:
                raise _not_found(f"Step {step_name} of workflow {workflow_id} was not found.")
            return 200, step, None
        if route == "jobs.get":
            raw = account.job_bytes(args[0])
            if raw is None:
                raise _not_found(f"Job {args[0]} was not found.")
            detailed_text = one("detailed")
            if detailed_text and not parse_bool("detailed", detailed_text):
                doc = orjson.loads(raw)
                doc.pop("job", None)
                raw = orjson.dumps(doc)
            return 200, raw, None
        if route == "blobs.get":
            return self._blob_redirect(args[0], one)
        raise _not_found("No such route.")

    def _blob_redirect(self, blob_id: str, one: Any) -> tuple[int, bytes, dict[str, str]]:
        sim = self.server.simulator
        wanted_workflow = one("workflowId")
        found = sim.account.blob(blob_id, wanted_workflow or None)
        if found is None:
            where = f" in workflow {wanted_workflow}" if wanted_workflow else ""
            raise _not_found(f"Blob {blob_id} was not found{where}.")
        _workflow_id, blob = found
        max_level = one("nsfwLevel")
        if max_level:
            limit = max_level.strip().lower()
            if limit not in NSFW_ORDER and limit != "na":
                raise BadRequest({"nsfwLevel": [f"The value '{max_level}' is not valid."]})
            level = blob.get("nsfwLevel")
            if level in NSFW_ORDER and NSFW_ORDER[level] > NSFW_ORDER.get(limit, -1):
                raise _Reply(
                    403,
                    problem(
                        403,
                        "Forbidden",
                        f"The blob's NSFW level ({level}) exceeds the requested maximum ({limit}).",
                    ),
                )
        if not blob.get("available"):
            raise _not_found(f"Blob {blob_id} is not available.")
        token = sim.content_token(blob_id)
        host = self.headers.get("Host") or f"127.0.0.1:{sim.port}"
        location = f"http://{host}/v2/consumer/blobs/content/{token}"
        extra = []
        download = one("download")
        if download and parse_bool("download", download):
            extra.append("download=true")
        filename = one("filename")
        if filename:
            extra.append("filename=" + quote(filename))
        if extra:
            location += "?" + "&".join(extra)
        return 308, b"", {"Location": location, "Cache-Control": "private, max-age=3600"}

    def _content(self, token: str, params: dict[str, list[str]]) -> int:
        sim = self.server.simulator
        blob_id = sim.blob_id_from_token(token)
        if blob_id is None or sim.account.blob(blob_id) is None:
            raise _not_found("The content token is not valid or has expired.")
        payload = blob_content(blob_id)
        headers = {"Cache-Control": "public, max-age=31536000, immutable"}
        if params.get("download"):
            name = (params.get("filename") or [blob_id])[-1]
            headers["Content-Disposition"] = f'attachment; filename="{name}"'
        ext = blob_id.rpartition(".")[2].lower()
        self._send(200, payload, _CONTENT_TYPES.get(ext, "application/octet-stream"), headers)
        return 200

    # --- admin -----------------------------------------------------------------------------
    def _admin(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        sim = self.server.simulator
        if path == "/_simulator/advance" and method == "POST":
            finished = sim.account.advance()
            return 200, orjson.dumps({"finished": finished})
        if path == "/_simulator/faults":
            if method == "GET":
                return 200, orjson.dumps(sim.faults.to_dict())
            if method == "POST":
                try:
                    changes = orjson.loads(body or b"{}")
                    if not isinstance(changes, dict):
                        raise ValueError("the body must be a JSON object")
                    sim.faults.update(changes)
                except (ValueError, TypeError) as exc:
                    return 400, orjson.dumps({"error": str(exc)})
                return 200, orjson.dumps(sim.faults.to_dict())
        if path == "/_simulator/stats" and method == "GET":
            return 200, orjson.dumps(sim.stats.snapshot())
        if path == "/_simulator/config" and method == "GET":
            cfg = sim.config
            return 200, orjson.dumps(
                {
                    "seed": cfg.seed,
                    "start": cfg.start.isoformat(),
                    "days": cfg.days,
                    "workflows_per_day": cfg.workflows_per_day,
                    "running_share": cfg.running_share,
                    "finished": sim.account.finished,
                }
            )
        return 404, orjson.dumps({"error": f"no admin route {method} {path}"})


def _route(path: str) -> tuple[str, tuple[str, ...]]:
    parts = path.split("/")
    # ['', 'v2', 'consumer', 'workflows', ...]
    if len(parts) >= 4 and parts[1] == "v2" and parts[2] == "consumer":
        rest = [unquote(p) for p in parts[3:]]
        if rest[0] == "workflows":
            if len(rest) == 1:
                return "workflows.list", ()
            if len(rest) == 2:
                return "workflows.get", (rest[1],)
            if len(rest) == 4 and rest[2] == "steps":
                return "steps.get", (rest[1], rest[3])
        if rest[0] == "blobs":
            if len(rest) == 3 and rest[1] == "content":
                return "blobs.content", (rest[2],)
            if len(rest) == 2:
                return "blobs.get", (rest[1],)
    if len(parts) == 5 and parts[1] == "v1" and parts[2] == "consumer" and parts[3] == "jobs":
        return "jobs.get", (unquote(parts[4]),)
    return "unknown", ()


def _fault_reply(status: int, faults: Faults) -> _Reply:
    if status == 429:
        headers = {} if faults.retry_after is None else {"Retry-After": faults.retry_after}
        return _Reply(
            429,
            problem(429, "Too Many Requests", "Rate limit exceeded. Try again later."),
            headers=headers,
        )
    reason = HTTPStatus(status).phrase
    html = GATEWAY_HTML.format(status=status, reason=reason).encode()
    return _Reply(status, html, "text/html; charset=utf-8")


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
