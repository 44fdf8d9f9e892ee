"""Look up many jobs on `GET /v1/consumer/jobs/{id}?detailed=true`, a bounded number at once.

Embedded jobs carry no event, provider or scan scores, so enrichment costs one request per
job: the API-heaviest part of a sync. The lookups run on a `concurrent.futures` thread pool
(`concurrency` in flight) through one client, whose request-rate budget caps the rate for every
window this process enriches; a 429 slows that whole budget. Results come back to the calling
thread, in completion order, which alone writes them: no writer is shared between threads.

A lookup that fails after the client's retries is reported as failed (the job is asked for
again next run); a 404 is an answer of its own (the job is recorded as not found and never
asked for again); a 401 stops everything at once: every other lookup would fail the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol

import orjson

from pipeline.core.errors import (
    ApiError,
    AuthenticationError,
    NotFoundError,
    ResponseValidationError,
)
from pipeline.core.redact import Redactor
from pipeline.enrich.job_details import JobRows, job_rows


class JobSource(Protocol):
    """The part of the API client the lookups use."""

    def get_job_raw(self, job_id: str, *, detailed: bool = ...) -> Any: ...

    @property
    def redactor(self) -> Redactor: ...


@dataclass
class Lookup:
    """One job's answer: `rows` when found, `not_found` on a 404, `error` when it failed."""

    job_id: str
    workflow_id: str | None
    fetched_at: datetime
    body: bytes | None = None
    rows: JobRows | None = None
    not_found: bool = False
    error: str | None = None


def _look_up(client: JobSource, job_id: str, workflow_id: str | None, window_date: date) -> Lookup:
    try:
        raw = client.get_job_raw(job_id, detailed=True)
        document = raw.json()
        if not isinstance(document, dict):
            raise ResponseValidationError(
                "the v1 job endpoint did not return a JSON object",
                endpoint="/v1/consumer/jobs/{id}",
            )
    except NotFoundError:
        return Lookup(job_id, workflow_id, datetime.now(UTC), not_found=True)
    except AuthenticationError:
        raise
    except (ApiError, ResponseValidationError, orjson.JSONDecodeError) as exc:
        return Lookup(job_id, workflow_id, datetime.now(UTC), error=str(exc))
    fetched_at = datetime.now(UTC)
    rows = job_rows(
        document,
        job_id=job_id,
        workflow_id=workflow_id,
        window_date=window_date,
        fetched_at=fetched_at,
    )
    body = client.redactor.scrub_bytes(raw.content)
    return Lookup(job_id, workflow_id, fetched_at, body=body, rows=rows)


def look_up_jobs(
    client: JobSource,
    jobs: Sequence[tuple[str, str | None]],
    window_date: date,
    *,
    concurrency: int,
    on_progress: Callable[[int, int], None] | None = None,
) -> Iterator[Lookup]:
    """Each job's Lookup, in completion order, with at most `concurrency` requests in flight.

    Stopping early (an exception in the caller, a 401, Ctrl-C) cancels the lookups not yet
    started and waits for those in flight.
    """
    if not jobs:
        return
    pending = iter(jobs)
    done = 0
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="enrich") as pool:
        in_flight: set[Future[Lookup]] = set()
        try:
            for job_id, workflow_id in pending:
                in_flight.add(pool.submit(_look_up, client, job_id, workflow_id, window_date))
                if len(in_flight) >= concurrency * 2:
                    break
            while in_flight:
                finished, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in finished:
                    result = future.result()  # a 401 propagates from here
                    done += 1
                    if on_progress is not None:
                        on_progress(done, len(jobs))
                    nxt = next(pending, None)
                    if nxt is not None:
                        in_flight.add(pool.submit(_look_up, client, *nxt, window_date))
                    yield result
        finally:
            for future in in_flight:
                future.cancel()
