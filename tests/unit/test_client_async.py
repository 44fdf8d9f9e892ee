"""The asyncio client: same retry/error behaviour as the sync one, plus the in-flight bound."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from pipeline.api.client import AsyncOrchestrationClient
from pipeline.api.ratelimit import RateLimiter
from pipeline.core import errors, settings
from tests.unit.client_fakes import BASE_URL, TOKEN, Script, Sleeps, page, reply, workflow


def make_client(
    transport: httpx.AsyncBaseTransport, sleeps: Sleeps | None = None, **kwargs: Any
) -> AsyncOrchestrationClient:
    return AsyncOrchestrationClient(
        base_url=BASE_URL,
        token=TOKEN,
        transport=transport,
        sleep=(sleeps if sleeps is not None else Sleeps()).async_sleep,
        **kwargs,
    )


def run(make: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(make())  # type: ignore[arg-type]


def test_get_job_retries_429_then_succeeds() -> None:
    script = Script(reply(429, headers={"retry-after": "2"}), reply(200, json={"jobId": "j1"}))
    sleeps = Sleeps()

    async def main() -> Any:
        async with make_client(script.transport, sleeps) as client:
            job = await client.get_job("j1")
            return job, client.stats.as_dict()

    job, stats = run(main)
    assert job.job_id == "j1"
    assert sleeps == [2.0]
    assert stats["status_429"] == 1 and stats["retries"] == 1 and stats["requests"] == 2
    assert script.requests[1].url.params["detailed"] == "true"
    assert script.requests[1].headers["authorization"] == f"Bearer {TOKEN}"


def test_404_fails_at_once() -> None:
    script = Script(reply(404), reply(200, json={"jobId": "j1"}))

    async def main() -> None:
        async with make_client(script.transport) as client:
            await client.get_job_raw("gone")

    with pytest.raises(errors.NotFoundError, match="job 'gone'"):
        run(main)
    assert len(script.requests) == 1


def test_retries_exhausted_raise_the_same_errors_as_the_sync_client() -> None:
    script = Script(reply(503, content="<!DOCTYPE html><title>down</title>"))
    sleeps = Sleeps()

    async def main() -> None:
        async with make_client(script.transport, sleeps, max_retries=2, jitter=lambda: 1.0) as c:
            await c.get_job("j1")

    with pytest.raises(errors.ServerError, match="HTML error page"):
        run(main)
    d0 = settings.INITIAL_RETRY_DELAY
    assert sleeps == [d0, 2 * d0]


def test_transport_error_then_success() -> None:
    script = Script(httpx.ReadError("reset"), reply(200, json={"jobId": "j1"}))

    async def main() -> dict[str, int]:
        async with make_client(script.transport) as client:
            await client.get_job("j1")
            return client.stats.as_dict()

    assert run(main)["transport_errors"] == 1


def test_fetch_workflow_page_and_get_workflow() -> None:
    script = Script(
        page([workflow(1)], "c1"),
        reply(202, json=workflow(1)),
    )

    async def main() -> Any:
        async with make_client(script.transport) as client:
            raw = await client.fetch_workflow_page(tags=["a", "b"], cursor="c0")
            wf = await client.get_workflow("1-20261101000000000", wait=5)
            return raw, wf

    raw, wf = run(main)
    assert raw.next == "c1"
    assert raw.request_params == {
        "take": str(settings.PAGE_SIZE),
        "cursor": "c0",
        "tags": ["a", "b"],
    }
    assert script.requests[0].url.params.get_list("tags") == ["a", "b"]
    assert wf.id == "1-20261101000000000"


def test_never_more_than_max_in_flight_requests_on_the_wire() -> None:
    in_flight = 0
    peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        # Yield to the loop a few times so every task that can start does start.
        for _ in range(5):
            await asyncio.sleep(0)
        in_flight -= 1
        return httpx.Response(200, json={"jobId": request.url.path.rsplit("/", 1)[-1]})

    async def main() -> list[str | None]:
        async with make_client(httpx.MockTransport(handler), max_in_flight=4) as client:
            jobs = await asyncio.gather(*(client.get_job(f"j{i}") for i in range(40)))
            return [job.job_id for job in jobs]

    ids = run(main)
    assert ids == [f"j{i}" for i in range(40)]
    assert peak == 4


def test_a_task_waiting_out_a_retry_does_not_hold_an_in_flight_slot() -> None:
    # One slot; the first request is told to retry. While it "sleeps", the second request
    # must be able to use the slot.
    order: list[str] = []
    answered_429 = False

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal answered_429
        job = request.url.path.rsplit("/", 1)[-1]
        order.append(job)
        if job == "a" and not answered_429:
            answered_429 = True
            return httpx.Response(429, headers={"retry-after": "1"})
        return httpx.Response(200, json={"jobId": job})

    async def main() -> None:
        gate = asyncio.Event()

        async def slow_sleep(seconds: float) -> None:
            await gate.wait()

        client = AsyncOrchestrationClient(
            base_url=BASE_URL,
            token=TOKEN,
            transport=httpx.MockTransport(handler),
            sleep=slow_sleep,
            max_in_flight=1,
        )
        async with client:
            first = asyncio.create_task(client.get_job("a"))
            while not answered_429:
                await asyncio.sleep(0)
            await client.get_job("b")  # would deadlock if "a" kept the slot while sleeping
            gate.set()
            await first

    asyncio.run(asyncio.wait_for(main(), timeout=10))
    assert order == ["a", "b", "a"]


def test_shared_rate_limiter_is_used_without_blocking_the_loop() -> None:
    clock = [0.0]
    waits: list[float] = []

    async def limiter_sleep(seconds: float) -> None:
        waits.append(seconds)
        clock[0] += seconds

    limiter = RateLimiter(2.0, burst=1, clock=lambda: clock[0], async_sleep=limiter_sleep)
    script = Script(reply(200, json={"jobId": "j"}))

    async def main() -> None:
        async with make_client(script.transport, rate_limiter=limiter) as client:
            for _ in range(3):
                await client.get_job("j")

    run(main)
    assert waits == [0.5, 0.5]


def test_max_in_flight_must_be_positive() -> None:
    with pytest.raises(ValueError):
        make_client(httpx.MockTransport(reply(200)), max_in_flight=0)
