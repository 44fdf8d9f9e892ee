"""The client of job lookups: every enrichment in a process (and, with Redis, every worker)
draws from one request budget, because the API's rate limit is per account, not per window.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from pipeline.api import shared_budget
from pipeline.core import settings as defaults
from pipeline.core.settings import Settings

if TYPE_CHECKING:
    from pipeline.api.client import OrchestrationClient
    from pipeline.api.ratelimit import RateLimiter

_LIMITERS: dict[str, RateLimiter] = {}


def shared_rate_limiter(base_url: str, rate: float = defaults.JOB_RATE_LIMIT) -> RateLimiter:
    """The process-wide request budget for one API host: the API's limit is per account, not
    per window, so every enrichment in this process draws from one bucket (first rate wins)."""
    from pipeline.api.ratelimit import RateLimiter

    key = base_url.rstrip("/")
    limiter = _LIMITERS.get(key)
    if limiter is None:
        limiter = _LIMITERS.setdefault(key, RateLimiter(rate))
    return limiter


def make_job_client(
    settings: Settings,
    *,
    concurrency: int = defaults.JOB_CONCURRENCY,
    rate: float = defaults.JOB_RATE_LIMIT,
    **client_kwargs: Any,
) -> OrchestrationClient:
    """A thread-safe client for job lookups that draws from the process-wide budget."""
    from pipeline.api.client import OrchestrationClient

    # A budget shared by every worker (Redis) when one is configured, else this process's.
    budget: Any = shared_budget.from_env(settings.api_url, settings.token)
    return OrchestrationClient(
        base_url=settings.api_url,
        token=settings.token,
        rate_limiter=budget or shared_rate_limiter(settings.api_url, rate),
        max_connections=concurrency,
        allow_insecure_http=settings.allow_insecure_http,
        **client_kwargs,
    )


@contextmanager
def job_client(
    settings: Settings,
    *,
    concurrency: int = defaults.JOB_CONCURRENCY,
    rate: float = defaults.JOB_RATE_LIMIT,
    **client_kwargs: Any,
) -> Iterator[OrchestrationClient]:
    client = make_job_client(settings, concurrency=concurrency, rate=rate, **client_kwargs)
    try:
        yield client
    finally:
        client.close()
