"""Sync windows: fetch -> archive -> flatten -> lake commits -> ledger, one UTC day at a time.

The same functions back the CLI (`civitai-sync sync/rebuild`) and the Dagster assets.

A window is replaced whole. Its pages go to a fresh archive attempt and its tables to staged
files in the window's own work directory; only when everything is written are the archive
swapped in, one Delta commit made per table, and the ledger told which files are now the
window's. The warehouse reads exactly the files the ledger lists for complete windows, so a
crash or an error at any point leaves what analysts see as it was, and the next run of the
window starts clean. Re-running a window is idempotent.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.core import locks
from pipeline.core.errors import (
    AuthenticationError,
    PipelineError,
    WindowBusyError,
    WindowError,
    storage_failure,
)
from pipeline.core.settings import Settings
from pipeline.enrich import archive as job_archive
from pipeline.fetch import archive
from pipeline.fetch.paging import ExtractResult, PageError, PageSource, extract_window
from pipeline.fetch.windows import Bounds, Window, utc_today
from pipeline.fetch.windows import (
    nightly_dates as nightly_dates,  # re-exported: the contract names it here
)
from pipeline.flatten import schemas
from pipeline.flatten import window as flatten
from pipeline.lake import claims
from pipeline.lake.ledger import Ledger, WindowRow
from pipeline.lake.store import PARTITION, Committed, Lake, NewFile
from pipeline.runs import enrich, upgrade

log = logging.getLogger(__name__)

# How long a sync waits for another process that holds the same window before giving up.
LOCK_TIMEOUT_SECONDS = 120.0
# A re-synced window whose workflow count falls below this share of the ledger's count is
# refused (without --allow-shrink): a server that suddenly answers less is far likelier than a
# day that lost half its workflows, and replacing would delete the good copy.
SHRINK_RATIO = 0.5
# Tables whose rows derive from a window's jobs; pruned when a re-sync drops jobs.
DERIVED_FROM_JOBS = ("job_details", "scan_scores")


@dataclass
class WindowResult:
    window_date: date
    status: str
    pages: int
    workflows: int
    steps: int
    jobs: int
    blobs: int
    transactions: int
    filter_mode: str
    retries: int
    seconds: float
    error: str | None = None
    verdicts: int = 0
    # The run's figures: the fetch alone (list requests, 429 answers, seconds from the first
    # request to the last page), then the job enrichment (jobs asked for, requests, 429s).
    fetch_seconds: float = 0.0
    requests: int = 0
    rate_limited: int = 0
    jobs_looked_up: int = 0
    enrich_requests: int = 0
    enrich_rate_limited: int = 0
    enrich_seconds: float = 0.0


@dataclass
class Progress:
    """A progress event of sync_range: after each page, and once per finished window."""

    window_date: date
    pages: int
    workflows: int
    result: WindowResult | None = None


# --------------------------------------------------------------------------- locking


def _window_lock_path(settings: Settings, day: date) -> Path:
    return locks.lock_path(settings.data_dir, f"window-{day.isoformat()}")


@contextlib.contextmanager
def window_lock(settings: Settings, day: date, timeout: float | None = None) -> Iterator[None]:
    """One process at a time per window (different windows may run in parallel); waits up to
    `timeout` (default LOCK_TIMEOUT_SECONDS, read when called) for another holder."""
    path = _window_lock_path(settings, day)
    wait = LOCK_TIMEOUT_SECONDS if timeout is None else timeout
    with locks.file_lock(path, wait) as held:
        if not held:
            raise WindowBusyError(
                f"window {day}: another process is syncing this window (lock {path}); "
                "wait for it to finish, then run again.",
                window=day.isoformat(),
            )
        yield


@contextlib.contextmanager
def window_guard(
    settings: Settings,
    day: date,
    *,
    timeout: float | None = None,
    run_id: str | None = None,
) -> Iterator[claims.Held | None]:
    """The right to write the window: its lock on this machine and, when the lake is on
    object storage (shared by machines), its claim in the lake (`pipeline.lake.claims`).
    Yields the claim (None for a local lake); check it before publishing."""
    with window_lock(settings, day, timeout):
        if not settings.shared_lake:
            yield None
            return
        lake = Lake.from_settings(settings)
        with claims.hold(lake, f"sync/{day.isoformat()}", run_id=run_id) as held:
            yield held


def window_locked(settings: Settings, day: date) -> bool:
    """Whether a live process is syncing the window right now (on this machine, or, for a lake
    on object storage, anywhere: its claim is live)."""
    if locks.is_locked(_window_lock_path(settings, day)):
        return True
    if settings.shared_lake:
        return claims.Claims(Lake.from_settings(settings)).live(f"sync/{day.isoformat()}")
    return False


def window_work_dir(settings: Settings, day: date) -> Path:
    """Scratch space of the window's sync (staged tables, DuckDB spill). Only the holder of the
    window's lock uses it, so whatever is there when the lock is taken was left by a killed
    run and is swept."""
    return settings.work_dir / f"window-{day.isoformat()}"


def _sweep(settings: Settings, day: date) -> None:
    if not settings.shared_lake:
        archive.recover(settings.raw_dir, day)
    shutil.rmtree(window_work_dir(settings, day), ignore_errors=True)
    Lake.from_settings(settings).sweep_staging(day, schemas.WORKFLOW_TABLES)


def _keep_only(settings: Settings, day: date, attempt: str) -> None:
    """The window's archive is now `attempt`: delete the ones it replaced (best effort:
    `maintain` sweeps whatever is left)."""
    try:
        archive.RawArchive.from_settings(settings).sweep(day, keep=attempt)
    except OSError as exc:
        log.warning("window %s: old raw archives not deleted yet (%s)", day, _short(exc))


# --------------------------------------------------------------------------- flatten + commit


def _flatten(
    settings: Settings,
    lake: Lake,
    day: date,
    pages: Sequence[Path],
    synced_at: datetime,
    page_bounds: dict[int, Bounds] | None,
) -> tuple[dict[str, NewFile], flatten.FlattenResult]:
    """Flatten the pages straight into new lake data files (not part of the tables yet)."""
    work = window_work_dir(settings, day)
    work.mkdir(parents=True, exist_ok=True)
    files = {name: lake.new_file(name, day) for name in schemas.WORKFLOW_TABLES}
    try:
        result = flatten.flatten_pages(
            pages,
            Window(day),
            {name: new.path for name, new in files.items()},
            synced_at=synced_at,
            work_dir=work / "duckdb",
            page_bounds=page_bounds,
            without=(PARTITION,),
        )
    except duckdb.Error as exc:
        raise _unflattenable(settings, day, pages, exc) from exc
    return files, result


def _unflattenable(
    settings: Settings, day: date, pages: Sequence[Path], exc: duckdb.Error
) -> WindowError:
    page = _find_bad_page(settings, day, pages)
    where = f"page {page}" if page else "its pages"
    return WindowError(
        f"window {day}: {where} could not be flattened ({_short(exc)}); the window keeps "
        "its previous data.",
        window=day.isoformat(),
        page=page,
    )


def _find_bad_page(settings: Settings, day: date, pages: Sequence[Path]) -> int | None:
    """The first page DuckDB cannot read on its own (only runs after a failure)."""
    con = flatten.connect(window_work_dir(settings, day) / "duckdb")
    try:
        for path in pages:
            try:
                con.execute(
                    "SELECT count(*) FROM read_json(?, columns = {'next': 'VARCHAR', "
                    "'items': 'JSON[]'}, format = 'unstructured', maximum_object_size = ?)",
                    [str(path), archive.uncompressed_size(path) + 2**20],
                ).fetchall()
            except duckdb.Error:
                return archive.page_number(path)
    finally:
        con.close()
    return None


def _short(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _commit(lake: Lake, day: date, files: dict[str, NewFile]) -> dict[str, Committed]:
    """One commit per workflow table, then the enrichment rows of jobs that are gone."""
    job_ids = pq.read_table(files["jobs"].path, columns=["job_id"]).column("job_id")
    commits = {name: lake.commit_window(name, day, [new]) for name, new in files.items()}
    commits.update(_prune_derived(lake, day, job_ids))
    return commits


def _prune_derived(lake: Lake, day: date, job_ids: pa.ChunkedArray) -> dict[str, Committed]:
    """Replacing a window removes every row derived from it: enrichment rows of jobs that the
    new copy of the window no longer has are dropped (one commit per table that had any)."""
    kept_ids = pc.unique(job_ids.combine_chunks())
    commits = {}
    for name in DERIVED_FROM_JOBS:
        if not lake.window_files(name, day):
            continue
        ids = [b.column(0) for b in lake.batches(name, day, ["job_id"])]
        gone = sum(len(c) - (pc.sum(pc.is_in(c, value_set=kept_ids)).as_py() or 0) for c in ids)
        if gone:
            kept = (
                batch.filter(pc.is_in(batch.column("job_id"), value_set=kept_ids))
                for batch in lake.batches(name, day)
            )
            commits[name] = lake.replace_window(name, day, kept)
    return commits


def _check_shrink(previous: WindowRow | None, workflows: int, day: date) -> None:
    if previous is None or not previous.published or not previous.workflows:
        return
    if workflows >= previous.workflows * SHRINK_RATIO:
        return
    raise WindowError(
        f"window {day}: the server now returns {workflows} workflows where the last good sync "
        f"kept {previous.workflows}; refused to replace the day (below {SHRINK_RATIO:.0%}). If "
        "workflows really were deleted, run again with --allow-shrink; the previous data is "
        "kept.",
        window=day.isoformat(),
    )


# --------------------------------------------------------------------------- one window


@dataclass
class _Fetched:
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
    requests: int = 0
    rate_limited: int = 0
    seconds: float = 0.0
    claim: claims.Held | None = None


class _Cancelled(Exception):
    pass


def _failure(
    settings: Settings, day: date, exc: BaseException, started: float, run_id: str | None
) -> WindowError:
    """The WindowError for `exc`, recorded in the ledger (the window's data is untouched)."""
    if isinstance(exc, claims.ClaimError):
        # Another run owns the window: its ledger row is that run's to write.
        return exc
    if isinstance(exc, WindowError):
        error = exc
    elif isinstance(exc, _Cancelled):
        error = WindowError(
            f"window {day}: not fetched to the end: the sync run stopped", window=day.isoformat()
        )
    elif isinstance(exc, PageError):
        error = WindowError(
            f"window {day}: page {exc.page} failed: {exc}", window=day.isoformat(), page=exc.page
        )
    elif isinstance(exc, PipelineError):
        error = WindowError(f"window {day}: {exc}", window=day.isoformat())
    elif (disk := storage_failure(exc)) is not None:
        error = WindowError(f"window {day}: {disk}", window=day.isoformat())
    else:
        error = WindowError(
            f"window {day} failed: {type(exc).__name__}: {_short(exc)}", window=day.isoformat()
        )
    with contextlib.suppress(Exception):  # the original failure is the one to report
        Ledger(Lake.from_settings(settings)).fail(
            day, str(error), seconds=time.monotonic() - started, run_id=run_id
        )
    return error


def _refuse_future(day: date) -> None:
    if day > utc_today():
        raise WindowError(
            f"window {day} is in the future (today is {utc_today()} UTC); pick days up to today.",
            window=day.isoformat(),
        )


def _fetch(
    settings: Settings,
    client: Any,
    day: date,
    *,
    run_id: str | None,
    on_page: Callable[[int, int], None] | None,
    force_mode: str | None = None,
) -> _Fetched:
    """Phase 1: take the window's lock and archive its pages into a fresh attempt."""
    _refuse_future(day)
    stack = contextlib.ExitStack()
    started = time.monotonic()
    try:
        claim = stack.enter_context(window_guard(settings, day, run_id=run_id))
        started = time.monotonic()
        _sweep(settings, day)
        stack.callback(shutil.rmtree, window_work_dir(settings, day), True)
        # Files flattened for a commit that did not happen (committed ones were moved away).
        stack.callback(Lake.from_settings(settings).sweep_staging, day, schemas.WORKFLOW_TABLES)
        Ledger(Lake.from_settings(settings)).start(day, run_id=run_id)
        attempt_id = archive.new_attempt_id()
        attempt = archive.staging_dir(window_work_dir(settings, day), attempt_id)
        stack.callback(archive.discard, attempt)
        before = _counters(client)
        try:
            extracted = extract_window(
                client, Window(day), attempt, on_page=on_page, force_mode=force_mode
            )
        except Exception as exc:
            raise _failure(settings, day, exc, started, run_id) from exc
        retries, requests, rate_limited = (
            after - first for after, first in zip(_counters(client), before, strict=True)
        )
        return _Fetched(
            day,
            run_id,
            started,
            retries,
            attempt,
            attempt_id,
            extracted,
            stack,
            requests=requests,
            rate_limited=rate_limited,
            seconds=time.monotonic() - started,
            claim=claim,
        )
    except BaseException:
        stack.close()
        raise


def _manifest(fetched: _Fetched) -> archive.Manifest:
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


def _publish(settings: Settings, fetched: _Fetched, *, allow_shrink: bool = False) -> WindowResult:
    """Phase 2: flatten the attempt, check it, swap in the archive, commit, record."""
    day, extracted = fetched.day, fetched.extracted
    lake = Lake.from_settings(settings)
    ledger = Ledger(lake)
    with fetched.stack:
        try:
            pages = archive.page_files(fetched.attempt)
            files, flat = _flatten(
                settings, lake, day, pages, extracted.fetched_at, extracted.page_bounds
            )
            if not allow_shrink:
                _check_shrink(ledger.get(day), flat.rows["workflows"], day)
            archive.write_manifest(fetched.attempt, _manifest(fetched))
            if fetched.claim is not None:
                fetched.claim.check()
            raw = archive.RawArchive.from_settings(settings)
            raw.publish(day, fetched.attempt_id, fetched.attempt)
            commits = _commit(lake, day, files)
            result = _result(
                day,
                _status(day),
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
                **_ledger_counts(result),
            )
            _keep_only(settings, day, fetched.attempt_id)
            return result
        except Exception as exc:
            raise _failure(settings, day, exc, fetched.started, fetched.run_id) from exc


def _status(day: date) -> str:
    """Today's window is still growing: published, but never `complete`."""
    return "partial" if day >= utc_today() else "complete"


def _abandon(settings: Settings, fetched: _Fetched, reason: str) -> None:
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
    fetched = _fetch(
        settings, client, window_date, run_id=run_id, on_page=on_page, force_mode=force_mode
    )
    return _publish(settings, fetched, allow_shrink=allow_shrink)


def rebuild_window(settings: Settings, window_date: date) -> WindowResult:
    """Re-flatten a window from its raw archive (no API call) and publish it."""
    day = window_date
    lake = Lake.from_settings(settings)
    ledger = Ledger(lake)
    with window_guard(settings, day) as claim:
        started = time.monotonic()
        _sweep(settings, day)
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
                files, flat = _flatten(
                    settings, lake, day, pages, manifest.fetched_at_dt, manifest.bounds()
                )
                commits = _commit(lake, day, files)
            except WindowError as exc:
                ledger.fail(day, str(exc), seconds=time.monotonic() - started)
                raise
            result = _result(
                day,
                _status(day),
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
                **_ledger_counts(result),
            )
            return result
        finally:
            shutil.rmtree(window_work_dir(settings, day), ignore_errors=True)


def _counters(client: Any) -> tuple[int, int, int]:
    """(retries, requests, 429 answers) the client has counted so far (0 without stats)."""
    stats = getattr(client, "stats", None)
    return tuple(  # type: ignore[return-value]
        int(getattr(stats, name, 0) or 0) for name in ("retries", "requests", "status_429")
    )


def _result(
    day: date,
    status: str,
    pages: int,
    flat: flatten.FlattenResult,
    mode: str,
    retries: int,
    seconds: float,
) -> WindowResult:
    rows = flat.rows
    return WindowResult(
        window_date=day,
        status=status,
        pages=pages,
        workflows=rows["workflows"],
        steps=rows["steps"],
        jobs=rows["jobs"],
        blobs=rows["blobs"],
        transactions=rows["transactions"],
        filter_mode=mode,
        retries=retries,
        seconds=round(seconds, 3),
        verdicts=rows.get("moderation_verdicts", 0),
    )


def _ledger_counts(result: WindowResult) -> dict[str, Any]:
    return {
        "pages": result.pages,
        "workflows": result.workflows,
        "steps": result.steps,
        "jobs": result.jobs,
        "blobs": result.blobs,
        "transactions": result.transactions,
        "verdicts": result.verdicts,
        "filter_mode": result.filter_mode,
        "retries": result.retries,
        "seconds": result.seconds,
    }


def failed_result(day: date, error: str | WindowError) -> WindowResult:
    """The result of a window that was not synced: `busy` when another process holds it
    (nothing was changed), else `failed`."""
    status = "busy" if isinstance(error, WindowBusyError) else "failed"
    return WindowResult(day, status, 0, 0, 0, 0, 0, 0, "", 0, 0.0, str(error))


# --------------------------------------------------------------------------- many windows

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


def _is_auth_failure(exc: BaseException) -> bool:
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 5:
        if isinstance(current, AuthenticationError):
            return True
        current = current.__cause__
        seen += 1
    return False


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
        _refuse_future(day)
    upgrade.upgrade(settings)
    run_id = run_id or f"sync-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    results: list[WindowResult] = []
    cancel = threading.Event()

    def fetch(day: date) -> _Fetched:
        def page_progress(pages: int, workflows: int) -> None:
            if cancel.is_set():
                raise _Cancelled
            if on_progress is not None:
                on_progress(Progress(day, pages, workflows))

        return _fetch(settings, client, day, run_id=run_id, on_page=page_progress)

    def report(result: WindowResult) -> None:
        results.append(result)
        if on_progress is not None:
            on_progress(Progress(result.window_date, result.pages, result.workflows, result))

    with contextlib.ExitStack() as stack:
        if enrich and enricher is None:
            enricher = stack.enter_context(default_enricher(settings, on_enrich))
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sync-fetch")
        pending: Future[_Fetched] | None = pool.submit(fetch, dates[0]) if dates else None
        try:
            for index, day in enumerate(dates):
                assert pending is not None
                failure: WindowError | str = ""
                try:
                    fetched: _Fetched | None = pending.result()
                except WindowError as exc:
                    if _is_auth_failure(exc):
                        pending = None
                        report(failed_result(day, str(exc)))
                        raise
                    fetched = None
                    failure = exc
                following = dates[index + 1] if index + 1 < len(dates) else None
                pending = pool.submit(fetch, following) if following else None
                if fetched is None:
                    report(failed_result(day, failure))
                    continue
                try:
                    result = _publish(settings, fetched, allow_shrink=allow_shrink)
                except WindowError as exc:
                    report(failed_result(day, exc))
                    continue
                if enrich and enricher is not None:
                    try:
                        _add_enrichment(result, enricher(settings, day))
                    except AuthenticationError:
                        raise
                    except PipelineError as exc:
                        result.error = f"job enrichment failed: {exc}"
                        log.warning("window %s: job enrichment failed: %s", day, exc)
                report(result)
        finally:
            # Stopped early (an error, Ctrl-C): end the fetch in flight and release its window.
            cancel.set()
            pool.shutdown(wait=True)
            if pending is not None and pending.done() and pending.exception() is None:
                _abandon(settings, pending.result(), "the sync run stopped before it")
    return results


def _add_enrichment(result: WindowResult, outcome: Any) -> None:
    if isinstance(outcome, enrich.EnrichResult):
        result.jobs_looked_up = outcome.looked_up
        result.enrich_requests = outcome.requests
        result.enrich_rate_limited = outcome.rate_limited
        result.enrich_seconds = round(outcome.seconds, 3)


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
        if enrichment and _has_job_archive(settings, day):
            try:
                enrich.rebuild_enrichment(settings, day)
            except PipelineError as exc:
                result.error = f"job enrichment rebuild failed: {exc}"
        results.append(result)
    return results


def _has_job_archive(settings: Settings, day: date) -> bool:
    return job_archive.JobArchive.from_settings(settings).exists(day)
