"""Keys that occur twice in a window, and which copy is kept.

* A workflow listed twice (the list moved under the cursor) keeps the copy from the latest
  page, the last one fetched: the window is flattened again without the older copies.
* A repeated child key (a step name, job id, blob id of one workflow or verdict the API
  repeated) keeps its first row in page, step and document order.

Both are rare, so the common case pays one cheap count per table.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from pipeline.fetch.windows import Bounds, Window
from pipeline.flatten import schemas
from pipeline.flatten.engine import scalar
from pipeline.flatten.query import file_list, lit, page_bounds_sql, window_sql
from pipeline.flatten.writers import PARQUET_COMPRESSION

# The temporary table of (page_no, item_no) copies to leave out (see `record_losers`).
LOSERS_TABLE = "_losers"


def _repeated_sql(path: Path, table: str) -> str:
    keys = ", ".join(schemas.KEYS[table])
    return f"SELECT count(*) - count(DISTINCT ({keys})) AS n FROM read_parquet({lit(str(path))})"


def repeated_keys(con: duckdb.DuckDBPyConnection, path: Path, table: str) -> int:
    """Rows of a table's Parquet file whose key an earlier row already has."""
    return scalar(con, _repeated_sql(path, table))


def any_repeated_keys(con: duckdb.DuckDBPyConnection, outputs: Mapping[str, Path]) -> bool:
    """Whether any of the tables' files has a key more than once: one query for all."""
    counts = " UNION ALL ".join(_repeated_sql(path, name) for name, path in outputs.items())
    return scalar(con, f"SELECT sum(n) FROM ({counts})") > 0


def has_repeated_workflows(con: duckdb.DuckDBPyConnection, path: Path) -> bool:
    source = f"read_parquet({lit(str(path))})"
    return scalar(con, f"SELECT count(workflow_id) - count(DISTINCT workflow_id) FROM {source}") > 0


def record_losers(
    con: duckdb.DuckDBPyConnection,
    files: Sequence[Path],
    max_object_size: int,
    window: Window,
    page_bounds: Mapping[int, Bounds] | None = None,
) -> int:
    """Record the (page_no, item_no) of every kept copy of a workflow but its last, in
    LOSERS_TABLE; how many. Only copies inside their page's bounds count: a copy another
    chain owns is dropped anyway, and must not outrank the one that is kept."""
    page_lo, page_hi = page_bounds_sql(page_bounds, "p.page_no")
    lo, hi = window_sql(window, page_lo, page_hi)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {LOSERS_TABLE} AS
        WITH pages AS (
            SELECT CAST(regexp_extract(filename, 'page-([0-9]+)', 1) AS INTEGER) AS page_no, items
            FROM read_json({file_list(files)},
                           columns = {{'next': 'VARCHAR',
                                      'items': 'STRUCT(id VARCHAR, createdAt TIMESTAMPTZ)[]'}},
                           filename = true, format = 'unstructured',
                           maximum_object_size = {max_object_size})
        ), copies AS (
            SELECT page_no, unnest(items) AS item, generate_subscripts(items, 1) AS item_no
            FROM pages
        )
        SELECT page_no, item_no FROM (
            SELECT p.page_no, p.item_no, row_number() OVER (
                PARTITION BY p.item.id ORDER BY p.page_no DESC, p.item_no DESC) AS copy_no
            FROM copies p
            WHERE p.item.createdAt >= {lo} AND p.item.createdAt < {hi}
        ) WHERE copy_no > 1
    """)
    return scalar(con, f"SELECT count(*) FROM {LOSERS_TABLE}")


def dedupe_children(con: duckdb.DuckDBPyConnection, name: str, path: Path) -> int:
    """Keep the first row of each key of a child table; how many rows were dropped."""
    extra = repeated_keys(con, path, name)
    if extra == 0:
        return 0
    keys = ", ".join(schemas.KEYS[name])
    source = f"read_parquet({lit(str(path))}, file_row_number = true)"
    keep = (
        con.sql(
            f"SELECT file_row_number FROM {source} QUALIFY row_number() OVER "
            f"(PARTITION BY {keys} ORDER BY file_row_number) = 1 ORDER BY file_row_number"
        )
        .to_arrow_table()
        .column(0)
    )
    table = pq.read_table(path, schema=schemas.WORKFLOW_TABLES[name]).take(keep)
    pq.write_table(table, path, compression=PARQUET_COMPRESSION)
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())
    return extra
