"""Rebuilding windows from their raw archive, without the API: the pages the ledger names
flattened again and committed as a sync would (and, where raw/jobs/ has them, the windows'
job_details and scan_scores)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from datetime import date

from pipeline.core.errors import PipelineError, WindowError
from pipeline.core.settings import Settings
from pipeline.enrich import archive as job_archive
from pipeline.fetch import archive
from pipeline.lake.ledger import Ledger
from pipeline.lake.store import Lake
from pipeline.runs import enrich, upgrade
from pipeline.runs.commit import commit_window, flatten_window
from pipeline.runs.guard import sweep, window_guard, window_work_dir
from pipeline.runs.results import (
    WindowResult,
    failed_result,
    ledger_counts,
    window_result,
    window_status,
)


def rebuild_window(settings: Settings, window_date: date) -> WindowResult:
    """Re-flatten a window from its raw archive (no API call) and publish it."""
    day = window_date
    lake = Lake.from_settings(settings)
    ledger = Ledger(lake)
    with window_guard(settings, day) as claim:
        started = time.monotonic()
        sweep(settings, day)
        try:
            previous = ledger.get(day)
            raw = archive.RawArchive.from_settings(settings)
            attempt = raw.resolve(day, previous.raw_attempt if previous else None)
            work = window_work_dir(settings, day)
            work.mkdir(parents=True, exist_ok=True)
            pages, manifest = raw.local_copy(day, attempt, work)
            if not pages or manifest is None:
                raise WindowError(
                    f"window {day}: no raw archive under {raw.describe(day, attempt)}; fetch "
                    f"it with `civitai-sync sync --from {day} --to {day}`.",
                    window=day.isoformat(),
                )
            if claim is not None:
                claim.check()
            try:
                files, flat = flatten_window(
                    settings, lake, day, pages, manifest.fetched_at_dt, manifest.bounds()
                )
                commits = commit_window(lake, day, files)
            except WindowError as exc:
                ledger.fail(day, str(exc), seconds=time.monotonic() - started)
                raise
            result = window_result(
                day,
                window_status(day),
                manifest.pages,
                flat,
                manifest.filter_mode,
                (previous.retries or 0) if previous else 0,
                time.monotonic() - started,
            )
            ledger.complete(
                day,
                tables=commits,
                partial=result.status == "partial",
                run_id=manifest.run_id,
                raw_attempt=attempt,
                **ledger_counts(result),
            )
            return result
        finally:
            shutil.rmtree(window_work_dir(settings, day), ignore_errors=True)


def rebuild_range(
    settings: Settings, dates: Sequence[date], *, enrichment: bool = True
) -> list[WindowResult]:
    """Rebuild each day from the raw archive; with `enrichment`, also its job_details and
    scan_scores from raw/jobs/ where that archive exists."""
    upgrade.upgrade(settings)
    results = []
    for day in dates:
        try:
            result = rebuild_window(settings, day)
        except WindowError as exc:
            results.append(failed_result(day, exc))
            continue
        if enrichment and job_archive.JobArchive.from_settings(settings).exists(day):
            try:
                enrich.rebuild_enrichment(settings, day)
            except PipelineError as exc:
                result.error = f"job enrichment rebuild failed: {exc}"
        results.append(result)
    return results
