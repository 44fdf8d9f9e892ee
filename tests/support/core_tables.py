"""Core tables for hand-made SQL model tests, with the published warehouse's exact columns.

The layout is not written out here: an empty warehouse is published once per test session
(pipeline.warehouse.publish, no models) and its tables are copied empty, so these tests always run
against the same columns and types as a real sync.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import duckdb

from pipeline.core.settings import Settings
from pipeline.warehouse.models import CORE_TABLES
from pipeline.warehouse.publish import publish_warehouse


@functools.cache
def _empty_warehouse() -> Path:
    tmp = Path(tempfile.mkdtemp(prefix="empty-warehouse-"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    settings = Settings(data_dir=tmp)
    publish_warehouse(settings, build_models=False)
    return settings.warehouse_path


def create_core_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create every core table, empty, as the warehouse publishes it."""
    con.execute(f"attach '{_empty_warehouse()}' as empty_core (read_only)")
    try:
        for table in CORE_TABLES:
            con.execute(f"create or replace table {table} as select * from empty_core.{table}")
    finally:
        con.execute("detach empty_core")


def insert(
    con: duckdb.DuckDBPyConnection, table: str, rows: Iterable[Mapping[str, object]]
) -> None:
    """Insert dict rows into a core table; columns a row leaves out are null."""
    columns = [row[0] for row in con.execute(f"describe {table}").fetchall()]
    placeholders = ", ".join("?" for _ in columns)
    for row in rows:
        unknown = set(row) - set(columns)
        assert not unknown, f"{table} has no column(s) {unknown}"
        con.execute(f"insert into {table} values ({placeholders})", [row.get(c) for c in columns])
