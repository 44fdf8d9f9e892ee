"""RateLimiter: rate, burst, Retry-After pauses and the adaptive rate, driven by an injected
clock (no wall time)."""

from __future__ import annotations

import threading

import pytest

from pipeline.api.ratelimit import RateLimiter
from pipeline.core import settings


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


def limiter(
    rate: float, burst: int | None = None, clock: FakeClock | None = None, **kwargs: float
) -> RateLimiter:
    clock = clock or FakeClock()
    return RateLimiter(rate, burst, clock=clock, sleep=clock.sleep, **kwargs)


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


def test_default_burst_is_a_tenth_of_a_second_of_budget() -> None:
    # No second then sees more than 1.1 x the rate.
    assert limiter(400.0).burst == 40
    assert limiter(50.0).burst == 5
    assert limiter(0.5).burst == 1


def test_idle_time_refills_the_bucket_up_to_burst_only() -> None:
    clock = FakeClock()
    rl = limiter(10.0, burst=2, clock=clock)
    clock.now += 60  # a long pause must not bank 600 requests
    for _ in range(4):
        rl.acquire()
    assert clock.sleeps == [0.1, 0.1]


def test_a_retry_after_pauses_the_next_acquire() -> None:
    clock = FakeClock()
    rl = limiter(10.0, burst=5, clock=clock)
    rl.acquire()
    rl.on_429(5.0)
    assert rl.blocked_for == 5.0
    rl.acquire()
    assert clock.sleeps == [5.0]
    assert rl.blocked_for == 0.0


def test_after_a_pause_the_queue_resumes_at_the_cut_rate_not_in_a_burst() -> None:
    clock = FakeClock()
    rl = limiter(10.0, burst=5, clock=clock, backoff_factor=0.5, recovery_fraction=0.0)
    rl.on_429(2.0)
    for _ in range(3):
        rl.acquire()
    # The 429 also halved the rate: 5 requests/s after the pause.
    assert clock.sleeps == [2.0, 0.2, 0.2]


def test_a_shorter_pause_does_not_shorten_a_longer_one() -> None:
    clock = FakeClock()
    rl = limiter(100.0, clock=clock)
    rl.on_429(5.0)
    rl.on_429(1.0)
    rl.on_429(0.0)
    rl.acquire()
    assert clock.sleeps == [5.0]


def test_a_pause_that_arrives_while_waiting_sends_the_caller_back_to_the_queue() -> None:
    clock = FakeClock()
    rl = limiter(1.0, burst=1, clock=clock)

    def sleep_then_get_penalized(seconds: float) -> None:
        clock.sleep(seconds)
        if len(clock.sleeps) == 1:
            rl.on_429(10.0)  # another worker saw a 429 while we slept

    rl._sleep = sleep_then_get_penalized
    rl.acquire()  # burst slot, no wait
    rl.acquire()  # waits 1 s for its slot, then the pause
    assert clock.sleeps == [1.0, 10.0]


def test_a_429_without_retry_after_still_pauses_for_the_floor() -> None:
    clock = FakeClock()
    rl = limiter(1000.0, clock=clock)
    rl.on_429(None)
    rl.acquire()
    assert clock.sleeps == [settings.RETRY_AFTER_FLOOR]


def test_429s_cut_the_rate_multiplicatively_once_per_interval_down_to_the_floor() -> None:
    clock = FakeClock()
    rl = limiter(64.0, clock=clock, backoff_factor=0.5, backoff_interval=1.0,
                 floor_fraction=1 / 16, recovery_fraction=0.0)  # fmt: skip
    for _ in range(16):  # requests in flight meeting the same limit: one signal
        rl.on_429(0.0)
    assert rl.rate == 32.0
    for _ in range(6):
        clock.now += 1.0
        rl.on_429(0.0)
    assert rl.rate == 4.0  # 64 / 16: never below the floor
    figures = rl.stats()
    assert (figures.throttles, figures.backoffs, figures.lowest_rate) == (22, 4, 4.0)


def test_the_rate_recovers_additively_up_to_the_ceiling_only() -> None:
    clock = FakeClock()
    rl = limiter(100.0, clock=clock, backoff_factor=0.5, recovery_fraction=0.1)  # +10/s a second
    rl.on_429(1.0)  # the pause ends at +1 s; recovery starts from there
    assert rl.rate == 50.0
    clock.now += 1.0
    assert rl.rate == 50.0
    clock.now += 2.0
    assert rl.rate == pytest.approx(70.0)
    clock.now += 60.0
    assert rl.rate == 100.0


def test_a_cut_rate_spaces_requests_further_apart() -> None:
    clock = FakeClock()
    rl = limiter(10.0, burst=1, clock=clock, backoff_factor=0.5, recovery_fraction=0.0)
    rl.acquire()
    rl.on_429(0.0)  # pause of the floor, rate 5/s
    clock.sleeps.clear()
    for _ in range(3):
        rl.acquire()
    assert clock.sleeps[1:] == [0.2, 0.2]


def test_stats_count_grants_and_pauses() -> None:
    clock = FakeClock()
    rl = limiter(10.0, burst=10, clock=clock)
    for _ in range(3):
        rl.acquire()
    rl.on_429(2.0)
    rl.on_429(1.0)  # inside the first pause: adds nothing to the paused time
    figures = rl.stats()
    assert figures.granted == 3
    assert figures.paused_seconds == pytest.approx(2.0)
    assert figures.ceiling == 10.0
    assert figures.as_dict()["throttles"] == 2


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


def test_the_defaults_come_from_settings() -> None:
    clock = FakeClock()
    rl = limiter(100.0, clock=clock)
    rl.on_429(0.0)
    assert rl.rate == pytest.approx(100.0 * settings.RATE_BACKOFF_FACTOR)
    clock.now += settings.RETRY_AFTER_FLOOR + 1.0
    expected = 100.0 * settings.RATE_BACKOFF_FACTOR + 100.0 * settings.RATE_RECOVERY_FRACTION
    assert rl.rate == pytest.approx(expected)
