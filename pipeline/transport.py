"""An httpx async transport that sends each request on a blocking connection pool in a thread.

Why: httpcore's asyncio pool re-checks every pooled connection (through anyio's per-call
socket attribute lookup) each time a request is queued or released, so its CPU cost per
request grows with the pool size. Measured against the simulator with 16 connections: ~5 ms
CPU per request for the asyncio pool against ~2 ms for the blocking pool driven by 16 threads,
and about 3x the requests/second. Job enrichment keeps 16 lookups in flight, so it is exactly
the case that suffers.

Retries, the rate limit and the in-flight cap stay in the asyncio client; only the socket work
moves to threads. Bodies are read in the worker thread (job documents are small), so the
response handed back to the event loop is already complete.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx


class ThreadedAsyncTransport(httpx.AsyncBaseTransport):
    """`httpx.AsyncBaseTransport` over a `httpx.HTTPTransport` and `max_connections` threads."""

    def __init__(self, *, max_connections: int, **transport_kwargs: Any) -> None:
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self._transport = httpx.HTTPTransport(limits=limits, **transport_kwargs)
        self._pool = ThreadPoolExecutor(max_workers=max_connections, thread_name_prefix="http")

    def _send(self, request: httpx.Request) -> httpx.Response:
        response = self._transport.handle_request(request)
        try:
            # Raw (still content-encoded) bytes: the async client decodes them as usual.
            content = b"".join(response.iter_raw())
        finally:
            response.close()
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            content=content,
            extensions=response.extensions,
            request=request,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not isinstance(request.stream, httpx.SyncByteStream):
            # A streamed upload cannot cross threads; the job lookups never send one.
            request.read()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._send, request)

    async def aclose(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._close)

    def _close(self) -> None:
        self._pool.shutdown(wait=True)
        self._transport.close()
