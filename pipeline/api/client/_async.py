"""The asyncio client: used where many independent requests run at once (job enrichment)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from types import TracebackType

import httpx

from pipeline.api.client import _calls
from pipeline.api.client._base import BaseClient
from pipeline.api.client._calls import Call
from pipeline.api.client._types import RawResponse, WorkflowPageRaw
from pipeline.api.models import JobStatus, Workflow
from pipeline.api.ratelimit import RateLimiter
from pipeline.core import settings


class AsyncOrchestrationClient(BaseClient):
    """Async twin of `OrchestrationClient` with the same retry and error behaviour.

    At most `max_in_flight` requests are on the wire at any moment, across all tasks using
    this client; a request waiting out a retry delay does not hold one of those slots.
    """

    def __init__(
        self,
        *,
        base_url: str,
        token: str | None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout | None = None,
        max_retries: int = settings.MAX_RETRIES,
        rate_limiter: RateLimiter | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_in_flight: int = settings.JOB_CONCURRENCY,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        super().__init__(
            base_url=base_url,
            token=token,
            timeout=timeout,
            max_retries=max_retries,
            rate_limiter=rate_limiter,
            jitter=jitter,
        )
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, got {max_in_flight}")
        self.max_in_flight = max_in_flight
        self._sleep = sleep
        self._slots = asyncio.Semaphore(max_in_flight)
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            transport=transport,
            timeout=self._timeout,
            headers=self._default_headers(),
            limits=httpx.Limits(
                max_connections=max_in_flight, max_keepalive_connections=max_in_flight
            ),
            http1=True,
            http2=False,
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncOrchestrationClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _send(self, call: Call) -> httpx.Response:
        request = self._build_request(call)
        attempt = 0
        while True:
            attempt += 1
            async with self._slots:
                if self.rate_limiter is not None:
                    await self.rate_limiter.acquire_async()
                try:
                    response = await self._http.send(request)
                except httpx.RequestError as exc:
                    delay = self._on_transport_error(call, request, exc, attempt)
                else:
                    retry_in = self._on_response(call, response, attempt)
                    if retry_in is None:
                        return response
                    delay = retry_in
            await self._sleep(delay)

    async def fetch_workflow_page(
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
        """See `OrchestrationClient.fetch_workflow_page`."""
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
        return self._page(call, await self._send(call))

    async def get_workflow_raw(
        self,
        workflow_id: str,
        *,
        wait: int | None = None,
        hide_mature_content: bool | None = None,
    ) -> RawResponse:
        call = self._workflow_call(workflow_id, wait, hide_mature_content)
        return self._raw(await self._send(call))

    async def get_workflow(
        self,
        workflow_id: str,
        *,
        wait: int | None = None,
        hide_mature_content: bool | None = None,
    ) -> Workflow:
        call = self._workflow_call(workflow_id, wait, hide_mature_content)
        return self._workflow_model(call, self._raw(await self._send(call)))

    async def get_job_raw(self, job_id: str, *, detailed: bool = True) -> RawResponse:
        """See `OrchestrationClient.get_job_raw`."""
        return self._raw(await self._send(_calls.job(job_id, detailed=detailed)))

    async def get_job(self, job_id: str, *, detailed: bool = True) -> JobStatus:
        call = _calls.job(job_id, detailed=detailed)
        return self._job_model(call, self._raw(await self._send(call)))
