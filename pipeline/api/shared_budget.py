"""One request-rate budget for every worker of a deployment, kept in Redis.

The API limits requests per token, not per process: N workers each with their own budget of
R requests/second would send N x R. With `CIVITAI_SYNC_RATE_BUDGET_URL=redis://host:6379/0`
every client of every worker (list pages and job lookups alike) draws from one bucket of
`CIVITAI_SYNC_RATE_LIMIT` requests/second (default `JOB_RATE_LIMIT`) for its API account.

Why a token bucket in Redis rather than a Dagster concurrency pool: a pool caps how many
steps run at once, not how fast they send; a step's rate depends on the API's latency, so a
pool sized for today's latency over- or under-shoots tomorrow's. The bucket caps the rate
itself, whatever the number of workers or steps, and a 429 seen by one worker slows all of
them. The Redis of the Celery deployment is already there, so it costs no new service.

The bucket is the same adaptive GCRA as the in-process `RateLimiter` (a "theoretical arrival
time" per budget), run as one Lua script per request so that reservations from all machines
are atomic and use one clock, the Redis server's. A caller reserves the next send slot in one
round trip and sleeps locally until it; a 429 reported by any worker pauses everyone for its
Retry-After (at least RETRY_AFTER_FLOOR) and cuts the rate by RATE_BACKOFF_FACTOR (at most once per
RATE_BACKOFF_INTERVAL, never below RATE_FLOOR_FRACTION of the ceiling); each second without
one gives back RATE_RECOVERY_FRACTION of the ceiling. A caller whose slot falls inside a pause
that started while it slept reserves again.

The Redis key is derived from the API URL and a hash of the token (never the token itself),
so two accounts never share a budget and the token never reaches Redis.
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipeline.api.ratelimit import BudgetStats
from pipeline.core import settings as defaults
from pipeline.core.errors import ConfigError

ENV_BUDGET_URL = "CIVITAI_SYNC_RATE_BUDGET_URL"
ENV_RATE = "CIVITAI_SYNC_RATE_LIMIT"
MAX_RATE = 100_000.0
KEY_PREFIX = "civitai-sync:budget:"
# Idle budgets disappear from Redis after a day.
KEY_TTL_SECONDS = 86_400

# KEYS[1]: the budget's hash. ARGV: op, ceiling, burst, factor, interval, floor, recovery,
# pause. Returns {delay or blocked-for (string), rate (string)}.
_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local op = ARGV[1]
local ceiling = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local h = redis.call('HGETALL', KEYS[1])
local s = {}
for i = 1, #h, 2 do s[h[i]] = tonumber(h[i + 1]) end
local rate = s.rate or ceiling
if rate > ceiling then rate = ceiling end
local recovered = s.recovered_at or now
local tat = s.tat or now
local blocked = s.blocked_until or 0
local tolerance = (burst - 1) / ceiling
if now > recovered then
  if rate < ceiling then
    rate = math.min(ceiling, rate + ceiling * tonumber(ARGV[7]) * (now - recovered))
  end
  recovered = now
end
local out = 0
if op == 'acquire' then
  local send_at = math.max(now, tat - tolerance, blocked)
  tat = math.max(tat, send_at) + 1 / rate
  out = send_at - now
  redis.call('HINCRBY', KEYS[1], 'granted', 1)
elseif op == 'blocked' then
  out = math.max(0, blocked - now)
elseif op == '429' then
  local pause = tonumber(ARGV[8])
  local untl = now + pause
  redis.call('HINCRBY', KEYS[1], 'throttles', 1)
  if untl > blocked then
    redis.call('HINCRBYFLOAT', KEYS[1], 'paused', untl - math.max(now, blocked))
    blocked = untl
  end
  local floor = ceiling * tonumber(ARGV[6])
  if now - (s.last_backoff or -1e18) >= tonumber(ARGV[5]) and rate > floor then
    redis.call('HSET', KEYS[1], 'last_backoff', string.format('%.6f', now))
    redis.call('HINCRBY', KEYS[1], 'backoffs', 1)
    rate = math.max(floor, rate * tonumber(ARGV[4]))
    if rate < (s.lowest or ceiling) then
      redis.call('HSET', KEYS[1], 'lowest', string.format('%.6f', rate))
    end
  end
  tat = math.max(tat, blocked + tolerance)
  recovered = math.max(recovered, blocked)
end
redis.call('HSET', KEYS[1], 'rate', string.format('%.6f', rate),
  'recovered_at', string.format('%.6f', recovered), 'tat', string.format('%.6f', tat),
  'blocked_until', string.format('%.6f', blocked))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[9]))
return {string.format('%.6f', out), string.format('%.6f', rate)}
"""


@dataclass(frozen=True)
class SharedBudgetStats(BudgetStats):
    """The budget's figures across all workers, and this process's share (`granted_here`)."""

    granted_here: int


def budget_key(api_url: str, token: str | None) -> str:
    digest = hashlib.sha256(f"{api_url.rstrip('/')}\n{token or ''}".encode()).hexdigest()
    return KEY_PREFIX + digest[:24]


class RedisRateBudget:
    """The shared budget (see the module docstring), usable from threads, with the client's
    rate-budget interface (`acquire`, `on_429`, `stats`)."""

    def __init__(self, url: str, key: str, rate: float, burst: int | None = None) -> None:
        import redis  # the `deploy` extra; only needed when a shared budget is configured

        if not rate > 0:
            raise ConfigError(f"{ENV_RATE} must be a positive number of requests/second")
        self.ceiling = float(rate)
        # A tenth of a second's worth: a caller woken a little late (a busy machine) uses
        # its slot instead of losing it, and no second ever sees more than 1.1 x the rate.
        self.burst = max(
            1, math.ceil(rate * defaults.RATE_BURST_SECONDS) if burst is None else int(burst)
        )
        self.key = key
        self._redis = redis.Redis.from_url(url, socket_timeout=10)
        self._script = self._redis.register_script(_SCRIPT)
        self._lock = threading.Lock()
        self._granted_here = 0

    def __repr__(self) -> str:
        return f"RedisRateBudget(ceiling={self.ceiling:g}, key={self.key})"

    def _call(self, op: str, pause: float = 0.0) -> tuple[float, float]:
        out, rate = self._script(
            keys=[self.key],
            args=[
                op,
                self.ceiling,
                self.burst,
                defaults.RATE_BACKOFF_FACTOR,
                defaults.RATE_BACKOFF_INTERVAL,
                defaults.RATE_FLOOR_FRACTION,
                defaults.RATE_RECOVERY_FRACTION,
                pause,
                KEY_TTL_SECONDS,
            ],
        )
        return float(out), float(rate)

    def acquire(self) -> None:
        """Block the calling thread until it may send one request."""
        while True:
            delay, _ = self._call("acquire")
            if delay <= 0:
                break
            time.sleep(delay)
            if self._call("blocked")[0] <= 0:
                break
        with self._lock:
            self._granted_here += 1

    def on_429(self, retry_after: float | None) -> None:
        """A worker got a 429: everyone pauses, and the shared rate comes down."""
        self._call("429", max(retry_after or 0.0, defaults.RETRY_AFTER_FLOOR))

    @property
    def rate(self) -> float:
        return self._call("blocked")[1]

    @property
    def blocked_for(self) -> float:
        return self._call("blocked")[0]

    def stats(self) -> SharedBudgetStats:
        rate = self.rate
        found: dict[Any, Any] = self._redis.hgetall(self.key)
        raw = {_text(k): _text(v) for k, v in found.items()}
        with self._lock:
            here = self._granted_here
        return SharedBudgetStats(
            ceiling=self.ceiling,
            rate=rate,
            lowest_rate=float(raw.get("lowest", self.ceiling)),
            granted=int(raw.get("granted", 0)),
            throttles=int(raw.get("throttles", 0)),
            backoffs=int(raw.get("backoffs", 0)),
            paused_seconds=float(raw.get("paused", 0.0)),
            granted_here=here,
        )

    def reset(self) -> None:
        """Forget the budget's state and counters (tests, a changed ceiling)."""
        self._redis.delete(self.key)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


_BUDGETS: dict[tuple[str, str, float], RedisRateBudget] = {}
_BUDGETS_LOCK = threading.Lock()


def from_env(
    api_url: str, token: str | None, env: Mapping[str, str] | None = None
) -> RedisRateBudget | None:
    """The process's shared budget for this API account when CIVITAI_SYNC_RATE_BUDGET_URL
    is set (one per account and process), else None."""
    env = os.environ if env is None else env
    url = env.get(ENV_BUDGET_URL)
    if not url:
        return None
    try:
        rate = float(env.get(ENV_RATE) or defaults.JOB_RATE_LIMIT)
    except ValueError:
        rate = math.nan
    # NaN would compare false everywhere in the bucket's arithmetic (never throttle, or never
    # grant), an infinity or zero likewise: a rate is a positive, finite number.
    if not (math.isfinite(rate) and 0 < rate <= MAX_RATE):
        raise ConfigError(
            f"{ENV_RATE}={env.get(ENV_RATE)!r} is not a rate: write a number of requests per "
            f"second above 0 and at most {MAX_RATE:g}."
        )
    key = budget_key(api_url, token)
    with _BUDGETS_LOCK:
        found = _BUDGETS.get((url, key, rate))
        if found is None:
            found = _BUDGETS[(url, key, rate)] = RedisRateBudget(url, key, rate)
        return found
