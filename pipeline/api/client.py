"""The blocking client of the Orchestration API, used by the sync, the enrichment, the CLI and
Dagster; safe to share between threads.

    from pipeline.api.client import OrchestrationClient

    with OrchestrationClient(base_url=settings.api_url, token=settings.token) as client:
        page = client.fetch_workflow_page(from_date=start, to_date=end)

Every request is retried on 408/429/5xx and on dropped connections with capped exponential
backoff (a `Retry-After` is honoured, and a 429 also slows the shared rate budget); a host
that does not resolve or refuses the very first connection fails at once. Failures surface as
`pipeline.core.errors.ApiError` subclasses whose messages never hold the token or a signed
URL. Paging through a list (cursor rules and bounds) is `pipeline.fetch.paging`'s job.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import httpx
import orjson
from pydantic import ValidationError

from pipeline.api import endpoints, failures
from pipeline.api.endpoints import Call
from pipeline.api.models import JobStatus, Workflow, WorkflowPage, WorkflowStep, parse_step
from pipeline.api.ratelimit import RateBudget
from pipeline.api.responses import RawResponse, WorkflowPageRaw, decode_page, read_body
from pipeline.api.stats import ClientStats
from pipeline.api.transport import DEFAULT_MAX_CONNECTIONS, check_api_url, http_client
from pipeline.core import errors, settings
from pipeline.core.redact import Redactor

logger = logging.getLogger("pipeline.api.client")

T = TypeVar("T")

try:
    _USER_AGENT = f"civitai-orchestration-sync/{version('civitai-orchestration-sync')}"
except PackageNotFoundError:  # running from a source tree that was never installed
    _USER_AGENT = "civitai-orchestration-sync"

DEFAULT_TIMEOUT = httpx.Timeout(settings.READ_TIMEOUT, connect=settings.CONNECT_TIMEOUT)
_CHUNK = 1 << 16
_NO_FILTERS: dict[str, Any] = {
    "take": settings.PAGE_SIZE,
    "cursor": None,
    "tags": (),
    "query": None,
    "ascending": None,
    "hide_mature_content": None,
    "from_date": None,
    "to_date": None,
    "exclude_failed": None,
}
_HEADERS = {
    "Accept": "application/json",
    "Accept-Encoding": "gzip, deflate",
    "User-Agent": _USER_AGENT,
}


class OrchestrationClient:
    """Read-only client of the Civitai Orchestration API.

    `rate_limiter` is the budget every request draws from (see `pipeline.api.ratelimit`);
    `sleep` and `jitter` are the waits between retries (tests record them instead).
    `allow_insecure_http` None reads CIVITAI_SYNC_ALLOW_INSECURE_HTTP from the environment.
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
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        allow_insecure_http: bool | None = None,
        max_body_bytes: int = settings.MAX_RESPONSE_BYTES,
    ) -> None:
        if allow_insecure_http is None:
            allow_insecure_http = settings.insecure_http_allowed()
        self.base_url = check_api_url(base_url, allow_insecure_http=allow_insecure_http)
        if max_retries < 0:
            raise errors.ConfigError(f"max_retries must be 0 or more, got {max_retries}.")
        if max_connections < 1:
            raise errors.ConfigError(f"max_connections must be at least 1, got {max_connections}")
        self._token = settings.clean_token(token)
        self.max_retries = max_retries
        self.max_connections = max_connections
        self.rate_limiter = rate_limiter
        self.stats = ClientStats(budget=rate_limiter)
        self.redactor = Redactor([self._token])
        self._timeout = timeout or DEFAULT_TIMEOUT
        self._sleep = sleep
        self._jitter = jitter
        self._max_body = max_body_bytes
        # Until the API has answered once, a name that does not resolve or a refused
        # connection is a wrong URL, not a passing fault: no retries then.
        self._answered = False
        self._http = http_client(max_connections=max_connections, timeout=self._timeout)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> OrchestrationClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ sending

    def _build_request(self, call: Call, *, with_token: bool = True) -> httpx.Request:
        # A relative path joins the base URL (which may carry a path prefix); built directly
        # rather than with httpx's `build_request`: there are no cookies, auth or
        # per-request headers to merge.
        url = (
            call.path
            if call.path.startswith(("http://", "https://"))
            else self.base_url + call.path
        )
        timeout = self._timeout
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

    def _send(self, call: Call) -> RawResponse:
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
        response = self._http.send(request, stream=True)
        try:
            self._answered = True
            content = read_body(
                response.headers,
                response.iter_bytes(),
                self._max_body,
                call.resource,
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

    # ------------------------------------------------------------------ parsing

    def _parse(self, call: Call, parse: Callable[[], T]) -> T:
        """`parse()`'s result, or ResponseValidationError naming what was asked for."""
        try:
            return parse()
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, err['loc'])) or '<root>'}: {err['msg']}"
                for err in exc.errors(include_input=False, include_url=False)[:3]
            )
            reason = f"{exc.error_count()} problem(s): {problems}"
        except (orjson.JSONDecodeError, ValueError, AttributeError) as exc:
            reason = f"{type(exc).__name__}: {exc}"
        raise errors.ResponseValidationError(
            self.redactor(
                f"The API's answer for {call.resource} does not have the expected shape "
                f"({reason}). The API may have changed."
            ),
            endpoint=call.endpoint,
        )

    # ------------------------------------------------------------------ workflows

    def fetch_workflow_page(
        self,
        *,
        take: int | None = settings.PAGE_SIZE,
        cursor: str | None = None,
        tags: Sequence[str] = (),
        query: str | None = None,
        ascending: bool | None = None,
        hide_mature_content: bool | None = None,
        from_date: datetime | None = None,
        to_date: datetime | None = None,
        exclude_failed: bool | None = None,
    ) -> WorkflowPageRaw:
        """Fetch one page of `GET /v2/consumer/workflows` as raw bytes plus each item's id
        and createdAt. Datetimes are sent as ISO-8601 UTC (`...Z`); naive ones are UTC.

        Raises:
            ResponseValidationError: the body is not JSON, has no `items` list, or is too big.
            ApiError: the request failed (after retries where retrying makes sense).
        """
        call = endpoints.workflow_page(
            take=take,
            cursor=cursor,
            tags=tags,
            query=query,
            ascending=ascending,
            hide_mature_content=hide_mature_content,
            from_date=from_date,
            to_date=to_date,
            exclude_failed=exclude_failed,
        )
        return decode_page(self._send(call).content, call.request_params(), call.endpoint)

    def query_workflows(self, **filters: Any) -> WorkflowPage:
        """One page of workflows as validated models (the filters of `fetch_workflow_page`)."""
        page = self.fetch_workflow_page(**filters)
        call = endpoints.workflow_page(**{**_NO_FILTERS, **filters})
        return self._parse(call, lambda: WorkflowPage.model_validate_json(page.content))

    def get_workflow_raw(
        self, workflow_id: str, *, wait: int | None = None, hide_mature_content: bool | None = None
    ) -> RawResponse:
        """`GET /v2/consumer/workflows/{id}`: status 200, or 202 while it is still running."""
        call = endpoints.workflow(
            workflow_id,
            wait=wait,
            hide_mature_content=hide_mature_content,
            read_timeout=self._timeout.read,
        )
        return self._send(call)

    def get_workflow(
        self, workflow_id: str, *, wait: int | None = None, hide_mature_content: bool | None = None
    ) -> Workflow:
        call = endpoints.workflow(
            workflow_id,
            wait=wait,
            hide_mature_content=hide_mature_content,
            read_timeout=self._timeout.read,
        )
        raw = self._send(call)
        return self._parse(call, lambda: Workflow.model_validate_json(raw.content))

    def get_step_raw(self, workflow_id: str, step_name: str) -> RawResponse:
        return self._send(endpoints.step(workflow_id, step_name))

    def get_step(self, workflow_id: str, step_name: str) -> WorkflowStep:
        call = endpoints.step(workflow_id, step_name)
        raw = self._send(call)
        return self._parse(call, lambda: parse_step(raw.json()))

    # ------------------------------------------------------------------ jobs and blobs

    def get_job_raw(self, job_id: str, *, detailed: bool = True) -> RawResponse:
        """`GET /v1/consumer/jobs/{id}`; `detailed` adds the job definition and is what
        carries `lastEvent.context` (the scan scores)."""
        return self._send(endpoints.job(job_id, detailed=detailed))

    def get_job(self, job_id: str, *, detailed: bool = True) -> JobStatus:
        call = endpoints.job(job_id, detailed=detailed)
        raw = self._send(call)
        return self._parse(call, lambda: JobStatus.model_validate_json(raw.content))

    def get_blob_url(
        self,
        blob_id: str,
        *,
        workflow_id: str | None = None,
        nsfw_level: str | None = None,
        download: bool | None = None,
        filename: str | None = None,
    ) -> str:
        """The content URL of a blob: `GET /v2/consumer/blobs/{id}` answers 308, and the
        Location (made absolute) is returned without following it."""
        call = endpoints.blob(
            blob_id,
            workflow_id=workflow_id,
            nsfw_level=nsfw_level,
            download=download,
            filename=filename,
        )
        answer = self._send(call)
        location = answer.headers.get("location")
        if not location:
            raise errors.ResponseValidationError(
                f"The API redirected for {call.resource} without a Location header; "
                "the API may have changed.",
                endpoint=call.endpoint,
            )
        # Relative to the URL that answered, which for "/v2/..." is relative to base_url.
        return str(httpx.URL(answer.url).join(location))

    def download(self, url: str, dest: Path) -> int:
        """Stream `url` into `dest` and return the number of bytes written.

        Content URLs are signed, so the token is never sent with them (whatever host they
        point at, and whatever host a redirect leads to). The body goes to a temporary file
        beside `dest` that is renamed into place only when complete: `dest` is never left
        half-written. Redirects are followed (at most MAX_REDIRECTS).
        """
        absolute = str(httpx.URL(self.base_url + "/").join(url))
        parsed = httpx.URL(absolute)
        if parsed.scheme not in ("http", "https"):
            raise errors.ResponseValidationError(
                self.redactor(f"The blob URL {absolute!r} is not an http(s) URL; not fetched.")
            )
        call = endpoints.content(absolute, self.redactor(parsed.path))
        request = self._build_request(call, with_token=False)
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        attempt = 0
        while True:
            attempt += 1
            if self.rate_limiter is not None:
                self.rate_limiter.acquire()
            try:
                response = self._http.send(request, stream=True, follow_redirects=True)
                try:
                    if call.accepts(response.status_code):
                        written = _write_stream(response, dest)
                        self._on_response(call, _head(response, b""), attempt)
                        return written
                    answer = _head(response, response.read()[:4096])
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


def _write_stream(response: httpx.Response, dest: Path) -> int:
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.part")
    written = 0
    try:
        with tmp.open("wb") as fh:
            for chunk in response.iter_bytes(_CHUNK):
                fh.write(chunk)
                written += len(chunk)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return written
