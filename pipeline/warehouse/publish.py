"""The DuckDB warehouse: DATA_DIR/warehouse.duckdb, rebuilt whole from the lake and renamed
into place.

A new file is built beside the old one (core tables loaded from the lake partitions, the
`sync_windows` ledger, then the SQL models), checkpointed, and `os.replace`d over the old
file. An analyst holding the old file open keeps reading the old, consistent snapshot and
never blocks the publish; the next connection opens the new one. If anything fails (a model
with a SQL error, say) the published file is left exactly as it was.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from pipeline.core.errors import PipelineError
from pipeline.core.files import fsync_dir
from pipeline.core.locks import file_lock, lock_path
from pipeline.core.settings import Settings
from pipeline.flatten import schemas
from pipeline.flatten.window import DUCKDB_THREADS
from pipeline.lake import partitions as lake
from pipeline.lake import tables
from pipeline.lake.ledger import COLUMNS as LEDGER_COLUMNS
from pipeline.lake.ledger import Ledger
from pipeline.warehouse import models

# The models join and aggregate whole tables (ordered list() aggregates among them, which
# DuckDB cannot spill), so they get more room than the streaming flattening: with 256 MB,
# fct_jobs ran out of memory on 30 days of 20,000 workflows. DuckDB still spills what it
# can to DATA_DIR/.tmp beyond this.
WAREHOUSE_MEMORY_LIMIT = "2GB"

log = logging.getLogger(__name__)

PUBLISH_LOCK_TIMEOUT = 600.0

# Enrichment columns the warehouse `jobs` table carries from `job_details`
# (name in jobs, name in job_details).
JOB_ENRICHMENT = (
    ("job_type", "job_type"),
    ("provider", "provider"),
    ("worker_id", "worker_id"),
    ("last_event_type", "last_event_type"),
    ("last_event_at", "last_event_at"),
    ("is_final", "is_final"),
    ("retry_attempt", "retry_attempt"),
    ("job_duration_seconds", "job_duration_seconds"),
    ("prompt_sexual", "prompt_sexual"),
    ("prompt_young", "prompt_young"),
    ("prompt_cr", "prompt_cr"),
    ("prompt_scan", "prompt_scan"),
    ("context_json", "context_json"),
    ("csam_score_max", "csam_score_max"),
    ("enriched_at", "fetched_at"),
)
# Their types when this checkout has no job_details schema at all.
_ENRICHMENT_FALLBACK = {
    "job_type": pa.string(),
    "provider": pa.string(),
    "worker_id": pa.string(),
    "last_event_type": pa.string(),
    "last_event_at": schemas.TIMESTAMP,
    "is_final": pa.bool_(),
    "retry_attempt": pa.int32(),
    "job_duration_seconds": pa.float64(),
    "prompt_sexual": pa.bool_(),
    "prompt_young": pa.bool_(),
    "prompt_cr": pa.bool_(),
    "prompt_scan": pa.bool_(),
    "context_json": pa.string(),
    "csam_score_max": pa.float64(),
    "fetched_at": schemas.TIMESTAMP,
}

SYNC_WINDOWS_SCHEMA = pa.schema(
    [
        ("window_date", pa.date32()),
        ("status", pa.string()),
        ("pages", pa.int64()),
        ("workflows", pa.int64()),
        ("steps", pa.int64()),
        ("jobs", pa.int64()),
        ("blobs", pa.int64()),
        ("transactions", pa.int64()),
        ("jobs_enriched", pa.int64()),
        ("jobs_enrich_failed", pa.int64()),
        ("jobs_not_found", pa.int64()),
        ("filter_mode", pa.string()),
        ("retries", pa.int64()),
        ("started_at", schemas.TIMESTAMP),
        ("finished_at", schemas.TIMESTAMP),
        ("seconds", pa.float64()),
        ("error", pa.string()),
        ("run_id", pa.string()),
    ]
)


@dataclass
class PublishResult:
    path: Path
    tables: dict[str, int] = field(default_factory=dict)
    models: list[Any] = field(default_factory=list)
    seconds: float = 0.0


def duckdb_type(arrow_type: pa.DataType) -> str:
    """The DuckDB column type of an Arrow type used by the lake schemas."""
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "VARCHAR"
    if pa.types.is_date32(arrow_type):
        return "DATE"
    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMPTZ" if arrow_type.tz else "TIMESTAMP"
    if pa.types.is_boolean(arrow_type):
        return "BOOLEAN"
    if pa.types.is_int32(arrow_type):
        return "INTEGER"
    if pa.types.is_int64(arrow_type):
        return "BIGINT"
    if pa.types.is_floating(arrow_type):
        return "DOUBLE"
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return duckdb_type(arrow_type.value_type) + "[]"
    raise TypeError(f"no DuckDB type for Arrow type {arrow_type}")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _load_table(
    con: duckdb.DuckDBPyConnection, name: str, schema: pa.Schema, files: list[Path]
) -> None:
    """CREATE TABLE `name` from the table's partition files, cast to its schema.

    `union_by_name` lets partitions written before a column existed load with NULLs in it;
    a column no partition has yet is added as a typed NULL.
    """
    if not files:
        columns = ", ".join(f"{_ident(f.name)} {duckdb_type(f.type)}" for f in schema)
        con.execute(f"CREATE TABLE {_ident(name)} ({columns})")
        return
    source = (
        "read_parquet([" + ", ".join(_lit(str(p)) for p in files) + "], "
        "union_by_name = true, hive_partitioning = false)"
    )
    present = {row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
    select = ", ".join(
        (
            f"CAST({_ident(f.name)} AS {duckdb_type(f.type)})"
            if f.name in present
            else f"CAST(NULL AS {duckdb_type(f.type)})"
        )
        + f" AS {_ident(f.name)}"
        for f in schema
    )
    con.execute(f"CREATE TABLE {_ident(name)} AS SELECT {select} FROM {source}")


def _create_jobs(con: duckdb.DuckDBPyConnection, has_details: bool) -> None:
    """`jobs` = the lake jobs with the enrichment columns of `job_details` (NULL until a job
    is enriched)."""
    if has_details:
        extra = ", ".join(f"d.{_ident(src)} AS {_ident(dst)}" for dst, src in JOB_ENRICHMENT)
        con.execute(
            f"CREATE TABLE jobs AS SELECT j.*, {extra} FROM _lake_jobs AS j "
            "LEFT JOIN (SELECT * FROM job_details QUALIFY row_number() OVER ("
            "PARTITION BY job_id ORDER BY fetched_at DESC NULLS LAST) = 1) AS d USING (job_id)"
        )
    else:
        extra = ", ".join(
            f"CAST(NULL AS {duckdb_type(_ENRICHMENT_FALLBACK[src])}) AS {_ident(dst)}"
            for dst, src in JOB_ENRICHMENT
        )
        con.execute(f"CREATE TABLE jobs AS SELECT j.*, {extra} FROM _lake_jobs AS j")
    con.execute("DROP TABLE _lake_jobs")


def _load_ledger(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    rows = Ledger(settings.ledger_path).rows() if settings.ledger_path.exists() else []
    columns = {name: [getattr(row, name) for row in rows] for name in LEDGER_COLUMNS}
    table = pa.Table.from_pydict(columns, schema=SYNC_WINDOWS_SCHEMA)
    con.register("_ledger_rows", table)
    con.execute("CREATE TABLE sync_windows AS SELECT * FROM _ledger_rows ORDER BY window_date")
    con.unregister("_ledger_rows")


@contextlib.contextmanager
def publish_lock(settings: Settings, timeout: float = PUBLISH_LOCK_TIMEOUT) -> Iterator[None]:
    """One publisher at a time across processes (a second one waits, then builds from the
    newer lake)."""
    with file_lock(lock_path(settings.data_dir, "warehouse"), timeout) as held:
        if not held:
            raise PipelineError(
                f"Another process has been publishing the warehouse for {timeout:.0f}s; "
                "wait for it to finish and run again."
            )
        yield


def _remove(path: Path) -> None:
    for candidate in (path, path.with_name(path.name + ".wal")):
        candidate.unlink(missing_ok=True)


def publish_warehouse(
    settings: Settings,
    *,
    build_models: bool = True,
    params: Mapping[str, object] | None = None,
) -> PublishResult:
    """Rebuild DATA_DIR/warehouse.duckdb from the lake and the ledger, then swap it in."""
    started = time.monotonic()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    final = settings.warehouse_path
    with publish_lock(settings):
        temp = settings.data_dir / f".warehouse-{uuid.uuid4().hex}.duckdb"
        result = PublishResult(path=final)
        try:
            con = duckdb.connect(str(temp))
            try:
                work = settings.work_dir
                work.mkdir(parents=True, exist_ok=True)
                con.execute(f"SET memory_limit = {_lit(WAREHOUSE_MEMORY_LIMIT)}")
                con.execute(f"SET threads = {DUCKDB_THREADS}")
                con.execute(f"SET temp_directory = {_lit(str(work))}")
                con.execute("SET TimeZone = 'UTC'")
                con.execute("SET enable_progress_bar = false")
                schemas = tables.all_schemas()
                for name, schema in schemas.items():
                    files = lake.partition_files(settings.lake_dir, name)
                    _load_table(con, "_lake_jobs" if name == "jobs" else name, schema, files)
                _create_jobs(con, has_details="job_details" in schemas)
                _load_ledger(con, settings)
                for name in [*schemas, "sync_windows"]:
                    rows = con.execute(f"SELECT count(*) FROM {_ident(name)}").fetchall()
                    result.tables[name] = int(rows[0][0])
                builder = models.build_models if build_models else None
                if builder is not None:
                    result.models = list(builder(con, params=params) or [])
                con.execute("CHECKPOINT")
            finally:
                con.close()
            temp.replace(final)
            fsync_dir(final.parent)
        finally:
            _remove(temp)
    result.seconds = round(time.monotonic() - started, 3)
    return result
