"""What the simulator answers: each request's route, and its reply (status, body, headers)
as a value, apart from the socket that carries it (`server.py`).

Consumer routes answer in the API's shapes (problem+json errors, 308 blob redirects, bytes
with the right magic numbers); admin routes (`/_simulator/...`) steer and read the simulator.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Protocol
from urllib.parse import quote, unquote

import orjson

from simulator.account import SimulatedAccount
from simulator.config import Faults, SimulatorConfig
from simulator.faults import GATEWAY_HTML, SimulatorStats
from simulator.ids import mix
from simulator.listing import BadRequest, CursorCodec, list_page, parse_bool, parse_list_query
from simulator.model import NSFW_ORDER


class Simulator(Protocol):
    """What the answers read of the running simulator (`server.SimulatorServer`)."""

    account: SimulatedAccount
    config: SimulatorConfig
    cursors: CursorCodec
    stats: SimulatorStats
    port: int

    @property
    def faults(self) -> Faults: ...

    def content_token(self, blob_id: str) -> str: ...

    def blob_id_from_token(self, token: str) -> str | None: ...


# GetWorkflow `wait` is honoured up to this many seconds (the real ceiling is ~100 s; tests
# must not sit that long), after which a still-running workflow is answered with 202.
WAIT_CAP_SECONDS = 0.25


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


class Reply(Exception):
    """One answer; raised inside a route to answer at once, or returned."""

    def __init__(
        self,
        status: int,
        body: bytes = b"",
        content_type: str | None = PROBLEM_JSON,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.content_type = content_type if body else None
        self.headers = headers or {}


def not_found(what: str) -> Reply:
    return Reply(404, problem(404, "Not Found", what))


@dataclass
class Answered:
    """A consumer route's reply, with what the server does around it: count a malformed page,
    and build the positions of the next page after sending this one."""

    reply: Reply
    malformed: bool = False
    upcoming: range = field(default_factory=lambda: range(0))


def bad_request(exc: BadRequest) -> Reply:
    return Reply(
        400,
        problem(400, "One or more validation errors occurred.", errors=exc.errors),
        PROBLEM_JSON,
    )


def consumer(
    sim: Simulator,
    route: str,
    args: tuple[str, ...],
    params: dict[str, list[str]],
    host: str | None,
) -> Answered:
    """The answer of a consumer route (authenticated and past the fault draw)."""
    account = sim.account

    def one(name: str) -> str | None:
        values = params.get(name.lower())
        return values[-1] if values else None

    if route == "workflows.list":
        query = parse_list_query(params, sim.cursors)
        page = list_page(account, query, sim.faults, sim.cursors)
        malformed = query.page in sim.faults.malformed_pages
        return Answered(Reply(200, page.body, JSON), malformed, page.upcoming)
    if route == "workflows.get":
        workflow_id = args[0]
        g = account.position_of(workflow_id)
        if g is None:
            raise not_found(f"Workflow {workflow_id} was not found.")
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
        return Answered(Reply(status, rec.hidden if hide else rec.full, JSON))
    if route == "steps.get":
        workflow_id, step_name = args
        if account.position_of(workflow_id) is None:
            raise not_found(f"Workflow {workflow_id} was not found.")
        step = account.step_bytes(workflow_id, step_name)
        if step is None:
            raise not_found(f"Step {step_name} of workflow {workflow_id} was not found.")
        return Answered(Reply(200, step, JSON))
    if route == "jobs.get":
        raw = account.job_bytes(args[0])
        if raw is None:
            raise not_found(f"Job {args[0]} was not found.")
        detailed_text = one("detailed")
        if detailed_text and not parse_bool("detailed", detailed_text):
            doc = orjson.loads(raw)
            doc.pop("job", None)
            raw = orjson.dumps(doc)
        return Answered(Reply(200, raw, JSON))
    if route == "blobs.get":
        return Answered(_blob_redirect(sim, args[0], one, host))
    raise not_found("No such route.")


def _blob_redirect(sim: Simulator, blob_id: str, one: Any, host: str | None) -> Reply:
    wanted_workflow = one("workflowId")
    found = sim.account.blob(blob_id, wanted_workflow or None)
    if found is None:
        where = f" in workflow {wanted_workflow}" if wanted_workflow else ""
        raise not_found(f"Blob {blob_id} was not found{where}.")
    _workflow_id, blob = found
    max_level = one("nsfwLevel")
    if max_level:
        limit = max_level.strip().lower()
        if limit not in NSFW_ORDER and limit != "na":
            raise BadRequest({"nsfwLevel": [f"The value '{max_level}' is not valid."]})
        level = blob.get("nsfwLevel")
        if level in NSFW_ORDER and NSFW_ORDER[level] > NSFW_ORDER.get(limit, -1):
            raise Reply(
                403,
                problem(
                    403,
                    "Forbidden",
                    f"The blob's NSFW level ({level}) exceeds the requested maximum ({limit}).",
                ),
            )
    if not blob.get("available"):
        raise not_found(f"Blob {blob_id} is not available.")
    token = sim.content_token(blob_id)
    location = f"http://{host or f'127.0.0.1:{sim.port}'}/v2/consumer/blobs/content/{token}"
    extra = []
    download = one("download")
    if download and parse_bool("download", download):
        extra.append("download=true")
    filename = one("filename")
    if filename:
        extra.append("filename=" + quote(filename))
    if extra:
        location += "?" + "&".join(extra)
    headers = {"Location": location, "Cache-Control": "private, max-age=3600"}
    return Reply(308, b"", None, headers)


def content(sim: Simulator, token: str, params: dict[str, list[str]]) -> Reply:
    """A blob's bytes behind a content token (no auth, as the API's CDN)."""
    blob_id = sim.blob_id_from_token(token)
    if blob_id is None or sim.account.blob(blob_id) is None:
        raise not_found("The content token is not valid or has expired.")
    payload = blob_content(blob_id)
    headers = {"Cache-Control": "public, max-age=31536000, immutable"}
    if params.get("download"):
        name = (params.get("filename") or [blob_id])[-1]
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
    ext = blob_id.rpartition(".")[2].lower()
    return Reply(200, payload, _CONTENT_TYPES.get(ext, "application/octet-stream"), headers)


def admin(sim: Simulator, method: str, path: str, body: bytes) -> Reply:
    """`/_simulator/...`: advance time, read or change faults, read stats and config."""
    status, payload = _admin(sim, method, path, body)
    return Reply(status, payload, JSON)


def _admin(sim: Simulator, method: str, path: str, body: bytes) -> tuple[int, bytes]:
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


def route_of(path: str) -> tuple[str, tuple[str, ...]]:
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


def fault_reply(status: int, faults: Faults) -> Reply:
    if status == 429:
        headers = {} if faults.retry_after is None else {"Retry-After": faults.retry_after}
        return Reply(
            429,
            problem(429, "Too Many Requests", "Rate limit exceeded. Try again later."),
            headers=headers,
        )
    reason = HTTPStatus(status).phrase
    html = GATEWAY_HTML.format(status=status, reason=reason).encode()
    return Reply(status, html, "text/html; charset=utf-8")
