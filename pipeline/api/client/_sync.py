"""The blocking client: used by the window sync and the CLI; safe to share between threads."""

from __future__ import annotations

import contextlib
import os
import random
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType

import httpx

from pipeline.api.client import _calls
from pipeline.api.client._base import BaseClient
from pipeline.api.client._calls import Call
from pipeline.api.client._types import RawResponse, WorkflowPageRaw
from pipeline.api.models import JobStatus, Workflow, WorkflowPage, WorkflowStep
from pipeline.api.ratelimit import RateLimiter
from pipeline.api.transport import StdlibHTTPTransport, direct_transport
from pipeline.core import settings

_CHUNK = 1 << 16


class OrchestrationClient(BaseClient):
    """Read-only client of the Civitai Orchestration API.

    Every request is retried on 408/429/5xx and on network failures (see `BaseClient`), and
    failures surface as `pipeline.core.errors.ApiError` subclasses whose messages never contain the
    token. Pass `transport=httpx.MockTransport(...)` in tests and `sleep` to avoid real waits.
    """

    def __init__(
        self,
        *,
        base_url: str,
        token: str | None,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | None = None,
        max_retries: int = settings.MAX_RETRIES,
        rate_limiter: RateLimiter | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        max_connections: int = settings.JOB_CONCURRENCY,
    ) -> None:
        super().__init__(
            base_url=base_url,
            token=token,
            timeout=timeout,
            max_retries=max_retries,
            rate_limiter=rate_limiter,
            jitter=jitter,
        )
        if max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, got {max_connections}")
        self._sleep = sleep
        # Threads sharing this client (the sync's sub-window chains, job lookups) each need a
        # connection; more threads than this wait in httpx's pool.
        self.max_connections = max_connections
        # API calls (small JSON bodies, read whole) go through a keep-alive `http.client`
        # transport unless the caller brought its own; `download` keeps httpx's streaming.
        self._direct: StdlibHTTPTransport | None
        if transport is None:
            self._direct = direct_transport(max_connections)
        else:
            self._direct = transport if isinstance(transport, StdlibHTTPTransport) else None
        self._http = httpx.Client(
            base_url=self.base_url,
            transport=transport,
            timeout=self._timeout,
            headers=self._default_headers(),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            http1=True,
            http2=False,
            follow_redirects=False,
        )

    def close(self) -> None:
        if self._direct is not None:
            self._direct.close()
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

    # ------------------------------------------------------------------ transport loop

    def _send(self, call: Call) -> httpx.Response:
        request = self._build_request(call)
        attempt = 0
        while True:
            attempt += 1
            if self.rate_limiter is not None:
                self.rate_limiter.acquire()
            try:
                response = self._transmit(request)
            except httpx.RequestError as exc:
                delay = self._on_transport_error(call, request, exc, attempt)
            else:
                retry_in = self._on_response(call, response, attempt)
                if retry_in is None:
                    return response
                delay = retry_in
            self._sleep(delay)

    def _transmit(self, request: httpx.Request) -> httpx.Response:
        if self._direct is None:
            return self._http.send(request)
        # Our own transport answers with the body already read, and this client has no
        # cookies, auth, hooks or redirects to follow: httpx.Client.send would only add its
        # bookkeeping, a fifth of the CPU of a job lookup.
        response = self._direct.handle_request(request)
        response.request = request
        response.read()
        return response

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
        """Fetch one page of `GET /v2/consumer/workflows` as raw bytes plus parsed items.

        Datetimes are sent as ISO-8601 UTC (`...Z`); a naive datetime is taken as UTC.

        Raises:
            ResponseValidationError: the body is not JSON or has no `items` list.
            ApiError: the request failed (after retries where retrying makes sense).
        """
        call = _calls.workflow_page(
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
        return self._page(call, self._send(call))

    def iter_workflow_pages(
        self,
        *,
        take: int | None = settings.PAGE_SIZE,
        tags: Sequence[str] = (),
        query: str | None = None,
        ascending: bool | None = None,
        hide_mature_content: bool | None = None,
        from_date: datetime | None = None,
        to_date: datetime | None = None,
        exclude_failed: bool | None = None,
        cursor: str | None = None,
        max_pages: int | None = None,
    ) -> Iterator[WorkflowPageRaw]:
        """Yield pages, following `next` with the same filters.

        Every fetched page is yielded, an empty one included, so a caller can archive exactly
        what was served. The end of the list is not documented, so this stops after a page
        with no items, a page without `next` (missing, null or ""), or a page whose `next`
        was already sent (a server that loops would otherwise never end).
        """
        seen: set[str] = {cursor} if cursor else set()
        pages = 0
        while max_pages is None or pages < max_pages:
            page = self.fetch_workflow_page(
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
            pages += 1
            yield page
            if not page.heads or page.next is None or page.next in seen:
                return
            seen.add(page.next)
            cursor = page.next

    def query_workflows(
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
    ) -> WorkflowPage:
        """One page of workflows as validated models (see `fetch_workflow_page`)."""
        call = _calls.workflow_page(
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
        return self._workflow_page_model(call, self._page(call, self._send(call)))

    def get_workflow_raw(
        self,
        workflow_id: str,
        *,
        wait: int | None = None,
        hide_mature_content: bool | None = None,
    ) -> RawResponse:
        """`GET /v2/consumer/workflows/{id}`: status 200, or 202 while it is still running."""
        call = self._workflow_call(workflow_id, wait, hide_mature_content)
        return self._raw(self._send(call))

    def get_workflow(
        self,
        workflow_id: str,
        *,
        wait: int | None = None,
        hide_mature_content: bool | None = None,
    ) -> Workflow:
        call = self._workflow_call(workflow_id, wait, hide_mature_content)
        return self._workflow_model(call, self._raw(self._send(call)))

    def get_step_raw(self, workflow_id: str, step_name: str) -> RawResponse:
        return self._raw(self._send(_calls.step(workflow_id, step_name)))

    def get_step(self, workflow_id: str, step_name: str) -> WorkflowStep:
        call = _calls.step(workflow_id, step_name)
        return self._step_model(call, self._raw(self._send(call)))

    # ------------------------------------------------------------------ jobs and blobs

    def get_job_raw(self, job_id: str, *, detailed: bool = True) -> RawResponse:
        """`GET /v1/consumer/jobs/{id}`; `detailed` adds the job definition and is what
        carries `lastEvent.context` (the scan scores)."""
        return self._raw(self._send(_calls.job(job_id, detailed=detailed)))

    def get_job(self, job_id: str, *, detailed: bool = True) -> JobStatus:
        call = _calls.job(job_id, detailed=detailed)
        return self._job_model(call, self._raw(self._send(call)))

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
        call = _calls.blob(
            blob_id,
            workflow_id=workflow_id,
            nsfw_level=nsfw_level,
            download=download,
            filename=filename,
        )
        return self._blob_location(call, self._send(call))

    def download(self, url: str, dest: Path) -> int:
        """Stream `url` into `dest` and return the number of bytes written.

        The body goes to a temporary file beside `dest` that is renamed into place only when
        complete, so `dest` is never left half-written. The token is sent only when `url` is
        on the API's own origin. Redirects are followed.
        """
        call = self._download_call(url)
        request = self._build_request(call)
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
                        written = self._write_stream(response, dest)
                        self._on_response(call, response, attempt)
                        return written
                    response.read()
                finally:
                    response.close()
            except httpx.RequestError as exc:
                delay = self._on_transport_error(call, request, exc, attempt)
            else:
                retry_in = self._on_response(call, response, attempt)
                assert retry_in is not None  # accepted statuses returned above
                delay = retry_in
            self._sleep(delay)

    @staticmethod
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
