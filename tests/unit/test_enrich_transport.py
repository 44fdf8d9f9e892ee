"""The job-lookup transport (http.client under httpx), against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from pipeline.api.transport import StdlibHTTPTransport

BODY = b'{"jobId": "j1", "lastEvent": {"context": {"hive_csam_score": "1.00 %"}}}'


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path.startswith("/gzip"):
            payload, extra = gzip.compress(BODY), {"Content-Encoding": "gzip"}
        else:
            payload, extra = BODY, {}
        self.send_response(404 if self.path.startswith("/missing") else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("X-Seen-Auth", self.headers.get("Authorization", ""))
        for key, value in extra.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def _serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def server_url() -> Iterator[str]:
    with _serve(_Handler) as url:
        yield url


def _get_all(url: str, paths: list[str]) -> list[httpx.Response]:
    with (
        httpx.Client(
            base_url=url, transport=StdlibHTTPTransport(), headers={"Authorization": "Bearer t"}
        ) as client,
        ThreadPoolExecutor(4) as pool,
    ):
        return list(pool.map(client.get, paths))


def test_plain_and_gzip_bodies_decode_once(server_url: str) -> None:
    # The transport hands back raw bytes; decoding content-encoding twice would corrupt them.
    plain, gzipped = _get_all(server_url, ["/plain", "/gzip"])
    assert plain.content == BODY
    assert gzipped.content == BODY
    assert gzipped.json()["jobId"] == "j1"


def test_status_headers_and_concurrency(server_url: str) -> None:
    responses = _get_all(server_url, ["/missing", *[f"/plain/{i}" for i in range(20)]])
    assert responses[0].status_code == 404
    assert all(r.status_code == 200 for r in responses[1:])
    # Request headers go through the blocking pool unchanged.
    assert {r.headers["X-Seen-Auth"] for r in responses} == {"Bearer t"}


def test_connection_errors_are_httpx_errors() -> None:
    # The client's retry logic keys on httpx.RequestError; the transport must raise the same.
    with httpx.Client(transport=StdlibHTTPTransport()) as client, pytest.raises(httpx.ConnectError):
        client.get("http://127.0.0.1:9/")


class _ClosingHandler(_Handler):
    """Answers, then drops the connection without saying so (an idle keep-alive timeout)."""

    def do_GET(self) -> None:
        if self.path.startswith("/slow"):
            time.sleep(1.0)
        super().do_GET()
        self.close_connection = True


@pytest.fixture
def closing_url() -> Iterator[str]:
    with _serve(_ClosingHandler) as url:
        yield url


def test_a_connection_the_server_dropped_is_replaced_for_a_get(closing_url: str) -> None:
    with httpx.Client(base_url=closing_url, transport=StdlibHTTPTransport()) as client:
        statuses = [client.get(f"/plain/{i}").status_code for i in range(5)]
    assert statuses == [200] * 5


def test_a_slow_answer_is_a_read_timeout(closing_url: str) -> None:
    with (
        httpx.Client(base_url=closing_url, transport=StdlibHTTPTransport(), timeout=0.2) as client,
        pytest.raises(httpx.ReadTimeout),
    ):
        client.get("/slow")


PROXY_VARIABLES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)


@pytest.mark.parametrize("proxied", [False, True])
def test_api_calls_take_http_client_unless_a_proxy_is_configured(
    monkeypatch: pytest.MonkeyPatch, proxied: bool
) -> None:
    from pipeline.api.client import OrchestrationClient

    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    if proxied:
        # http.client cannot speak through a proxy; httpx's transport honours these variables.
        monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    with OrchestrationClient(base_url="https://api.example", token="t", max_connections=3) as c:
        direct = c._direct
        if proxied:
            assert direct is None
        else:
            assert isinstance(direct, StdlibHTTPTransport)
            assert direct._max_idle == 3
