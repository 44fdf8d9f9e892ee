"""Opening the published warehouse for reading (reports, `civitai-sync sql`, the HTML page):
read-only, timestamps in UTC, and every way it can fail said in one line."""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipeline.core import duck
from pipeline.core.errors import WarehouseNotFoundError


def open_warehouse(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the published warehouse, with timestamps shown in UTC.

    Raises:
        WarehouseNotFoundError: there is no warehouse file yet, or it does not open.
    """
    if not path.is_file():
        raise WarehouseNotFoundError(
            f"No warehouse at {path}. Run `civitai-sync sync` (or `make demo`) to build it."
        )
    try:
        try:
            con = duck.connect(path, read_only=True)
        except duckdb.IOException as exc:
            if not _set_aside_stale_wal(path, exc):
                raise
            con = duck.connect(path, read_only=True)
    except duckdb.Error as exc:  # truncated, foreign, or not readable by this user
        first = " ".join(str(exc).split())[:300]
        raise WarehouseNotFoundError(
            f"Cannot open {path} as a DuckDB warehouse ({first}). Rebuild it from the lake "
            "with `civitai-sync warehouse`."
        ) from None
    return con


def _set_aside_stale_wal(path: Path, exc: duckdb.Error) -> bool:
    """Whether a write-ahead log that DuckDB refuses as not this file's was moved aside.

    Publishing replaces warehouse.duckdb by a rename; an analyst's read-write session on the
    replaced file keeps writing its log under the same name, and if it dies before a
    checkpoint the log stays beside the new file, which DuckDB then refuses to open. Such a
    log can never be replayed into this file, so it is kept as `.wal.stale` for whoever wants
    to look at it. A read-only data dir cannot move it: the error then names it."""
    wal = path.with_name(path.name + ".wal")
    if "WAL" not in str(exc) or "does not match" not in str(exc) or not wal.exists():
        return False
    try:
        wal.replace(wal.with_name(wal.name + ".stale"))
    except OSError as os_exc:
        raise WarehouseNotFoundError(
            f"{wal} is the write-ahead log of a warehouse file that was replaced (a read-write "
            f"session that crashed); it stops DuckDB opening {path}, and it cannot be moved "
            f"({os_exc.strerror}). Delete it, or run `civitai-sync warehouse` as its owner."
        ) from None
    return True
