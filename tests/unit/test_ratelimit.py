"""RateLimiter: rate, burst and penalties, driven by an injected clock (no wall time)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from pipeline.api.ratelimit import RateLimiter


class FakeClock:
    """A clock that only moves when someone sleeps on it."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 9))
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


def limiter(rate: float, burst: int | None = None, clock: FakeClock | None = None) -> RateLimiter:
    clock = clock or FakeClock()
    return RateLimiter(rate, burst, clock=clock, sleep=clock.sleep, async_sleep=clock.async_sleep)


def test_steady_rate_without_burst() -> None:
    clock = FakeClock()
    rl = limiter(2.0, burst=1, clock=clock)
    for _ in range(4):
        rl.acquire()
    assert clock.sleeps == [0.5, 0.5, 0.5]


def test_burst_goes_out_at_once_then_the_rate_applies() -> None:
    clock = FakeClock()
    rl = limiter(10.0, burst=3, clock=clock)
    for _ in range(5):
        rl.acquire()
    assert clock.sleeps == [0.1, 0.1]


def test_default_burst_is_one_second_of_budget() -> None:
    assert limiter(50.0).burst == 50
    assert limiter(0.5).burst == 1


def test_idle_time_refills_the_bucket_up_to_burst_only() -> None:
    clock = FakeClock()
    rl = limiter(10.0, burst=2, clock=clock)
    clock.now += 60  # a long pause must not bank 600 requests
    for _ in range(4):
        rl.acquire()
    assert clock.sleeps == [0.1, 0.1]


def test_penalize_delays_the_next_acquire() -> None:
    clock = FakeClock()
    rl = limiter(10.0, burst=5, clock=clock)
    rl.acquire()
    rl.penalize(5.0)
    assert rl.blocked_for == 5.0
    rl.acquire()
    assert clock.sleeps == [5.0]
    assert rl.blocked_for == 0.0


def test_after_a_penalty_the_queue_resumes_at_the_rate_not_in_a_burst() -> None:
    clock = FakeClock()
    rl = limiter(10.0, burst=5, clock=clock)
    rl.penalize(2.0)
    for _ in range(3):
        rl.acquire()
    assert clock.sleeps == [2.0, 0.1, 0.1]


def test_a_shorter_penalty_does_not_shorten_a_longer_one() -> None:
    clock = FakeClock()
    rl = limiter(100.0, clock=clock)
    rl.penalize(5.0)
    rl.penalize(1.0)
    rl.penalize(0.0)
    rl.acquire()
    assert clock.sleeps == [5.0]


def test_a_penalty_that_arrives_while_waiting_sends_the_caller_back_to_the_queue() -> None:
    clock = FakeClock()
    rl = limiter(1.0, burst=1, clock=clock)

    def sleep_then_get_penalized(seconds: float) -> None:
        clock.sleep(seconds)
        if len(clock.sleeps) == 1:
            rl.penalize(10.0)  # another worker saw a 429 while we slept

    rl._sleep = sleep_then_get_penalized
    rl.acquire()  # burst slot, no wait
    rl.acquire()  # waits 1 s for its slot, then the penalty
    assert clock.sleeps == [1.0, 10.0]


def test_acquire_async_waits_on_the_async_sleep() -> None:
    clock = FakeClock()
    rl = limiter(4.0, burst=1, clock=clock)

    async def main() -> None:
        for _ in range(3):
            await rl.acquire_async()
        rl.penalize(3.0)
        await rl.acquire_async()

    asyncio.run(main())
    assert clock.sleeps == [0.25, 0.25, 3.0]


def test_threads_never_get_the_same_slot() -> None:
    # With a frozen clock every reservation must land on its own slot: 0, 1/rate, 2/rate, ...
    clock = FakeClock()
    rl = limiter(100.0, burst=1, clock=clock)
    delays: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait()
        for _ in range(50):
            delay = rl._reserve()
            with lock:
                delays.append(round(delay, 6))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(delays) == [round(i / 100.0, 6) for i in range(400)]


@pytest.mark.parametrize(("rate", "burst"), [(0, None), (-1, None), (float("inf"), None), (1, 0)])
def test_invalid_settings_are_refused(rate: float, burst: int | None) -> None:
    with pytest.raises(ValueError):
        RateLimiter(rate, burst)
