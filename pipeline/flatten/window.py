"""Archived workflow pages of one window -> one Parquet file per workflow table
(`pipeline.flatten.schemas.WORKFLOW_TABLES`: workflows, steps, jobs, blobs, transactions,
moderation_verdicts).

The pieces, in the order data flows through them:

* `query`: the one SQL pass DuckDB streams over the compressed pages (one typed row per step);
* `split`: each batch of rows cut into the tables (with `users`, `blobs`, `verdicts`);
* `writers`: the Parquet writers, row groups encoded on a thread of their own;
* `engine`: the bounded connection and the loop between them;
* `duplicates`: which copy of a repeated key is kept.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pipeline.fetch import archive
from pipeline.fetch.windows import Bounds, Window
from pipeline.flatten import duplicates, schemas
from pipeline.flatten.engine import (
    DUCKDB_MEMORY_LIMIT,
    DUCKDB_THREADS,
    connect,
    session,
    stream_into,
)
from pipeline.flatten.query import build_query
from pipeline.flatten.writers import abort_writers, close_writers, open_writers

__all__ = [
    "DUCKDB_MEMORY_LIMIT",
    "DUCKDB_THREADS",
    "FlattenResult",
    "build_query",
    "connect",
    "flatten_pages",
    "max_object_size",
    "session",
    "temp_output_paths",
]


@dataclass
class FlattenResult:
    rows: dict[str, int]
    # Rows left out per table because their key was already there (a workflow listed twice
    # keeps its last copy; a repeated child key keeps its first row).
    duplicates: dict[str, int] = field(default_factory=dict)
    # Which pass wrote the files: "archive" (the pages in page order) or "stream" (pages as
    # they were fetched, pipeline.flatten.while_fetching).
    source: str = "archive"


def max_object_size(files: Sequence[Path]) -> int:
    """read_json's `maximum_object_size` for these pages: a page is one JSON object."""
    return max([16 * 2**20, *(archive.uncompressed_size(path) + 2**20 for path in files)])


def flatten_pages(
    page_files: Sequence[Path],
    window: Window,
    outputs: Mapping[str, Path],
    *,
    synced_at: datetime | None = None,
    work_dir: Path,
    memory_limit: str = DUCKDB_MEMORY_LIMIT,
    threads: int = DUCKDB_THREADS,
    page_bounds: Mapping[int, Bounds] | None = None,
    without: Sequence[str] = (),
) -> FlattenResult:
    """Flatten a window's archived pages into one Parquet file per table named in `outputs`
    (a subset of `schemas.WORKFLOW_TABLES`), at `outputs[table]`; columns named in `without`
    are left out of the files.

    `page_bounds` (from the extraction's sub-window chains) narrows pages to their own bounds.

    Every table gets a file, empty when the window has no rows for it, so that "synced, no
    rows" is distinguishable from "never synced". Raises duckdb.Error on unreadable pages.
    """
    synced_at = synced_at or datetime.now(UTC)
    files = sorted(page_files)
    con = connect(work_dir, memory_limit=memory_limit, threads=threads)
    try:
        max_object = max_object_size(files)

        def run(exclude_table: str | None) -> dict[str, int]:
            writers = open_writers(outputs, without)
            try:
                if files:
                    query = build_query(
                        files,
                        window,
                        synced_at,
                        max_object_size=max_object,
                        exclude_table=exclude_table,
                        page_bounds=page_bounds,
                    )
                    stream_into(con, query, window, writers)
                return close_writers(writers)
            except BaseException:
                abort_writers(writers)
                raise

        removed: dict[str, int] = {}
        rows = run(None)
        # The workflows file decides whether a workflow was listed twice; without it (a caller
        # asking for child tables only) the window is flattened from every copy.
        if "workflows" in outputs and duplicates.has_repeated_workflows(con, outputs["workflows"]):
            # Write the window again without the older copies. Rare, so the common case pays
            # one cheap check.
            removed["workflows"] = duplicates.record_losers(
                con, files, max_object, window, page_bounds
            )
            rows = run(duplicates.LOSERS_TABLE)
        for name, path in outputs.items():
            if name != "workflows" and (extra := duplicates.dedupe_children(con, name, path)):
                rows[name] -= extra
                removed[name] = extra
        return FlattenResult(rows=rows, duplicates=removed)
    finally:
        con.close()


def temp_output_paths(directory: Path) -> dict[str, Path]:
    """Fresh file names for each table under `directory` (used by tests and benchmarks)."""
    token = uuid.uuid4().hex
    return {name: directory / f"{name}-{token}.parquet" for name in schemas.WORKFLOW_TABLES}
