"""Committing a window: its archived pages flattened into new lake data files, one Delta
commit per table, the enrichment rows of jobs the new copy no longer has pruned, and the raw
archives it replaced deleted.

Nothing here is seen by readers until the ledger records the commits (`pipeline.runs.window`),
so a crash between two commits leaves the warehouse on the window's previous copy.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.core.settings import Settings
from pipeline.fetch import archive
from pipeline.fetch.windows import Bounds, Window
from pipeline.flatten import schemas
from pipeline.flatten import window as flatten
from pipeline.flatten.while_fetching import FlattenWhileFetching
from pipeline.lake.store import PARTITION, Committed, Lake, NewFile
from pipeline.runs.failures import short, unflattenable
from pipeline.runs.guard import window_work_dir

log = logging.getLogger(__name__)

# Tables whose rows derive from a window's jobs; pruned when a re-sync drops jobs.
DERIVED_FROM_JOBS = ("job_details", "scan_scores")


def flatten_window(
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
        raise unflattenable(settings, day, pages, exc) from exc
    return files, result


def flatten_while_fetching(
    settings: Settings, lake: Lake, day: date, synced_at: datetime
) -> tuple[dict[str, NewFile], FlattenWhileFetching]:
    """New lake data files for the window, and the flattening that fills them as the fetch
    archives its pages (pipeline.flatten.while_fetching); `finish` it with the whole archive."""
    work = window_work_dir(settings, day)
    work.mkdir(parents=True, exist_ok=True)
    files = {name: lake.new_file(name, day) for name in schemas.WORKFLOW_TABLES}
    flattener = FlattenWhileFetching(
        Window(day),
        {name: new.path for name, new in files.items()},
        synced_at=synced_at,
        work_dir=work / "duckdb",
        without=(PARTITION,),
    )
    return files, flattener


def finish_flattening(
    settings: Settings,
    day: date,
    flattener: FlattenWhileFetching,
    pages: Sequence[Path],
    page_bounds: dict[int, Bounds] | None,
) -> flatten.FlattenResult:
    """The flattening's result once the archive is complete (a bad page: a WindowError)."""
    try:
        return flattener.finish(pages, page_bounds)
    except duckdb.Error as exc:
        raise unflattenable(settings, day, pages, exc) from exc


def commit_window(lake: Lake, day: date, files: dict[str, NewFile]) -> dict[str, Committed]:
    """One commit per workflow table, then the enrichment rows of jobs that are gone."""
    job_ids = pq.read_table(files["jobs"].path, columns=["job_id"]).column("job_id")
    # The tables are independent Delta tables, and delta-rs commits without holding the GIL:
    # committing them side by side saves most of a window's commit time. Readers see none of
    # it until the ledger records the commits, so the order does not matter.
    with ThreadPoolExecutor(max_workers=len(files), thread_name_prefix="commit") as pool:
        futures = {
            name: pool.submit(lake.commit_window, name, day, [new]) for name, new in files.items()
        }
        commits = {name: future.result() for name, future in futures.items()}
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


def keep_only(settings: Settings, day: date, attempt: str) -> None:
    """The window's archive is now `attempt`: delete the ones it replaced (best effort:
    `maintain` sweeps whatever is left)."""
    try:
        archive.RawArchive.from_settings(settings).sweep(day, keep=attempt)
    except OSError as exc:
        log.warning("window %s: old raw archives not deleted yet (%s)", day, short(exc))
