"""How requests travel: which URLs may receive the token, and the connection pool.

Every request of the pipeline (list pages, job lookups, the CLI, downloads) goes through
httpx: an OrchestrationClient's `ClientPool` lends each request an `httpx.Client` holding one
HTTP/1.1 keep-alive connection, so there are as many connections as requests in flight (the
sync's cursor chains, the job lookups) and each is reused. No redirects are followed for API
calls. Measured against the simulator with 16 lookups in flight: one httpx client with 16
connections costs ~0.9 ms of CPU per request (its pool takes a lock and checks every
connection on each request), 16 clients of one connection ~0.55 ms; enrichment is thousands
of lookups a day on a 2-core machine, where the client's CPU bounds the rate once the API
answers quickly.

URL rules, checked before any request: the token is sent only over `https://`, or over
`http://` to this machine (localhost, 127.0.0.0/8, ::1). Plain HTTP to another host is
refused unless the operator opts in (CIVITAI_SYNC_ALLOW_INSECURE_HTTP=1: a proxy on a
private network). A user name or password in the URL is refused too: httpx would send it as
Basic credentials in place of the token.
"""

from __future__ import annotations

import contextlib
import ipaddress
import queue
import ssl
import threading
from collections.abc import Iterator
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx

from pipeline.core import settings
from pipeline.core.errors import ConfigError

# Downloads follow the blob endpoint's redirect chain, which is short; a loop is cut here.
MAX_REDIRECTS = 5
# An idle keep-alive connection is dropped after this long, before servers usually drop it.
KEEPALIVE_EXPIRY = 30.0
DEFAULT_MAX_CONNECTIONS = settings.SYNC_FETCH_CONCURRENCY + settings.JOB_CONCURRENCY


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine: `localhost`, 127.0.0.0/8 or ::1."""
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def _shown(text: str) -> str:
    # The URL as the user wrote it, without a query string or credentials, for messages.
    shown = text.split("?", 1)[0].split("#", 1)[0]
    scheme, sep, rest = shown.partition("://")
    if sep and "@" in rest.split("/", 1)[0]:
        rest = rest.split("@", 1)[1]
    return (scheme + sep + rest)[:120]


def check_api_url(url: str, *, allow_insecure_http: bool = False) -> str:
    """The API base URL without a trailing slash, if the token may be sent to it.

    Raises ConfigError (one line that says what to write instead) for an empty URL, a URL
    without a scheme, a scheme other than http/https, no host, credentials in the URL, or
    plain HTTP to a host that is not loopback without `allow_insecure_http`.
    """
    text = (url or "").strip()
    name = settings.ENV_API_URL
    if not text:
        raise ConfigError(f"No API URL given; set {name} (e.g. {settings.DEFAULT_API_URL}).")
    scheme, sep, _ = text.partition("://")
    if not sep:
        raise ConfigError(
            f"{name} {_shown(text)!r} has no scheme; write it as https://{_shown(text)}."
        )
    if scheme.lower() not in ("http", "https"):
        raise ConfigError(
            f"{name} {_shown(text)!r} starts with {scheme}://; the API is reached over "
            f"https:// (e.g. {settings.DEFAULT_API_URL})."
        )
    try:
        parsed = httpx.URL(text)
    except httpx.InvalidURL as exc:
        raise ConfigError(f"{name} {_shown(text)!r} is not a valid URL ({exc}).") from None
    if not parsed.host:
        raise ConfigError(f"{name} {_shown(text)!r} has no host name.")
    if parsed.userinfo:
        raise ConfigError(
            f"{name} {_shown(text)!r} holds a user name or password; remove it: the API "
            f"token ({settings.ENV_TOKEN}) is the only credential sent."
        )
    if parsed.query or parsed.fragment:
        raise ConfigError(f"{name} {_shown(text)!r} has a query or fragment; remove it.")
    if parsed.scheme == "http" and not is_loopback(parsed.host) and not allow_insecure_http:
        raise ConfigError(
            f"{name} {_shown(text)!r} would send the API token unencrypted to another "
            f"machine; use https://, or set {settings.ENV_ALLOW_INSECURE_HTTP}=1 if it is a "
            "proxy on a private network you trust."
        )
    return str(parsed).rstrip("/")


_SSL_CONTEXT: ssl.SSLContext | None = None
_SSL_LOCK = threading.Lock()


def _ssl_context() -> ssl.SSLContext:
    # Building a context loads the CA bundle (~60 ms); one per process serves every client.
    global _SSL_CONTEXT
    with _SSL_LOCK:
        if _SSL_CONTEXT is None:
            _SSL_CONTEXT = httpx.create_ssl_context()
        return _SSL_CONTEXT


def http_client(*, max_connections: int, timeout: httpx.Timeout) -> httpx.Client:
    """An httpx client with up to `max_connections` keep-alive connections: HTTP/1.1 (each
    request in flight has a connection of its own, so HTTP/2 multiplexing would buy nothing),
    proxies from the environment honoured, cookies never kept, redirects not followed unless
    a request asks for it."""
    return httpx.Client(
        # The API is stateless (a bearer token per request): cookies a server or a CDN sets
        # are never kept, so none can travel to another request or host.
        cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
        verify=_ssl_context(),
        timeout=timeout,
        limits=httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=KEEPALIVE_EXPIRY,
        ),
        http1=True,
        http2=False,
        follow_redirects=False,
        max_redirects=MAX_REDIRECTS,
    )


class ClientPool:
    """httpx clients of one keep-alive connection each, lent to one request at a time.

    A request borrows the most recently returned client (its connection is the warmest) or,
    when all are busy, a new one; at most `max_connections` are lent at once (more requests
    wait for one). `close()` closes them all. Safe to share between threads.
    """

    def __init__(self, timeout: httpx.Timeout, max_connections: int) -> None:
        self._timeout = timeout
        self._slots = threading.BoundedSemaphore(max_connections)
        self._idle: queue.LifoQueue[httpx.Client] = queue.LifoQueue()
        self._all: list[httpx.Client] = []
        self._lock = threading.Lock()
        self._closed = False

    @contextlib.contextmanager
    def lend(self) -> Iterator[httpx.Client]:
        if self._closed:
            raise RuntimeError("the client is closed; open a new one")
        with self._slots:
            try:
                client = self._idle.get_nowait()
            except queue.Empty:
                client = http_client(max_connections=1, timeout=self._timeout)
                with self._lock:
                    self._all.append(client)
            try:
                yield client
            finally:
                if self._closed:
                    client.close()
                else:
                    self._idle.put(client)

    def __len__(self) -> int:
        return len(self._all)

    def close(self) -> None:
        self._closed = True
        with self._lock:
            clients, self._all = self._all, []
        for client in clients:
            client.close()
