"""Sync windows: fetch -> archive -> flatten -> lake commits -> ledger, one UTC day at a time.

The same functions back the CLI (`civitai-sync sync/rebuild`) and the Dagster assets. This
module is the run loop over a range of days; the parts of one window live beside it:

* `guard`: the right to write a window (its lock, its claim on a shared lake, its work dir);
* `window`: one window's fetch, then its publish (`sync_window` does both);
* `refusals`: why a window is refused (a future day, a re-sync that shrank);
* `commit`: flattening into new lake files, the commits, pruning derived rows;
* `failures`: the one WindowError a failure becomes, recorded in the ledger;
* `results`: what a window's run reports;
* `rebuild`: the same from the raw archive, without the API.

Re-running a window is idempotent: a window is replaced whole, or not at all.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, date, datetime
from typing import Any

from pipeline.core.errors import AuthenticationError, PipelineError, WindowError
from pipeline.core.settings import Settings
from pipeline.fetch.windows import (
    nightly_dates as nightly_dates,  # re-exported: the contract names it here
)
from pipeline.runs import enrich, upgrade
from pipeline.runs.failures import Cancelled, is_auth_failure
from pipeline.runs.guard import (
    LOCK_TIMEOUT_SECONDS,
    window_guard,
    window_lock,
    window_locked,
    window_work_dir,
)
from pipeline.runs.rebuild import rebuild_range, rebuild_window
from pipeline.runs.refusals import SHRINK_RATIO, refuse_future
from pipeline.runs.results import Progress, WindowResult, add_enrichment, failed_result
from pipeline.runs.window import Fetched, abandon, fetch, publish, sync_window

__all__ = [
    "LOCK_TIMEOUT_SECONDS",
    "SHRINK_RATIO",
    "EnrichProgress",
    "Enricher",
    "Progress",
    "WindowResult",
    "default_enricher",
    "failed_result",
    "nightly_dates",
    "rebuild_range",
    "rebuild_window",
    "sync_range",
    "sync_window",
    "window_guard",
    "window_lock",
    "window_locked",
    "window_work_dir",
]

log = logging.getLogger(__name__)

Enricher = Callable[[Settings, date], Any]
# Enrichment progress: (window, jobs done, jobs to look up).
EnrichProgress = Callable[[date, int, int], None]


@contextlib.contextmanager
def default_enricher(
    settings: Settings, on_progress: EnrichProgress | None = None
) -> Iterator[Enricher]:
    """The job-enrichment pass of `pipeline.runs.enrich`, with one shared client for the
    whole range."""

    def run(s: Settings, day: date) -> enrich.EnrichResult:
        progress = None
        if on_progress is not None:

            def progress(done: int, total: int) -> None:
                on_progress(day, done, total)

        return enrich.enrich_window(s, day, client=client, on_progress=progress)

    with enrich.job_client(settings) as client:
        yield run


def sync_range(
    settings: Settings,
    client: Any,
    dates: Sequence[date],
    *,
    enrich: bool = True,
    on_progress: Callable[[Progress], None] | None = None,
    enricher: Enricher | None = None,
    run_id: str | None = None,
    allow_shrink: bool = False,
    on_enrich: EnrichProgress | None = None,
) -> list[WindowResult]:
    """Sync each day in turn; a failed window is reported and the others still run.

    Pipelined: while one window is flattened, published and enriched on this thread, the
    next one's pages are already being fetched on a worker thread (one fetch at a time, so
    the API sees the same request pattern as a plain loop; one flatten at a time, so memory
    stays that of one window).

    With `enrich`, each completed window's jobs are then enriched (`enricher`, by default
    `pipeline.runs.enrich.enrich_window`, reporting to `on_enrich`). A 401 stops the whole
    range: every other window would fail the same way.
    """
    for day in dates:
        refuse_future(day)
    upgrade.upgrade(settings)
    run_id = run_id or f"sync-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    results: list[WindowResult] = []
    cancel = threading.Event()

    def fetch_one(day: date) -> Fetched:
        def page_progress(pages: int, workflows: int) -> None:
            if cancel.is_set():
                raise Cancelled
            if on_progress is not None:
                on_progress(Progress(day, pages, workflows))

        return fetch(settings, client, day, run_id=run_id, on_page=page_progress)

    def report(result: WindowResult) -> None:
        results.append(result)
        if on_progress is not None:
            on_progress(Progress(result.window_date, result.pages, result.workflows, result))

    with contextlib.ExitStack() as stack:
        if enrich and enricher is None:
            enricher = stack.enter_context(default_enricher(settings, on_enrich))
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sync-fetch")
        pending: Future[Fetched] | None = pool.submit(fetch_one, dates[0]) if dates else None
        try:
            for index, day in enumerate(dates):
                assert pending is not None
                try:
                    fetched: Fetched | None = pending.result()
                except WindowError as exc:
                    if is_auth_failure(exc):
                        pending = None
                        report(failed_result(day, str(exc)))
                        raise
                    fetched, failure = None, exc
                following = dates[index + 1] if index + 1 < len(dates) else None
                pending = pool.submit(fetch_one, following) if following else None
                if fetched is None:
                    report(failed_result(day, failure))
                    continue
                report(
                    _publish_and_enrich(
                        settings, fetched, allow_shrink, enricher if enrich else None
                    )
                )
        finally:
            # Stopped early (an error, Ctrl-C): end the fetch in flight and release its window.
            cancel.set()
            pool.shutdown(wait=True)
            if pending is not None and pending.done() and pending.exception() is None:
                abandon(settings, pending.result(), "the sync run stopped before it")
    return results


def _publish_and_enrich(
    settings: Settings, fetched: Fetched, allow_shrink: bool, enricher: Enricher | None
) -> WindowResult:
    """Publish a fetched window, then enrich its jobs; a failed window's result instead. A
    401 of the enrichment is raised: the whole range stops."""
    day = fetched.day
    try:
        result = publish(settings, fetched, allow_shrink=allow_shrink)
    except WindowError as exc:
        return failed_result(day, exc)
    if enricher is not None:
        try:
            add_enrichment(result, enricher(settings, day))
        except AuthenticationError:
            raise
        except PipelineError as exc:
            result.error = f"job enrichment failed: {exc}"
            log.warning("window %s: job enrichment failed: %s", day, exc)
    return result
