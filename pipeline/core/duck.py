"""DuckDB connections, set up in one place.

Every connection the pipeline opens reads and shows timestamps in UTC (the session time zone
decides how TIMESTAMPTZ values reach Arrow and text), never draws a progress bar, and, when
given a work directory, bounds its memory and spills there instead of failing. A read-only
connection opens only a file that exists: DuckDB would otherwise answer with its own error
about a file it cannot create.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipeline.core.errors import WarehouseNotFoundError

# Both machines the pipeline runs on have 2 cores; the sync's other threads need the rest.
THREADS = 2


def connect(
    path: Path | str | None = None,
    *,
    read_only: bool = False,
    memory_limit: str | None = None,
    threads: int = THREADS,
    work_dir: Path | None = None,
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection to `path` (in memory when None), set up as the module says.

    Raises:
        WarehouseNotFoundError: `read_only` and there is no file at `path`.
    """
    if read_only and path is not None and not Path(path).is_file():
        raise WarehouseNotFoundError(
            f"No warehouse at {path}. Run `civitai-sync sync` (or `make demo`) to build it."
        )
    con = duckdb.connect(":memory:" if path is None else str(path), read_only=read_only)
    try:
        if memory_limit is not None:
            con.execute(f"SET memory_limit = {literal(memory_limit)}")
        con.execute(f"SET threads = {int(threads)}")
        if work_dir is not None:
            work_dir.mkdir(parents=True, exist_ok=True)
            con.execute(f"SET temp_directory = {literal(str(work_dir))}")
        con.execute("SET enable_progress_bar = false")
        return session(con)
    except BaseException:
        con.close()
        raise


def session(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Per-session settings, for `connect()` and for each `cursor()` of a connection: a cursor
    shares the database (memory limit, threads) but not the session's time zone."""
    con.execute("SET TimeZone = 'UTC'")
    return con


def literal(value: str) -> str:
    """`value` as a SQL string literal."""
    return "'" + value.replace("'", "''") + "'"
