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

from pipeline.core import locks
from pipeline.core import settings as defaults
from pipeline.core.errors import PipelineError, WindowBusyError
from pipeline.core.redact import redact
from pipeline.core.settings import Settings
from pipeline.enrich import archive
from pipeline.enrich.job_details import job_rows
from pipeline.enrich.lookups import Lookup, look_up_jobs
from pipeline.lake import claims
from pipeline.lake.store import Lake
from pipeline.runs import enrich_lake
from pipeline.runs.job_client import job_client, make_job_client, shared_rate_limiter

if TYPE_CHECKING:
    from pipeline.api.client import OrchestrationClient

# Re-exported: the CLI, Dagster and the sync build the lookup client from here.
__all__ = [
    "EnrichResult",
    "enrich_window",
    "job_client",
    "make_job_client",
    "rebuild_enrichment",
    "shared_rate_limiter",
]

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
    """One enrichment per window at a time, across processes (Dagster runs, CLI backfills)
    and, for a lake on object storage, across machines (a claim in the lake)."""
    path = locks.lock_path(settings.data_dir, f"enrich-{window_date.isoformat()}")
    with locks.file_lock(path, timeout) as held:
        if not held:
            raise WindowBusyError(
                f"window {window_date}: another process is enriching this window's jobs "
                f"(lock {path}); wait for it to finish, then run again.",
                window=window_date.isoformat(),
            )
        if not settings.shared_lake:
            yield
            return
        lake = Lake.from_settings(settings)
        with claims.hold(lake, f"enrich/{window_date.isoformat()}"):
            yield


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
    jobs = enrich_lake.window_jobs(lake, window_date)
    if jobs is None:
        log.info("enrich %s: window not synced; nothing to do", window_date)
        return result
    result.jobs = len(jobs)
    final = enrich_lake.final_state(lake, window_date)
    todo = [(job_id, wf) for job_id, wf in jobs if force or not final.get(job_id, False)]
    result.skipped = len(jobs) - len(todo)
    answered: set[str] = set()
    limit = concurrency or getattr(client, "max_connections", None) or defaults.JOB_CONCURRENCY
    out = enrich_lake.Outputs(settings, lake, window_date, with_archive=True)
    try:
        for lookup in look_up_jobs(
            client, todo, window_date, concurrency=limit, on_progress=on_progress
        ):
            if _take(settings, out, result, lookup):
                answered.add(lookup.job_id)
        carried = {job_id for job_id, _ in jobs if job_id not in answered and job_id in final}
        commits = out.publish(lake, carried)
    except BaseException:
        out.discard()
        raise
    result.rate_limited = client.stats.status_429 - first_429
    result.requests = client.stats.requests - first_requests
    result.seconds = time.monotonic() - started
    result.enriched = enrich_lake.record(lake, window_date, commits, failed=result.failed)
    _log_pass(result)
    return result


def _take(
    settings: Settings, out: enrich_lake.Outputs, result: EnrichResult, lookup: Lookup
) -> bool:
    """Stage one lookup's answer (archive line and rows); False when it failed (retried next
    run, the job keeps its previous rows)."""
    result.looked_up += 1
    if lookup.error is not None:
        result.failed += 1
        log.warning(
            "enrich %s: job %s failed, will retry next run: %s",
            result.window_date,
            lookup.job_id,
            redact(lookup.error, [settings.token]),
        )
        return False
    assert out.archive is not None
    out.archive.write(
        archive.record(
            job_id=lookup.job_id,
            workflow_id=lookup.workflow_id,
            fetched_at=lookup.fetched_at,
            status=404 if lookup.not_found else 200,
            body=lookup.body,
        )
    )
    if lookup.not_found:
        result.not_found += 1
        out.add_not_found(lookup.job_id, lookup.workflow_id, lookup.fetched_at)
    else:
        assert lookup.rows is not None
        result.parse_failures += lookup.rows.parse_failures
        out.add_job(lookup.rows)
    return True


def _log_pass(result: EnrichResult) -> None:
    log.info(
        "enrich %s: %d jobs, %d looked up, %d skipped, %d failed, %d not found, %d 429s, %.1fs",
        result.window_date,
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
            result.window_date,
            result.parse_failures,
        )


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
    jobs_archive = archive.JobArchive.from_settings(settings)
    if not jobs_archive.exists(window_date):
        raise PipelineError(
            f"No job archive for {window_date} at {jobs_archive.describe(window_date)}: run "
            "the sync with enrichment for this window first."
        )
    jobs = enrich_lake.window_jobs(lake, window_date)
    window_workflows = dict(jobs) if jobs is not None else None
    last_line: dict[str, int] = {}
    for index, line in enumerate(jobs_archive.lines(window_date)):
        job_id = line.get("job_id")
        if isinstance(job_id, str) and (window_workflows is None or job_id in window_workflows):
            last_line[job_id] = index

    out = enrich_lake.Outputs(settings, lake, window_date, with_archive=False)
    try:
        for index, line in enumerate(jobs_archive.lines(window_date)):
            job_id = line.get("job_id")
            if not isinstance(job_id, str) or last_line.get(job_id) != index:
                continue
            workflow_id = (
                window_workflows.get(job_id) if window_workflows is not None else None
            ) or line.get("workflow_id")
            fetched_at = _parse_fetched(line.get("fetched_at"))
            if line.get("status") == 404:
                out.add_not_found(job_id, workflow_id, fetched_at)
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
                out.add_job(rows)
        commits = out.publish(lake, set())
    except BaseException:
        out.discard()
        raise
    result.seconds = time.monotonic() - started
    result.enriched = enrich_lake.record(lake, window_date, commits, failed=None)
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
