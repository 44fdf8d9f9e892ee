"""The transport for API calls: GETs from one or many threads, each on a keep-alive
`http.client` connection.

Measured against the simulator with 16 lookups in flight at 20 ms: httpx's own blocking pool
costs ~1.5 ms of CPU per request, its pool lock contended by the 16 threads, while a
keep-alive `http.client` connection per thread costs ~0.3 ms. Enrichment is one request per
job, thousands a day, on a 2-core machine: once the API answers quickly, the client's CPU is
what bounds its rate.

Retries, the rate limit, redirects and error mapping stay in the httpx client above; only the
socket work happens here. Bodies are read whole: a job document is a few KB and a list page a
few hundred; blob downloads, which can be large, keep httpx's streaming transport. The list
pages gain too: httpx's send and h11 parsing were a third of the CPU of fetching a page.
"""

from __future__ import annotations

import http.client
import queue
import socket
import ssl
import urllib.request

import httpx

# A pooled keep-alive connection the server closed in between shows up as one of these on
# the next request; a GET is then sent once more on a fresh connection, as httpcore does.
_STALE_CONNECTION = (
    http.client.RemoteDisconnected,
    BrokenPipeError,
    ConnectionResetError,
    ConnectionAbortedError,
)
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})


def _timeouts(request: httpx.Request) -> tuple[float | None, float | None]:
    timeout = request.extensions.get("timeout") or {}
    return timeout.get("connect"), timeout.get("read")


class StdlibHTTPTransport(httpx.BaseTransport):
    """`httpx.BaseTransport` over a pool of keep-alive `http.client` connections per origin.

    Safe to use from many threads: each request checks a connection out of its origin's idle
    queue (or opens one) and puts it back when the response has been read. Errors are raised
    as the httpx exceptions the client's retry logic keys on.
    """

    def __init__(self, *, max_idle: int = 32, ssl_context: ssl.SSLContext | None = None) -> None:
        self._max_idle = max_idle
        self._ssl_context = ssl_context
        self._idle: dict[tuple[str, str, int], queue.LifoQueue[http.client.HTTPConnection]] = {}
        self._closed = False

    def _context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            import certifi  # httpx's own CA bundle, so both transports trust the same roots

            self._ssl_context = ssl.create_default_context(cafile=certifi.where())
        return self._ssl_context

    def _origin(self, url: httpx.URL) -> tuple[str, str, int]:
        port = url.port or (443 if url.scheme == "https" else 80)
        return (url.scheme, url.host, port)

    def _checkout(
        self, origin: tuple[str, str, int], connect_timeout: float | None
    ) -> tuple[http.client.HTTPConnection, bool]:
        idle = self._idle.setdefault(origin, queue.LifoQueue())
        try:
            return idle.get_nowait(), True
        except queue.Empty:
            pass
        scheme, host, port = origin
        conn: http.client.HTTPConnection
        if scheme == "https":
            conn = http.client.HTTPSConnection(
                host, port, timeout=connect_timeout, context=self._context()
            )
        else:
            conn = http.client.HTTPConnection(host, port, timeout=connect_timeout)
        try:
            conn.connect()
        except TimeoutError as exc:
            conn.close()
            raise httpx.ConnectTimeout(str(exc) or "connect timed out") from exc
        except OSError as exc:
            conn.close()
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
        if conn.sock is not None and scheme == "http":
            # Small requests on a fresh TCP connection: without this, Nagle's algorithm and
            # delayed ACKs add ~40 ms to some of them.
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn, False

    def _checkin(self, origin: tuple[str, str, int], conn: http.client.HTTPConnection) -> None:
        idle = self._idle.get(origin)
        if self._closed or idle is None or idle.qsize() >= self._max_idle:
            conn.close()
            return
        idle.put(conn)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        origin = self._origin(request.url)
        connect_timeout, read_timeout = _timeouts(request)
        body = request.read()
        target = request.url.raw_path.decode("ascii")
        for attempt in (1, 2):
            conn, reused = self._checkout(origin, connect_timeout)
            try:
                if conn.sock is not None:
                    conn.sock.settimeout(read_timeout)
                conn.putrequest(request.method, target, skip_host=True, skip_accept_encoding=True)
                for key, value in request.headers.raw:
                    conn.putheader(key.decode("latin-1"), value.decode("latin-1"))
                conn.endheaders(body or None)
                response = conn.getresponse()
                content = response.read()
            except _STALE_CONNECTION as exc:
                conn.close()
                if reused and attempt == 1 and request.method in _IDEMPOTENT:
                    continue
                raise httpx.RemoteProtocolError(
                    str(exc) or type(exc).__name__, request=request
                ) from exc
            except TimeoutError as exc:
                conn.close()
                raise httpx.ReadTimeout(str(exc) or "read timed out", request=request) from exc
            except (http.client.HTTPException, OSError) as exc:
                conn.close()
                raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from exc
            except BaseException:
                conn.close()
                raise
            if response.will_close:
                conn.close()
            else:
                self._checkin(origin, conn)
            # http.client has undone any chunked transfer-encoding; the body is still
            # content-encoded, which the httpx client decodes as usual.
            headers = [(k, v) for k, v in response.getheaders() if k.lower() != "transfer-encoding"]
            return httpx.Response(
                status_code=response.status,
                headers=headers,
                content=content,
                extensions={"http_version": b"HTTP/1.1", "reason_phrase": response.reason.encode()},
                request=request,
            )
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            while True:
                try:
                    idle.get_nowait().close()
                except queue.Empty:
                    break


def _uses_proxy() -> bool:
    # http.client speaks to the origin directly; where a proxy is configured, httpx's own
    # transport (which honours the proxy variables) is used instead.
    return bool(urllib.request.getproxies())


def direct_transport(max_idle: int) -> StdlibHTTPTransport | None:
    """The keep-alive transport for API calls, or None where a proxy is configured."""
    return None if _uses_proxy() else StdlibHTTPTransport(max_idle=max_idle)
