"""The core tables in the warehouse: views over exactly the lake files the ledger lists.

The warehouse does not copy the lake. Each core table is a view over the data files that the
ledger records as live for each published window, so a view is a snapshot consistent across
tables (a window being replaced by a running sync shows its previous files until the ledger
says otherwise) and its cost is a list of file names, not a load.

DuckDB maps Parquet columns by name, but needs every file of one `read_parquet` to have the
first file's columns; files written before a column existed lack it. So the files of a table
are grouped by the columns they were written with (recorded with each commit) and the groups
are joined with `UNION ALL BY NAME` beside a typed empty row of the current schema: every
column exists with its type, NULL where a file predates it.

Every view filters on the session variable `civitai_sync_days` when it is set: the warehouse
publish sets it to recompute only the days that changed, and DuckDB then opens only those
days' files (the `window_date=...` directory of each file).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from pipeline.core import duck
from pipeline.lake import tables
from pipeline.lake.ledger import COLUMNS as LEDGER_COLUMNS
from pipeline.lake.ledger import WindowRow
from pipeline.lake.store import PARTITION

if TYPE_CHECKING:
    from pipeline.warehouse.cache import FileSource

DAYS_VARIABLE = "civitai_sync_days"

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
        ("verdicts", pa.int64()),
        ("jobs_enriched", pa.int64()),
        ("jobs_enrich_failed", pa.int64()),
        ("jobs_not_found", pa.int64()),
        ("filter_mode", pa.string()),
        ("retries", pa.int64()),
        ("requests", pa.int64()),
        ("rate_limited", pa.int64()),
        ("started_at", pa.timestamp("us", tz="UTC")),
        ("finished_at", pa.timestamp("us", tz="UTC")),
        ("synced_at", pa.timestamp("us", tz="UTC")),
        ("seconds", pa.float64()),
        ("error", pa.string()),
        ("run_id", pa.string()),
        ("raw_attempt", pa.string()),
        ("table_versions", pa.string()),
    ]
)

# What each `sync_windows` column says (see pipeline.flatten.schemas for the format).
SYNC_WINDOWS_COLUMNS = {
    "window_date": "The window: a UTC day of workflow createdAt, [00:00, 24:00).",
    "status": "running (a sync is under way or was interrupted), complete, partial (today's "
    "window, still growing: synced again later) or failed.",
    "pages": "Workflow list pages fetched by the last good sync. NULL: never synced whole.",
    "workflows": "Workflows in the window at the last good sync. NULL: never synced whole.",
    "steps": "Steps of those workflows. NULL: never synced whole.",
    "jobs": "Jobs of those workflows. NULL: never synced whole.",
    "blobs": "Output blobs of those workflows. NULL: never synced whole.",
    "transactions": "Buzz transactions of those workflows. NULL: never synced whole.",
    "verdicts": "Moderation verdicts of those workflows. NULL: never synced whole.",
    "jobs_enriched": "Jobs looked up on the v1 job endpoint by the last enrichment. NULL: "
    "never enriched.",
    "jobs_enrich_failed": "Job lookups of the last enrichment that failed after retries (asked "
    "for again on the next run). NULL: never enriched.",
    "jobs_not_found": "Jobs the v1 endpoint no longer knows (404) at the last enrichment. "
    "NULL: never enriched.",
    "filter_mode": "How the window was fetched: server (the API's date filter worked) or "
    "client (it was ignored; pages were read newest-first and filtered here). NULL: never "
    "synced whole.",
    "retries": "Requests the last good sync retried (429, 5xx, transport errors). NULL: never "
    "synced whole.",
    "requests": "Requests the last good sync sent. NULL: never synced whole.",
    "rate_limited": "Answers 429 (rate limited) the last good sync got. NULL: never synced whole.",
    "started_at": "When the latest sync of the window started (UTC). NULL: not known.",
    "finished_at": "When the latest sync ended, well or not (UTC). NULL: it is still running.",
    "synced_at": "When the window's live data was published (UTC). NULL: never published.",
    "seconds": "How long the latest finished sync took. NULL: still running. [seconds]",
    "error": "Why the latest sync failed. NULL: it did not fail.",
    "run_id": "The run (Dagster run id or CLI run) of the latest sync. NULL: not recorded.",
    "raw_attempt": "The raw page archive the live data was flattened from (what `rebuild` "
    "reads). NULL: never published.",
    "table_versions": "The Delta version of each lake table holding the window's live data, "
    "as `table@version, ...`. NULL: never published.",
}


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


lit = duck.literal


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


def view_sql(
    schema: pa.Schema, groups: Sequence[Sequence[str]], renamed: Mapping[str, str] | None = None
) -> str:
    """SELECT of a core-table view over groups of files (each group: one set of columns);
    `renamed` (new name -> old name) reads a renamed column of older files under its new name."""
    renamed = {new: old for new, old in (renamed or {}).items() if new in schema.names}
    typed = ", ".join(
        [f"CAST(NULL AS {duckdb_type(f.type)}) AS {ident(f.name)}" for f in schema]
        + [
            f"CAST(NULL AS {duckdb_type(schema.field(new).type)}) AS {ident(old)}"
            for new, old in renamed.items()
        ]
    )
    parts = [f"SELECT {typed} WHERE false"]
    for files in groups:
        listed = ", ".join(lit(path) for path in files)
        parts.append(
            f"SELECT * FROM read_parquet([{listed}], hive_partitioning = true, "
            f"hive_types = {{'{PARTITION}': DATE}})"
        )
    union = "\nUNION ALL BY NAME\n".join(parts)
    columns = ", ".join(
        f"CAST({_value(f.name, renamed)} AS {duckdb_type(f.type)}) AS {ident(f.name)}"
        for f in schema
    )
    days = f"getvariable({lit(DAYS_VARIABLE)})"
    return (
        f"SELECT {columns} FROM (\n{union}\n) AS lake_rows\n"
        f"WHERE {days} IS NULL OR {ident(PARTITION)} IN {days}"
    )


def _value(name: str, renamed: Mapping[str, str]) -> str:
    if name in renamed:
        return f"coalesce({ident(name)}, {ident(renamed[name])})"
    return ident(name)


def file_groups(
    table: str, rows: Iterable[WindowRow], absolute: Mapping[str, str]
) -> list[list[str]]:
    """The live files of `table` over the published windows, grouped by the columns they were
    written with (`absolute` maps a table's relative file path to the path DuckDB reads)."""
    groups: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        committed = row.tables.get(table)
        if committed is None:
            continue
        for name in committed.files:
            groups[committed.columns_id].append(absolute[name])
    return [sorted(files) for _, files in sorted(groups.items())]


def create_view(
    con: duckdb.DuckDBPyConnection,
    name: str,
    schema: pa.Schema,
    groups: Sequence[Sequence[str]],
    *,
    in_schema: str = "main",
) -> None:
    qualified = f"{ident(in_schema)}.{ident(name)}"
    sql = view_sql(schema, groups, tables.RENAMED.get(name))
    con.execute(f"CREATE OR REPLACE VIEW {qualified} AS\n{sql}")


def write_sync_windows(con: duckdb.DuckDBPyConnection, rows: Sequence[WindowRow]) -> None:
    """`sync_windows`: the ledger's state of every window, as a small table."""
    columns = {name: [getattr(row, name) for row in rows] for name in LEDGER_COLUMNS}
    columns["table_versions"] = [_versions(row) for row in rows]
    table = pa.Table.from_pydict(columns, schema=SYNC_WINDOWS_SCHEMA)
    con.register("_ledger_rows", table)
    try:
        con.execute(
            "CREATE OR REPLACE TABLE sync_windows AS SELECT * FROM _ledger_rows ORDER BY window_date"
        )
    finally:
        con.unregister("_ledger_rows")


def _versions(row: WindowRow) -> str | None:
    if not row.tables:
        return None
    return ", ".join(f"{name}@{version}" for name, version in row.versions.items())


def set_days(con: duckdb.DuckDBPyConnection, days: Sequence[date] | None) -> None:
    """Restrict every core view to `days` on this connection (None: all days)."""
    if days is None:
        con.execute(f"RESET VARIABLE {DAYS_VARIABLE}")
    else:
        con.execute(f"SET VARIABLE {DAYS_VARIABLE} = ?::DATE[]", [sorted(days)])


def live_files(lake: FileSource, table: str, rows: Iterable[WindowRow]) -> dict[str, str]:
    """Relative path -> path DuckDB reads, for the files the ledger lists for `table`."""
    found: dict[str, str] = {}
    for row in rows:
        committed = row.tables.get(table)
        if committed is not None:
            found.update(zip(committed.files, lake.absolute(table, committed.files), strict=True))
    return found


def lake_connection(
    lake: FileSource, rows: Sequence[WindowRow], names: Iterable[str]
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with one view per lake table over the ledger's live files of `rows`
    (the windows to look at), for checks and counts."""
    con = duck.connect()
    for name in names:
        groups = file_groups(name, rows, live_files(lake, name, rows))
        create_view(con, name, tables.schema_for(name), groups)
    return con
