"""Sending one logical request: the request put on the wire, the answer read (with a size
cap), retries with capped exponential backoff and jitter, the rate budget, the counters.

Every request of an OrchestrationClient goes through its Sender and its one httpx pool.
Retried: 408, 429 and 5xx answers (a `Retry-After` is honoured, a 429 also slows the shared
rate budget) and dropped connections or timeouts. Not retried: other statuses, bodies that are
too big, and a host that does not resolve or refuses the very first connection (a wrong URL
or a server that is not running; waiting would only delay the message).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import httpx

from pipeline.api import failures
from pipeline.api.endpoints import Call
from pipeline.api.ratelimit import RateBudget
from pipeline.api.responses import RawResponse, read_body
from pipeline.api.stats import ClientStats
from pipeline.api.transport import ClientPool
from pipeline.core import settings
from pipeline.core.files import atomic_writer
from pipeline.core.redact import Redactor

logger = logging.getLogger("pipeline.api.client")

try:
    _USER_AGENT = f"civitai-orchestration-sync/{version('civitai-orchestration-sync')}"
except PackageNotFoundError:  # running from a source tree that was never installed
    _USER_AGENT = "civitai-orchestration-sync"

DEFAULT_TIMEOUT = httpx.Timeout(settings.READ_TIMEOUT, connect=settings.CONNECT_TIMEOUT)
_CHUNK = 1 << 16
_ERROR_BODY_BYTES = 4096
_HEADERS = {
    "Accept": "application/json",
    "Accept-Encoding": "gzip, deflate",
    "User-Agent": _USER_AGENT,
}


class Sender:
    """The retry loop over one connection pool; safe to share between threads.

    `base_url` must already be checked (`transport.check_api_url`) and `token` cleaned.
    """

    def __init__(
        self,
        *,
        base_url: str,
        token: str | None,
        timeout: httpx.Timeout | None = None,
        max_retries: int = settings.MAX_RETRIES,
        rate_limiter: RateBudget | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        max_connections: int,
        max_body_bytes: int = settings.MAX_RESPONSE_BYTES,
    ) -> None:
        self.base_url = base_url
        self.max_retries = max_retries
        self.rate_limiter = rate_limiter
        self.stats = ClientStats(budget=rate_limiter)
        self.redactor = Redactor([token])
        self.timeout = timeout or DEFAULT_TIMEOUT
        self._token = token
        self._sleep = sleep
        self._jitter = jitter
        self._max_body = max_body_bytes
        # Until the API has answered once, a name that does not resolve or a refused
        # connection is a wrong URL, not a passing fault: no retries then.
        self._answered = False
        self._clients = ClientPool(self.timeout, max_connections)

    def close(self) -> None:
        self._clients.close()

    def _build_request(self, call: Call, *, with_token: bool = True) -> httpx.Request:
        # A relative path joins the base URL (which may carry a path prefix); built directly
        # rather than with httpx's `build_request`: there are no cookies, auth or
        # per-request headers to merge.
        url = (
            call.path
            if call.path.startswith(("http://", "https://"))
            else self.base_url + call.path
        )
        timeout = self.timeout
        if call.read_timeout is not None:
            timeout = httpx.Timeout(
                connect=timeout.connect,
                read=call.read_timeout,
                write=timeout.write,
                pool=timeout.pool,
            )
        headers = dict(_HEADERS)
        if with_token and self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return httpx.Request(
            call.method,
            url,
            params=list(call.params) or None,
            headers=headers,
            extensions={"timeout": timeout.as_dict()},
        )

    def send(self, call: Call) -> RawResponse:
        """The accepted answer to `call`, after retries; ApiError subclasses otherwise."""
        request = self._build_request(call)
        attempt = 0
        while True:
            attempt += 1
            if self.rate_limiter is not None:
                self.rate_limiter.acquire()
            try:
                answer = self._exchange(call, request)
            except httpx.RequestError as exc:
                delay = self._on_transport_error(call, request, exc, attempt)
            else:
                retry_in = self._on_response(call, answer, attempt)
                if retry_in is None:
                    return answer
                delay = retry_in
            self._sleep(delay)

    def _exchange(self, call: Call, request: httpx.Request) -> RawResponse:
        with self._clients.lend() as http:
            response = http.send(request, stream=True)
            try:
                self._answered = True
                content = read_body(
                    response.headers, response.iter_bytes(), self._max_body, call.resource
                )
            finally:
                response.close()
        return RawResponse(
            response.status_code, content, response.headers, request.method, str(request.url)
        )

    # ------------------------------------------------------------------ retry policy

    def _on_response(self, call: Call, answer: RawResponse, attempt: int) -> float | None:
        """Count the answer; None if it is the one, else the delay before retrying.

        Raises the mapped ApiStatusError when the status is not retryable or retries ran out.
        """
        status = answer.status_code
        self.stats.add(requests=1, status_429=int(status == 429), status_5xx=int(status >= 500))
        if call.accepts(status):
            return None
        if status in settings.RETRY_STATUSES and attempt <= self.max_retries:
            retry_after = failures.parse_retry_after(answer.headers.get("retry-after"), time.time())
            if retry_after is not None:
                retry_after = min(retry_after, settings.MAX_RETRY_DELAY)
            delay = failures.retry_delay(attempt, status, retry_after, self._jitter)
            if status == 429 and self.rate_limiter is not None:
                self.rate_limiter.on_429(retry_after)
            self.stats.add(retries=1)
            self._log_retry(call, answer.method, answer.url, attempt, delay, f"status {status}")
            return delay
        error = failures.status_error(
            answer,
            resource=call.resource,
            attempts=attempt,
            not_found_hint=call.not_found_hint,
            redact=self.redactor,
        )
        self._log_failure(answer.method, answer.url, f"status {status}: {error.body[:200]!r}")
        raise error

    def _on_transport_error(
        self, call: Call, request: httpx.Request, exc: httpx.RequestError, attempt: int
    ) -> float:
        """Count the failure; the delay before retrying, or raise ApiConnectionError."""
        self.stats.add(requests=1, transport_errors=1)
        if not self._answered:
            unreachable = failures.unreachable_error(exc, url=request.url, redact=self.redactor)
            if unreachable is not None:
                self._log_failure(request.method, str(request.url), type(exc).__name__)
                raise unreachable from exc
        if failures.is_retryable_transport_error(exc) and attempt <= self.max_retries:
            delay = failures.retry_delay(attempt, None, None, self._jitter)
            self.stats.add(retries=1)
            self._log_retry(
                call, request.method, str(request.url), attempt, delay, type(exc).__name__
            )
            return delay
        error = failures.connection_error(
            exc,
            base_url=self.base_url,
            resource=call.resource,
            attempts=attempt,
            redact=self.redactor,
        )
        self._log_failure(request.method, str(request.url), f"{type(exc).__name__}: {exc}")
        raise error from exc

    def _log_retry(
        self, call: Call, method: str, url: str, attempt: int, delay: float, reason: str
    ) -> None:
        if logger.isEnabledFor(logging.INFO):
            logger.info(
                "%s",
                self.redactor(
                    f"Retrying {method} {url} ({call.resource}) after {reason} "
                    f"in {delay:.2f}s (attempt {attempt + 1} of {self.max_retries + 1})"
                ),
            )

    def _log_failure(self, method: str, url: str, what: str) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s", self.redactor(f"Giving up on {method} {url}: {what}"))

    def download(self, call: Call, dest: Path) -> int:
        """Stream the answer to `call` (an absolute content URL) into `dest`; the bytes
        written. Never with the token; redirects followed; `dest` appears only complete."""
        request = self._build_request(call, with_token=False)
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        attempt = 0
        while True:
            attempt += 1
            if self.rate_limiter is not None:
                self.rate_limiter.acquire()
            try:
                with self._clients.lend() as http:
                    response = http.send(request, stream=True, follow_redirects=True)
                    try:
                        if call.accepts(response.status_code):
                            written = _write_stream(response, dest)
                            self._on_response(call, _head(response, b""), attempt)
                            return written
                        answer = _head(response, _first_bytes(response, _ERROR_BODY_BYTES))
                    finally:
                        response.close()
            except httpx.RequestError as exc:
                delay = self._on_transport_error(call, request, exc, attempt)
            else:
                retry_in = self._on_response(call, answer, attempt)
                assert retry_in is not None  # accepted statuses returned above
                delay = retry_in
            self._sleep(delay)


def _head(response: httpx.Response, content: bytes) -> RawResponse:
    return RawResponse(
        response.status_code,
        content,
        response.headers,
        response.request.method,
        str(response.request.url),
    )


def _first_bytes(response: httpx.Response, limit: int) -> bytes:
    # An error answer from a content host is only read as far as a message needs.
    kept = b""
    for chunk in response.iter_bytes():
        kept += chunk
        if len(kept) >= limit:
            break
    return kept[:limit]


def _write_stream(response: httpx.Response, dest: Path) -> int:
    written = 0
    with atomic_writer(dest, durable=False, prefix=".part-") as fh:
        for chunk in response.iter_bytes(_CHUNK):
            fh.write(chunk)
            written += len(chunk)
    return written
