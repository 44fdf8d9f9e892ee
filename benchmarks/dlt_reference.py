"""The dlt reference point: dlt's own REST API source loading the same days into DuckDB.

Configured the way dlt's documentation recommends for a fast load, so the comparison is fair:

* `rest_api_source` with the JSON-body cursor paginator (`JSONResponseCursorPaginator`,
  cursor_path `next`, cursor_param `cursor`), `items` as the data selector, bearer auth, and
  the API's own date window parameters (`fromDate`/`toDate`) with pages of 100;
* one resource per day, all writing the `workflows` table, with `parallelized=True` so the
  days are extracted concurrently (the docs' "parallel extraction");
* pages are yielded whole (the REST source does that already: the docs' "yield pages, not rows");
* normalize runs in a process pool of one worker per core, and the extract files are rotated
  so that the pool has files to share (the docs' "normalize parallelism");
* `max_table_nesting=3` unnests workflows -> steps -> jobs and output blobs, and transactions,
  into child tables (what the lake's tables hold); deeper members stay JSON;
* the loader file format is `parquet`. `jsonl` was the fastest on simpler documents, but
  with the simulator's 45 step types its load step fails (dlt 1.31, DuckDB destination:
  'Table "workflows__steps" does not have a column with name "json"'), so a benchmark run
  would have no dlt figure. Parquet files carry their own schema and load every table
  (2,000 workflows: ~7 s on an idle 2-core machine, ~18 s on a busy one); the default
  `insert_values` spent ~4x longer in its load step;
* telemetry is off (no network other than the simulator).
"""

from __future__ import annotations

import os
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

# Rows per extract file: small enough that one day gives the normalize pool several files.
FILE_MAX_ITEMS = 2500


def _configure(work_dir: Path) -> None:
    workers = max(1, os.cpu_count() or 1)
    os.environ.update(
        {
            "RUNTIME__DLTHUB_TELEMETRY": "false",
            "NORMALIZE__WORKERS": str(workers),
            "EXTRACT__DATA_WRITER__FILE_MAX_ITEMS": str(FILE_MAX_ITEMS),
            "NORMALIZE__DATA_WRITER__FILE_MAX_ITEMS": str(FILE_MAX_ITEMS * 4),
            "RUNTIME__LOG_LEVEL": "WARNING",
            "DLT_DATA_DIR": str(work_dir / "dlt-data"),
        }
    )


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def build_source(url: str, token: str, days: list[date]) -> Any:
    from dlt.sources.helpers.rest_client.paginators import JSONResponseCursorPaginator
    from dlt.sources.rest_api import rest_api_source

    resources: list[Any] = []
    for day in days:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        resources.append(
            {
                "name": f"workflows_{day:%Y%m%d}",
                "table_name": "workflows",
                "endpoint": {
                    "path": "v2/consumer/workflows",
                    "params": {
                        "take": 100,
                        "fromDate": _iso(start),
                        "toDate": _iso(start + timedelta(days=1)),
                    },
                    "data_selector": "items",
                    "paginator": JSONResponseCursorPaginator(
                        cursor_path="next", cursor_param="cursor"
                    ),
                },
            }
        )
    config: Any = {
        "client": {
            "base_url": url.rstrip("/") + "/",
            "auth": {"type": "bearer", "token": token},
        },
        "resource_defaults": {"primary_key": "id", "write_disposition": "append"},
        "resources": resources,
    }
    return rest_api_source(config, name="orchestration", max_table_nesting=3, parallelized=True)


def run_dlt(
    url: str,
    token: str,
    days: list[date],
    work_dir: Path,
    loader_file_format: str | None = "parquet",
) -> dict[str, Any]:
    work_dir.mkdir(parents=True, exist_ok=True)
    _configure(work_dir)
    import dlt

    source = build_source(url, token, days)
    pipeline = dlt.pipeline(
        pipeline_name="bench_dlt",
        destination=dlt.destinations.duckdb(str(work_dir / "dlt.duckdb")),
        dataset_name="orchestration",
        pipelines_dir=str(work_dir / "pipelines"),
    )
    started = time.perf_counter()
    t0 = started
    pipeline.extract(source, loader_file_format=loader_file_format)  # type: ignore[arg-type]
    t1 = time.perf_counter()
    pipeline.normalize()
    t2 = time.perf_counter()
    pipeline.load()
    t3 = time.perf_counter()
    tables: dict[str, int] = {}
    with pipeline.sql_client() as client:
        for (name,) in client.execute_sql(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            pipeline.dataset_name,
        ):
            if name.startswith("_dlt"):
                continue
            rows = client.execute_sql(f'SELECT count(*) FROM "{name}"')
            tables[name] = int(rows[0][0])
    return {
        "seconds": t3 - started,
        "extract_seconds": t1 - t0,
        "normalize_seconds": t2 - t1,
        "load_seconds": t3 - t2,
        "workflows": tables.get("workflows", 0),
        "tables": tables,
        "dlt_version": dlt.__version__,
    }
