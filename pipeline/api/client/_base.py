"""What the sync and async clients share: request building, retry policy, error mapping.

The two clients differ only in how they send and how they wait; every decision (which URL,
which parameters, retry or not, how long to wait, which exception) is made here, once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import TypeVar

import httpx
import msgspec
import orjson
from pydantic import ValidationError

from pipeline.api.client import _calls, _errors
from pipeline.api.client._calls import Call
from pipeline.api.client._types import PAGE_HEAD, ClientStats, RawResponse, WorkflowPageRaw
from pipeline.api.models import (
    JobStatus,
    Workflow,
    WorkflowPage,
    WorkflowStep,
    parse_step,
)
from pipeline.api.ratelimit import RateLimiter
from pipeline.core import errors, settings
from pipeline.core.redact import Redactor

logger = logging.getLogger("pipeline.api.client")

T = TypeVar("T")

try:
    _USER_AGENT = f"civitai-orchestration-sync/{version('civitai-orchestration-sync')}"
except PackageNotFoundError:  # running from a source tree that was never installed
    _USER_AGENT = "civitai-orchestration-sync"

DEFAULT_TIMEOUT = httpx.Timeout(settings.READ_TIMEOUT, connect=settings.CONNECT_TIMEOUT)


class BaseClient:
    """Configuration and decisions common to `OrchestrationClient` and `AsyncOrchestrationClient`."""

    def __init__(
        self,
        *,
        base_url: str,
        token: str | None,
        timeout: httpx.Timeout | None,
        max_retries: int,
        rate_limiter: RateLimiter | None,
        jitter: Callable[[], float],
    ) -> None:
        if not base_url or not base_url.strip():
            raise errors.ConfigError("No API URL given; set CIVITAI_API_URL.")
        if max_retries < 0:
            raise errors.ConfigError(f"max_retries must be 0 or more, got {max_retries}.")
        self.base_url = base_url.strip().rstrip("/")
        self.max_retries = max_retries
        self.rate_limiter = rate_limiter
        self.stats = ClientStats()
        self._token = token
        self._timeout = timeout or DEFAULT_TIMEOUT
        self._jitter = jitter
        self._redact = Redactor([token])
        self._origin = httpx.URL(self.base_url + "/").copy_with(path="/", query=None, fragment=None)
        # What httpx's client would add by default, too: compressed answers are decoded.
        self._request_headers = {**self._default_headers(), "Accept-Encoding": "gzip, deflate"}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    # ------------------------------------------------------------------ request building

    def _default_headers(self) -> dict[str, str]:
        return {
            "Accept": "application/json",
            "User-Agent": _USER_AGENT,
        }

    def _build_request(self, call: Call) -> httpx.Request:
        # Built directly rather than with httpx's `build_request`: the client has no cookies,
        # auth or per-request headers to merge, and the merging was a sixth of the CPU of a
        # job lookup. A relative path joins the base URL (which may carry a path prefix).
        path = call.path
        url = path if path.startswith(("http://", "https://")) else self.base_url + path
        timeout = self._timeout if call.read_timeout is None else self._with_read(call.read_timeout)
        request = httpx.Request(
            call.method,
            url,
            params=list(call.params) or None,
            headers=self._request_headers,
            extensions={"timeout": timeout.as_dict()},
        )
        # The token goes only to the API's own origin: download URLs may point at a CDN.
        if self._token and self._same_origin(request.url):
            request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def _with_read(self, read: float) -> httpx.Timeout:
        t = self._timeout
        return httpx.Timeout(connect=t.connect, read=read, write=t.write, pool=t.pool)

    def _same_origin(self, url: httpx.URL) -> bool:
        return (url.scheme, url.host, url.port) == (
            self._origin.scheme,
            self._origin.host,
            self._origin.port,
        )

    def _absolute(self, url: str) -> str:
        return str(httpx.URL(self.base_url + "/").join(url))

    def _workflow_call(
        self, workflow_id: str, wait: int | None, hide_mature_content: bool | None
    ) -> Call:
        return _calls.workflow(
            workflow_id,
            wait=wait,
            hide_mature_content=hide_mature_content,
            read_timeout=self._timeout.read,
        )

    def _download_call(self, url: str) -> Call:
        return _calls.content(self._absolute(url), self._redact(httpx.URL(url).path))

    # ------------------------------------------------------------------ retry policy

    def _on_response(self, call: Call, response: httpx.Response, attempt: int) -> float | None:
        """Count the response; None if it is the answer, else the delay before retrying.

        Raises the mapped ApiStatusError when the status is not retryable or retries ran out.
        The response body must already be read.
        """
        status = response.status_code
        self.stats.add(requests=1, status_429=int(status == 429), status_5xx=int(status >= 500))
        if call.accepts(status):
            return None
        if status in settings.RETRY_STATUSES and attempt <= self.max_retries:
            delay = self._retry_delay(attempt, status, response.headers)
            if status == 429 and self.rate_limiter is not None:
                self.rate_limiter.penalize(delay)
            self.stats.add(retries=1)
            self._log_retry(call, response.request, attempt, delay, f"status {status}")
            return delay
        error = _errors.status_error(
            response,
            resource=call.resource,
            attempts=attempt,
            not_found_hint=call.not_found_hint,
            redact=self._redact,
        )
        self._log_failure(response.request, f"status {status}: {error.body[:200]!r}")
        raise error

    def _on_transport_error(
        self, call: Call, request: httpx.Request, exc: httpx.RequestError, attempt: int
    ) -> float:
        """Count the failure; the delay before retrying, or raise ApiConnectionError."""
        self.stats.add(requests=1, transport_errors=1)
        if _errors.is_retryable_transport_error(exc) and attempt <= self.max_retries:
            delay = self._retry_delay(attempt, None, None)
            self.stats.add(retries=1)
            self._log_retry(call, request, attempt, delay, type(exc).__name__)
            return delay
        error = _errors.connection_error(
            exc,
            base_url=self.base_url,
            resource=call.resource,
            attempts=attempt,
            redact=self._redact,
        )
        self._log_failure(request, f"{type(exc).__name__}: {exc}")
        raise error from exc

    def _retry_delay(
        self, attempt: int, status: int | None, headers: httpx.Headers | None
    ) -> float:
        """Seconds before retry number `attempt`.

        A `Retry-After` header wins (capped at MAX_RETRY_DELAY so a bogus value cannot stall
        a sync for hours); otherwise capped exponential backoff with full jitter. A 429 never
        retries sooner than RETRY_AFTER_FLOOR, even when told `Retry-After: 0`.
        """
        retry_after = _errors.parse_retry_after(
            headers.get("retry-after") if headers is not None else None, time.time()
        )
        if retry_after is not None:
            delay = min(retry_after, settings.MAX_RETRY_DELAY)
        else:
            ceiling = min(
                settings.MAX_RETRY_DELAY, settings.INITIAL_RETRY_DELAY * 2 ** (attempt - 1)
            )
            delay = ceiling * self._jitter()
        if status == 429:
            delay = max(delay, settings.RETRY_AFTER_FLOOR)
        return delay

    def _log_retry(
        self, call: Call, request: httpx.Request, attempt: int, delay: float, reason: str
    ) -> None:
        if logger.isEnabledFor(logging.INFO):
            logger.info(
                "%s",
                self._redact(
                    f"Retrying {request.method} {request.url} ({call.resource}) after {reason} "
                    f"in {delay:.2f}s (attempt {attempt + 1} of {self.max_retries + 1})"
                ),
            )

    def _log_failure(self, request: httpx.Request, what: str) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s", self._redact(f"Giving up on {request.method} {request.url}: {what}"))

    # ------------------------------------------------------------------ response parsing

    def _raw(self, response: httpx.Response) -> RawResponse:
        return RawResponse(response.status_code, response.content, response.headers)

    def _page(self, call: Call, response: httpx.Response) -> WorkflowPageRaw:
        content = response.content
        try:
            head = PAGE_HEAD.decode(content)
        except msgspec.ValidationError:
            raise errors.ResponseValidationError(
                "The API sent a workflow page that is not a JSON object with an `items` list "
                "of workflows; the API may have changed.",
                endpoint=call.endpoint,
            ) from None
        except msgspec.DecodeError as exc:
            raise errors.ResponseValidationError(
                f"The API sent a workflow page that is not valid JSON ({exc}); "
                "the response was probably cut off. Run the sync again.",
                endpoint=call.endpoint,
            ) from None
        next_cursor = head.next
        return WorkflowPageRaw(
            content=content,
            heads=head.items,
            next=next_cursor if isinstance(next_cursor, str) and next_cursor else None,
            request_params=call.request_params(),
        )

    def _parse(self, call: Call, parse: Callable[[], T]) -> T:
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
            self._redact(
                f"The API's answer for {call.resource} does not have the expected shape "
                f"({reason}). The API may have changed."
            ),
            endpoint=call.endpoint,
        )

    def _workflow_page_model(self, call: Call, page: WorkflowPageRaw) -> WorkflowPage:
        return self._parse(call, lambda: WorkflowPage.model_validate_json(page.content))

    def _workflow_model(self, call: Call, raw: RawResponse) -> Workflow:
        return self._parse(call, lambda: Workflow.model_validate_json(raw.content))

    def _step_model(self, call: Call, raw: RawResponse) -> WorkflowStep:
        return self._parse(call, lambda: parse_step(raw.json()))

    def _job_model(self, call: Call, raw: RawResponse) -> JobStatus:
        return self._parse(call, lambda: JobStatus.model_validate_json(raw.content))

    def _blob_location(self, call: Call, response: httpx.Response) -> str:
        location = response.headers.get("location")
        if not location:
            raise errors.ResponseValidationError(
                f"The API redirected for {call.resource} without a Location header; "
                "the API may have changed.",
                endpoint=call.endpoint,
            )
        # Relative to the URL that answered, which for "/v2/..." is relative to base_url.
        return str(response.request.url.join(location))
