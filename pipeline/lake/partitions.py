"""The Parquet lake: DATA_DIR/lake/<table>/date=YYYY-MM-DD/data.parquet, one file per window.

A window's file is replaced whole: the new file is written beside it under a temporary name,
fsynced, then `os.replace`d over the old one, so a reader (or a crash) sees either the old
file or the new one, never half of either. A window without rows for a table still gets an
empty file with the table's schema: "synced, nothing there" differs from "never synced".
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.core.files import replace as publish
from pipeline.flatten import schemas
from pipeline.lake import tables

PARTITION_FILE = "data.parquet"
_TEMP_PREFIX = ".data-"
_TEMP_SUFFIX = ".parquet.tmp"


def partition_dir(lake_dir: Path, table: str, day: date) -> Path:
    return lake_dir / table / f"date={day.isoformat()}"


def partition_path(lake_dir: Path, table: str, day: date) -> Path:
    return partition_dir(lake_dir, table, day) / PARTITION_FILE


def temp_path(lake_dir: Path, table: str, day: date) -> Path:
    """A fresh name in the partition's own directory, so the final rename is atomic."""
    directory = partition_dir(lake_dir, table, day)
    directory.mkdir(parents=True, exist_ok=True)
    return directory / f"{_TEMP_PREFIX}{uuid.uuid4().hex}{_TEMP_SUFFIX}"


def write_table(table: pa.Table, path: Path, schema: pa.Schema | None = None) -> None:
    """Write `table` (cast to `schema`) to `path` and fsync it; `path` is usually a temp name."""
    if schema is not None:
        table = table.select(schema.names).cast(schema)
    with open(path, "wb") as handle:
        pq.write_table(table, handle, compression="zstd")
        handle.flush()
        os.fsync(handle.fileno())


def write_empty(path: Path, schema: pa.Schema) -> None:
    write_table(schema.empty_table(), path)


def replace_partition(lake_dir: Path, table: str, day: date, data: pa.Table) -> Path:
    """Write and publish one partition in one call (small tables, tests)."""
    schema = tables.schema_for(table)
    temp = temp_path(lake_dir, table, day)
    try:
        write_table(data, temp, schema)
        final = partition_path(lake_dir, table, day)
        publish(temp, final)
        return final
    finally:
        temp.unlink(missing_ok=True)


def read_partition(lake_dir: Path, table: str, day: date) -> pa.Table | None:
    path = partition_path(lake_dir, table, day)
    if not path.exists():
        return None
    return pq.read_table(path, schema=tables.schema_for(table))


def partition_days(lake_dir: Path, table: str) -> list[date]:
    """Days with a published file for `table`, oldest first."""
    root = lake_dir / table
    days = []
    if root.is_dir():
        for child in root.iterdir():
            if child.name.startswith("date=") and (child / PARTITION_FILE).exists():
                with contextlib.suppress(ValueError):
                    days.append(date.fromisoformat(child.name.removeprefix("date=")))
    return sorted(days)


def partition_files(lake_dir: Path, table: str) -> list[Path]:
    return [partition_path(lake_dir, table, day) for day in partition_days(lake_dir, table)]


def remove_stale_temps(lake_dir: Path, day: date, tables: Iterable[str] | None = None) -> int:
    """Delete the temp files of one window left by a process killed before it published them.

    Only call this while holding the window's lock: another live process's temps of the same
    window would otherwise be deleted under it.
    """
    removed = 0
    for table in tables or schemas.WORKFLOW_TABLES:
        directory = partition_dir(lake_dir, table, day)
        if directory.is_dir():
            for temp in directory.glob(f"{_TEMP_PREFIX}*{_TEMP_SUFFIX}"):
                temp.unlink(missing_ok=True)
                removed += 1
    return removed
