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

import random
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import httpx
import orjson
from pydantic import ValidationError

from pipeline.api import endpoints
from pipeline.api.endpoints import Call
from pipeline.api.models import JobStatus, Workflow, WorkflowPage, WorkflowStep, parse_step
from pipeline.api.ratelimit import RateBudget
from pipeline.api.responses import RawResponse, WorkflowPageRaw, decode_page
from pipeline.api.sender import DEFAULT_TIMEOUT, Sender
from pipeline.api.stats import ClientStats
from pipeline.api.transport import DEFAULT_MAX_CONNECTIONS, check_api_url
from pipeline.core import errors, settings
from pipeline.core.redact import Redactor

__all__ = ["DEFAULT_TIMEOUT", "OrchestrationClient", "RawResponse", "WorkflowPageRaw"]

T = TypeVar("T")

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
        self.max_connections = max_connections
        self._sender = Sender(
            base_url=self.base_url,
            token=settings.clean_token(token),
            timeout=timeout,
            max_retries=max_retries,
            rate_limiter=rate_limiter,
            sleep=sleep,
            jitter=jitter,
            max_connections=max_connections,
            max_body_bytes=max_body_bytes,
        )

    @property
    def stats(self) -> ClientStats:
        """Requests, 429s, retries and effective rate of this client so far."""
        return self._sender.stats

    @property
    def redactor(self) -> Redactor:
        """The redaction rules with this client's token: for messages and stored bytes."""
        return self._sender.redactor

    @property
    def rate_limiter(self) -> RateBudget | None:
        return self._sender.rate_limiter

    @property
    def max_retries(self) -> int:
        return self._sender.max_retries

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    def close(self) -> None:
        self._sender.close()

    def __enter__(self) -> OrchestrationClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

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
        return decode_page(self._sender.send(call).content, call.request_params(), call.endpoint)

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
            read_timeout=self._sender.timeout.read,
        )
        return self._sender.send(call)

    def get_workflow(
        self, workflow_id: str, *, wait: int | None = None, hide_mature_content: bool | None = None
    ) -> Workflow:
        call = endpoints.workflow(
            workflow_id,
            wait=wait,
            hide_mature_content=hide_mature_content,
            read_timeout=self._sender.timeout.read,
        )
        raw = self._sender.send(call)
        return self._parse(call, lambda: Workflow.model_validate_json(raw.content))

    def get_step_raw(self, workflow_id: str, step_name: str) -> RawResponse:
        return self._sender.send(endpoints.step(workflow_id, step_name))

    def get_step(self, workflow_id: str, step_name: str) -> WorkflowStep:
        call = endpoints.step(workflow_id, step_name)
        raw = self._sender.send(call)
        return self._parse(call, lambda: parse_step(raw.json()))

    # ------------------------------------------------------------------ jobs and blobs

    def get_job_raw(self, job_id: str, *, detailed: bool = True) -> RawResponse:
        """`GET /v1/consumer/jobs/{id}`; `detailed` adds the job definition and is what
        carries `lastEvent.context` (the scan scores)."""
        return self._sender.send(endpoints.job(job_id, detailed=detailed))

    def get_job(self, job_id: str, *, detailed: bool = True) -> JobStatus:
        call = endpoints.job(job_id, detailed=detailed)
        raw = self._sender.send(call)
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
        answer = self._sender.send(call)
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
        return self._sender.download(endpoints.content(absolute, self.redactor(parsed.path)), dest)
