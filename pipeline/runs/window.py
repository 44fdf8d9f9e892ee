"""One window's sync in two phases: `fetch` takes the window and archives its pages into a
fresh attempt while one query flattens them as they land (pipeline.flatten.while_fetching);
`publish` ends the flattening, checks the result, swaps in the archive, commits the tables and
tells the ledger. `sync_range` runs the next window's fetch while this one is
published; `sync_window` runs both for one day.

A window is replaced whole. Its pages go to a fresh archive attempt and its tables to staged
files; only when everything is written are the archive swapped in, one Delta commit made per
table, and the ledger told which files are now the window's. So a crash or an error at any
point leaves what analysts see as it was, and the next run of the window starts clean.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pipeline.core.settings import Settings
from pipeline.fetch import archive
from pipeline.fetch.paging import ExtractResult, PageSource, extract_window
from pipeline.fetch.windows import Window
from pipeline.flatten import schemas
from pipeline.flatten.while_fetching import FlattenWhileFetching
from pipeline.lake import claims
from pipeline.lake.ledger import Ledger
from pipeline.lake.store import Lake, NewFile
from pipeline.runs import upgrade
from pipeline.runs.commit import (
    commit_window,
    finish_flattening,
    flatten_while_fetching,
    keep_only,
)
from pipeline.runs.failures import record_failure
from pipeline.runs.guard import sweep, window_guard, window_work_dir
from pipeline.runs.refusals import check_shrink, refuse_future
from pipeline.runs.results import WindowResult, ledger_counts, window_result, window_status


@dataclass
class Fetched:
    """A window whose pages are in an archive attempt, waiting to be flattened and published.
    Holds the window's lock (in `stack`) until it is published or abandoned."""

    day: date
    run_id: str | None
    started: float
    retries: int
    attempt: Path  # the local staging directory of the pages
    attempt_id: str
    extracted: ExtractResult
    stack: contextlib.ExitStack
    files: dict[str, NewFile]  # the lake data files the flattening writes
    flattener: FlattenWhileFetching
    requests: int = 0
    rate_limited: int = 0
    seconds: float = 0.0
    claim: claims.Held | None = None


def fetch(
    settings: Settings,
    client: Any,
    day: date,
    *,
    run_id: str | None,
    on_page: Callable[[int, int], None] | None,
    force_mode: str | None = None,
) -> Fetched:
    """Phase 1: take the window's lock and archive its pages into a fresh attempt."""
    refuse_future(day)
    stack = contextlib.ExitStack()
    started = time.monotonic()
    try:
        claim = stack.enter_context(window_guard(settings, day, run_id=run_id))
        started = time.monotonic()
        sweep(settings, day)
        stack.callback(shutil.rmtree, window_work_dir(settings, day), True)
        # Files flattened for a commit that did not happen (committed ones were moved away).
        stack.callback(Lake.from_settings(settings).sweep_staging, day, schemas.WORKFLOW_TABLES)
        Ledger(Lake.from_settings(settings)).start(day, run_id=run_id)
        attempt_id = archive.new_attempt_id()
        attempt = archive.staging_dir(window_work_dir(settings, day), attempt_id)
        stack.callback(archive.discard, attempt)
        fetched_at = datetime.now(UTC)
        lake = Lake.from_settings(settings)
        files, flattener = flatten_while_fetching(settings, lake, day, fetched_at)
        stack.callback(flattener.abort)
        before = _counters(client)
        try:
            extracted = extract_window(
                client,
                Window(day),
                attempt,
                on_page=on_page,
                force_mode=force_mode,
                fetched_at=fetched_at,
                on_archived=flattener.add,
                on_restart=flattener.restart,
            )
        except Exception as exc:
            raise record_failure(settings, day, exc, started, run_id) from exc
        retries, requests, rate_limited = (
            after - first for after, first in zip(_counters(client), before, strict=True)
        )
        return Fetched(
            day,
            run_id,
            started,
            retries,
            attempt,
            attempt_id,
            extracted,
            stack,
            files,
            flattener,
            requests=requests,
            rate_limited=rate_limited,
            seconds=time.monotonic() - started,
            claim=claim,
        )
    except BaseException:
        stack.close()
        raise


def _counters(client: Any) -> tuple[int, int, int]:
    """(retries, requests, 429 answers) the client has counted so far (0 without stats)."""
    stats = getattr(client, "stats", None)
    return tuple(  # type: ignore[return-value]
        int(getattr(stats, name, 0) or 0) for name in ("retries", "requests", "status_429")
    )


def _manifest(fetched: Fetched) -> archive.Manifest:
    extracted = fetched.extracted
    return archive.Manifest(
        window_date=fetched.day.isoformat(),
        filter_mode=extracted.filter_mode,
        pages=extracted.pages,
        items_seen=extracted.items_seen,
        items_in_window=extracted.items_in_window,
        fetched_at=extracted.fetched_at.isoformat(),
        finished_at=extracted.finished_at.isoformat(),
        run_id=fetched.run_id,
        request={k: v for k, v in extracted.request.items() if k != "cursor"},
        chains=extracted.chains,
        page_bounds={
            str(page): [lo.isoformat(), hi.isoformat()]
            for page, (lo, hi) in extracted.page_bounds.items()
        },
    )


def publish(settings: Settings, fetched: Fetched, *, allow_shrink: bool = False) -> WindowResult:
    """Phase 2: flatten the attempt, check it, swap in the archive, commit, record."""
    day, extracted = fetched.day, fetched.extracted
    lake = Lake.from_settings(settings)
    ledger = Ledger(lake)
    with fetched.stack:
        try:
            pages = archive.page_files(fetched.attempt)
            flat = finish_flattening(settings, day, fetched.flattener, pages, extracted.page_bounds)
            files = fetched.files
            if not allow_shrink:
                check_shrink(ledger.get(day), flat.rows["workflows"], day)
            archive.write_manifest(fetched.attempt, _manifest(fetched))
            if fetched.claim is not None:
                fetched.claim.check()
            raw = archive.RawArchive.from_settings(settings)
            raw.publish(day, fetched.attempt_id, fetched.attempt)
            commits = commit_window(lake, day, files)
            result = window_result(
                day,
                window_status(day),
                extracted.pages,
                flat,
                extracted.filter_mode,
                fetched.retries,
                time.monotonic() - fetched.started,
            )
            result.fetch_seconds = round(fetched.seconds, 3)
            result.requests = fetched.requests
            result.rate_limited = fetched.rate_limited
            ledger.complete(
                day,
                tables=commits,
                partial=result.status == "partial",
                run_id=fetched.run_id,
                raw_attempt=fetched.attempt_id,
                requests=fetched.requests,
                rate_limited=fetched.rate_limited,
                **ledger_counts(result),
            )
            keep_only(settings, day, fetched.attempt_id)
            return result
        except Exception as exc:
            raise record_failure(settings, day, exc, fetched.started, fetched.run_id) from exc


def abandon(settings: Settings, fetched: Fetched, reason: str) -> None:
    """A fetched window that will not be published (the run stopped): say so, unlock."""
    with fetched.stack:
        Ledger(Lake.from_settings(settings)).fail(
            fetched.day, f"window {fetched.day}: not published: {reason}", run_id=fetched.run_id
        )


def sync_window(
    settings: Settings,
    client: PageSource,
    window_date: date,
    *,
    run_id: str | None = None,
    on_page: Callable[[int, int], None] | None = None,
    force_mode: str | None = None,
    allow_shrink: bool = False,
) -> WindowResult:
    """Fetch, archive, flatten and publish one window; raises WindowError on failure.

    `client` is an OrchestrationClient (anything with its `fetch_workflow_page`; its `stats`
    give the retry count). On failure the window's previous archive and lake data stay, and
    the ledger records the error.
    """
    upgrade.upgrade(settings)
    fetched = fetch(
        settings, client, window_date, run_id=run_id, on_page=on_page, force_mode=force_mode
    )
    return publish(settings, fetched, allow_shrink=allow_shrink)
