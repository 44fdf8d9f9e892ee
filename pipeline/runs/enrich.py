"""The enrichment pass of a window: its jobs' v1 answers -> `job_details` and `scan_scores`.

* Only jobs without a `job_details` row yet, or whose last event was not final, are asked for
  again (`force=True` asks for all). A job the API answers 404 for is recorded with
  `found=false` and counts as final: it is never asked for again.
* At most `concurrency` lookups are in flight (`pipeline.enrich.lookups`), and the client's
  request-rate budget caps the rate; build the client with `job_client()` so that every window
  this process enriches draws from one budget.
* Memory stays bounded whatever the window size: answers go to the raw job archive and to
  staged files as they come, and rows of jobs not asked for again are carried over from the
  lake in batches.
* Publication: the raw archive first (the source of a rebuild is never older than the lake),
  then `scan_scores`, then `job_details` (it decides what the next pass skips), one lake commit
  each, and the ledger records the files. A pass that dies half way leaves the previous state;
  the next pass asks again for what was not recorded.

A failed lookup (after the client's retries) is counted in `failed`; that job keeps its previous
row if it had one (it was not final, so it is asked for again next run), and the window still
publishes everything that succeeded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.core import locks
from pipeline.core import settings as defaults
from pipeline.core.errors import PipelineError, WindowBusyError
from pipeline.core.redact import redact
from pipeline.core.settings import Settings
from pipeline.enrich import archive
from pipeline.enrich.job_details import not_found_row
from pipeline.enrich.lookups import look_up_jobs
from pipeline.lake.ledger import Ledger
from pipeline.lake.staging import StagedTable
from pipeline.lake.store import Committed, Lake

if TYPE_CHECKING:
    from pipeline.api.client import OrchestrationClient
    from pipeline.api.ratelimit import RateLimiter

log = logging.getLogger(__name__)

ENRICH_TABLES = ("job_details", "scan_scores")
LOCK_TIMEOUT_SECONDS = 120.0


@dataclass
class EnrichResult:
    """What one enrichment pass did.

    looked_up: jobs asked for this run (including the failed and the not found ones);
    skipped: jobs already final, carried over without a request; failed: lookups that failed
    after retries (retried next run); not_found: 404s this run; rate_limited: 429 answers seen
    by the client during the pass; requests: requests the client sent during the pass (retries
    included); enriched: found jobs in the published window;
    jobs: jobs in the window; parse_failures: context items kept as text without a score.
    """

    window_date: date
    looked_up: int = 0
    skipped: int = 0
    failed: int = 0
    not_found: int = 0
    rate_limited: int = 0
    requests: int = 0
    seconds: float = 0.0
    enriched: int = 0
    jobs: int = 0
    parse_failures: int = 0


@contextmanager
def enrich_lock(settings: Settings, window_date: date, timeout: float) -> Iterator[None]:
    """One enrichment per window at a time, across processes (Dagster runs, CLI backfills)."""
    path = locks.lock_path(settings.data_dir, f"enrich-{window_date.isoformat()}")
    with locks.file_lock(path, timeout) as held:
        if not held:
            raise WindowBusyError(
                f"window {window_date}: another process is enriching this window's jobs "
                f"(lock {path}); wait for it to finish, then run again.",
                window=window_date.isoformat(),
            )
        yield


# --------------------------------------------------------------------------- the client

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

    return OrchestrationClient(
        base_url=settings.api_url,
        token=settings.token,
        rate_limiter=shared_rate_limiter(settings.api_url, rate),
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


# --------------------------------------------------------------------------- lake reads


def _window_jobs(lake: Lake, window_date: date) -> list[tuple[str, str | None]] | None:
    """(job_id, workflow_id) of the window's jobs, or None when the window was never synced."""
    if not lake.window_files("jobs", window_date):
        return None
    seen: set[str] = set()
    jobs: list[tuple[str, str | None]] = []
    for batch in lake.batches("jobs", window_date, ["job_id", "workflow_id"]):
        for job_id, workflow_id in zip(
            batch.column(0).to_pylist(), batch.column(1).to_pylist(), strict=True
        ):
            if job_id is not None and job_id not in seen:
                seen.add(job_id)
                jobs.append((job_id, workflow_id))
    return jobs


def _final_state(lake: Lake, window_date: date) -> dict[str, bool]:
    """job_id -> is_final of the window's current job_details (a 404 row is final)."""
    state: dict[str, bool] = {}
    for batch in lake.batches("job_details", window_date, ["job_id", "is_final", "found"]):
        for job_id, is_final, found in zip(*(c.to_pylist() for c in batch.columns), strict=True):
            state[job_id] = bool(is_final) or found is False
    return state


def _carried(lake: Lake, table: str, window_date: date, job_ids: set[str]) -> Iterator[Any]:
    if not job_ids:
        return
    wanted = pa.array(sorted(job_ids), pa.string())
    for batch in lake.batches(table, window_date):
        kept = batch.filter(pc.is_in(batch.column("job_id"), value_set=wanted))
        if kept.num_rows:
            yield kept


# --------------------------------------------------------------------------- publication


class _Outputs:
    """A pass's job_details and scan_scores files and job archive, published together or not
    at all."""

    def __init__(
        self, settings: Settings, lake: Lake, window_date: date, *, with_archive: bool
    ) -> None:
        self.window_date = window_date
        self.archive = (
            archive.ArchiveWriter(settings.raw_dir, window_date) if with_archive else None
        )
        self.details = StagedTable(lake, "job_details", window_date)
        self.scores = StagedTable(lake, "scan_scores", window_date)

    def publish(self, lake: Lake, carried: set[str]) -> dict[str, Committed]:
        day = self.window_date
        if self.archive is not None:
            self.archive.carry_over(carried)
            self.archive.publish()
        self.scores.add_batches(_carried(lake, "scan_scores", day, carried))
        self.details.add_batches(_carried(lake, "job_details", day, carried))
        return {"scan_scores": self.scores.commit(), "job_details": self.details.commit()}

    def discard(self) -> None:
        if self.archive is not None:
            self.archive.abort()
        self.details.discard()
        self.scores.discard()


def _found_counts(lake: Lake, window_date: date) -> tuple[int, int]:
    """(found, not found) rows of the window's published job_details."""
    found = not_found = 0
    for batch in lake.batches("job_details", window_date, ["found"]):
        yes = pc.sum(pc.cast(batch.column(0), pa.int64())).as_py() or 0
        found += int(yes)
        not_found += batch.num_rows - int(yes)
    return found, not_found


def _record(
    settings: Settings,
    lake: Lake,
    result: EnrichResult,
    commits: dict[str, Committed],
    *,
    failed: int | None,
) -> None:
    result.enriched, not_found_total = _found_counts(lake, result.window_date)
    Ledger(lake).record_enrichment(
        result.window_date,
        jobs_enriched=result.enriched,
        jobs_enrich_failed=failed,
        jobs_not_found=not_found_total,
        tables=commits,
    )


# --------------------------------------------------------------------------- the passes


def _enrich(
    settings: Settings,
    window_date: date,
    *,
    client: OrchestrationClient,
    force: bool,
    concurrency: int | None,
    on_progress: Callable[[int, int], None] | None,
) -> EnrichResult:
    started = time.monotonic()
    first_429 = client.stats.status_429
    first_requests = client.stats.requests
    lake = Lake.from_settings(settings)
    lake.sweep_staging(window_date, ENRICH_TABLES)
    result = EnrichResult(window_date=window_date)
    jobs = _window_jobs(lake, window_date)
    if jobs is None:
        log.info("enrich %s: window not synced; nothing to do", window_date)
        return result
    result.jobs = len(jobs)
    final = _final_state(lake, window_date)
    todo = [(job_id, wf) for job_id, wf in jobs if force or not final.get(job_id, False)]
    result.skipped = len(jobs) - len(todo)
    answered: set[str] = set()
    limit = concurrency or getattr(client, "max_connections", None) or defaults.JOB_CONCURRENCY
    out = _Outputs(settings, lake, window_date, with_archive=True)
    try:
        for lookup in look_up_jobs(
            client, todo, window_date, concurrency=limit, on_progress=on_progress
        ):
            result.looked_up += 1
            if lookup.error is not None:
                result.failed += 1
                log.warning(
                    "enrich %s: job %s failed, will retry next run: %s",
                    window_date,
                    lookup.job_id,
                    redact(lookup.error, [settings.token]),
                )
                continue
            answered.add(lookup.job_id)
            status = 404 if lookup.not_found else 200
            assert out.archive is not None
            out.archive.write(
                archive.record(
                    job_id=lookup.job_id,
                    workflow_id=lookup.workflow_id,
                    fetched_at=lookup.fetched_at,
                    status=status,
                    body=lookup.body,
                )
            )
            if lookup.not_found:
                result.not_found += 1
                out.details.add_rows(
                    [
                        not_found_row(
                            job_id=lookup.job_id,
                            workflow_id=lookup.workflow_id,
                            window_date=window_date,
                            fetched_at=lookup.fetched_at,
                        )
                    ]
                )
            else:
                assert lookup.rows is not None
                result.parse_failures += lookup.rows.parse_failures
                out.details.add_rows([lookup.rows.details])
                out.scores.add_rows(lookup.rows.scan_scores)
        carried = {job_id for job_id, _ in jobs if job_id not in answered and job_id in final}
        commits = out.publish(lake, carried)
    except BaseException:
        out.discard()
        raise
    result.rate_limited = client.stats.status_429 - first_429
    result.requests = client.stats.requests - first_requests
    result.seconds = time.monotonic() - started
    _record(settings, lake, result, commits, failed=result.failed)
    log.info(
        "enrich %s: %d jobs, %d looked up, %d skipped, %d failed, %d not found, %d 429s, %.1fs",
        window_date,
        result.jobs,
        result.looked_up,
        result.skipped,
        result.failed,
        result.not_found,
        result.rate_limited,
        result.seconds,
    )
    if result.parse_failures:
        log.warning(
            "enrich %s: %d context values kept as text without a score",
            window_date,
            result.parse_failures,
        )
    return result


def enrich_window(
    settings: Settings,
    window_date: date,
    *,
    client: OrchestrationClient,
    force: bool = False,
    concurrency: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> EnrichResult:
    """Look up the window's not-yet-final jobs on the v1 job endpoint and publish its
    `job_details` and `scan_scores` (plus the raw archive under raw/jobs/).

    A window that was never synced is a no-op. Raises AuthenticationError at once on a 401
    (nothing is published); every other per-job failure is counted in `failed` and the rest
    is published. One client can serve many calls, from many threads.
    """
    with enrich_lock(settings, window_date, timeout=LOCK_TIMEOUT_SECONDS):
        return _enrich(
            settings,
            window_date,
            client=client,
            force=force,
            concurrency=concurrency,
            on_progress=on_progress,
        )


def rebuild_enrichment(settings: Settings, window_date: date) -> EnrichResult:
    """Rebuild the window's job_details and scan_scores from raw/jobs/ alone (no API).

    The last archived answer per job wins; only the jobs of the window's `jobs` rows are kept
    (a job that vanished from the window does not come back).
    """
    with enrich_lock(settings, window_date, timeout=LOCK_TIMEOUT_SECONDS):
        return _rebuild(settings, window_date)


def _rebuild(settings: Settings, window_date: date) -> EnrichResult:
    started = time.monotonic()
    lake = Lake.from_settings(settings)
    result = EnrichResult(window_date=window_date)
    path = archive.archive_path(settings.raw_dir, window_date)
    if not path.exists():
        raise PipelineError(
            f"No job archive for {window_date} at {path}: run the sync with enrichment "
            "for this window first."
        )
    jobs = _window_jobs(lake, window_date)
    window_workflows = dict(jobs) if jobs is not None else None
    last_line: dict[str, int] = {}
    for index, line in enumerate(archive.iter_archive(path)):
        job_id = line.get("job_id")
        if isinstance(job_id, str) and (window_workflows is None or job_id in window_workflows):
            last_line[job_id] = index

    from pipeline.enrich.job_details import job_rows

    out = _Outputs(settings, lake, window_date, with_archive=False)
    try:
        for index, line in enumerate(archive.iter_archive(path)):
            job_id = line.get("job_id")
            if not isinstance(job_id, str) or last_line.get(job_id) != index:
                continue
            workflow_id = (
                window_workflows.get(job_id) if window_workflows is not None else None
            ) or line.get("workflow_id")
            fetched_at = _parse_fetched(line.get("fetched_at"))
            if line.get("status") == 404:
                out.details.add_rows(
                    [
                        not_found_row(
                            job_id=job_id,
                            workflow_id=workflow_id,
                            window_date=window_date,
                            fetched_at=fetched_at,
                        )
                    ]
                )
                result.not_found += 1
            else:
                rows = job_rows(
                    line.get("body"),
                    job_id=job_id,
                    workflow_id=workflow_id,
                    window_date=window_date,
                    fetched_at=fetched_at,
                )
                result.parse_failures += rows.parse_failures
                out.details.add_rows([rows.details])
                out.scores.add_rows(rows.scan_scores)
        commits = out.publish(lake, set())
    except BaseException:
        out.discard()
        raise
    result.seconds = time.monotonic() - started
    _record(settings, lake, result, commits, failed=None)
    result.jobs = len(jobs) if jobs is not None else result.enriched
    result.skipped = result.enriched + result.not_found
    return result


def _parse_fetched(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return datetime.now(UTC)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return datetime.now(UTC)
