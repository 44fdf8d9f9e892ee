"""Asset checks on the lake windows and on the warehouse's tables.

Every check returns an `AssetCheckResult` whose metadata counts the offending rows and shows a
few of them, so a failed check says what to look at.

The lake checks are not partitioned (partitioned checks are still a preview feature of
Dagster): in a run for a window they check that window's files, which is where they run after
every sync; run on their own from the UI they check every window of the lake.
"""

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import dagster as dg
import duckdb

from assets.lake import ENRICH_TABLES, INGEST_TABLES, LAKE_TABLES
from assets.resources import DataDirResource
from assets.warehouse import MODELS, WAREHOUSE_KEY
from pipeline.core.settings import Settings
from pipeline.lake.ledger import Ledger
from pipeline.lake.store import Lake
from pipeline.lake.tables import KEYS
from pipeline.reports import checks as report_checks
from pipeline.warehouse.cache import readable
from pipeline.warehouse.reader import open_warehouse
from pipeline.warehouse.views import lake_connection

SAMPLE_ROWS = report_checks.SAMPLE_ROWS
CheckFn = Callable[[duckdb.DuckDBPyConnection], tuple[bool, dict[str, Any]]]


@dataclass(frozen=True)
class Check:
    """One check: the asset it is about, what it asserts, and the function that tests it."""

    table: str
    name: str
    description: str
    run: CheckFn
    reads: tuple[str, ...] = ()
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR

    def spec(self) -> dg.AssetCheckSpec:
        return dg.AssetCheckSpec(
            self.name,
            asset=self.table,
            description=self.description,
            additional_deps=[t for t in self.reads if t != self.table],
        )


# --------------------------------------------------------------------------- SQL helpers


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _sample(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cursor = con.execute(f"{sql} limit {SAMPLE_ROWS}")
    names = [d[0] for d in cursor.description or []]
    return [{k: _plain(v) for k, v in zip(names, row, strict=True)} for row in cursor.fetchall()]


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _offenders(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[int, list[dict[str, Any]]]:
    return _scalar(con, f"select count(*) from ({sql})"), _sample(con, sql)


# --------------------------------------------------------------------------- lake checks


def _unique_key(table: str) -> CheckFn:
    keys = KEYS[table]

    def run(con: duckdb.DuckDBPyConnection) -> tuple[bool, dict[str, Any]]:
        unique, dup = report_checks.check_unique_grain(con, table, keys)
        not_null, nulls = report_checks.check_no_null_keys(con, table, keys)
        return unique and not_null, {
            "key_columns": list(keys),
            "rows": _scalar(con, f"select count(*) from {table}"),
            "duplicated_keys": dup["duplicated_keys"],
            "null_key_rows": nulls["null_key_rows"],
            "sample": dup["sample"] or nulls["sample"],
        }

    return run


def _rows_in_window(table: str) -> CheckFn:
    # A row's window_date is its Delta partition; a workflow's createdAt must fall in that day.
    condition = "window_date is null"
    if table == "workflows":
        condition += (
            " or created_at < window_date::timestamptz"
            " or created_at >= (window_date + 1)::timestamptz"
            " or created_at is null"
        )
    columns = ", ".join([*KEYS[table], "window_date"])
    if table == "workflows":
        columns += ", created_at"

    def run(con: duckdb.DuckDBPyConnection) -> tuple[bool, dict[str, Any]]:
        count, sample = _offenders(con, f"select {columns} from {table} where {condition}")
        return count == 0, {"rows_outside_window": count, "sample": sample}

    return run


def _has_parent(table: str, parent: str, key: str) -> CheckFn:
    def run(con: duckdb.DuckDBPyConnection) -> tuple[bool, dict[str, Any]]:
        count, sample = _offenders(
            con,
            f"select t.{key}, t.window_date, {', '.join(f't.{k}' for k in KEYS[table])} "
            f"from {table} t anti join {parent} p "
            f"on t.{key} = p.{key} and t.window_date = p.window_date",
        )
        return count == 0, {f"rows_without_{parent[:-1]}": count, "sample": sample}

    return run


def _all_jobs_enriched(con: duckdb.DuckDBPyConnection) -> tuple[bool, dict[str, Any]]:
    count, sample = _offenders(
        con,
        "select j.job_id, j.workflow_id, j.window_date from jobs j "
        "anti join job_details d on j.job_id = d.job_id",
    )
    not_final = _scalar(
        con, "select count(*) from job_details where found and not coalesce(is_final, false)"
    )
    return count == 0, {
        "jobs_without_details": count,
        "jobs_not_final": not_final,
        "sample": sample,
    }


def _scan_item_ranges(con: duckdb.DuckDBPyConnection) -> tuple[bool, dict[str, Any]]:
    bad_rows, sample = _offenders(
        con,
        "select job_id, score_name, item_index, score, value_text from scan_scores "
        "where item_index is null or item_index < 0 or score < 0 or score > 100 or isnan(score)",
    )
    # Item i is output i: a job's items for one key are numbered 0..n-1 with no gap.
    gaps, gap_sample = _offenders(
        con,
        "select job_id, score_name, count(*) as items, max(item_index) as max_index "
        "from scan_scores group by job_id, score_name having max(item_index) + 1 <> count(*)",
    )
    return bad_rows == 0 and gaps == 0, {
        "rows_out_of_range": bad_rows,
        "keys_with_gaps": gaps,
        "sample": sample or gap_sample,
    }


def _lake_checks() -> list[Check]:
    checks: list[Check] = []
    for table in LAKE_TABLES:
        checks.append(
            Check(
                table,
                "unique_key",
                f"No two rows share a key ({', '.join(KEYS[table])}) and no key is null.",
                _unique_key(table),
                reads=(table,),
            )
        )
        checks.append(
            Check(
                table,
                "rows_in_window",
                "Every row has its window"
                + (", and created_at is inside that UTC day." if table == "workflows" else "."),
                _rows_in_window(table),
                reads=(table,),
            )
        )
    for table in (t for t in INGEST_TABLES if t != "workflows"):
        checks.append(
            Check(
                table,
                "has_workflow",
                "Every row's workflow is in the same window of `workflows`.",
                _has_parent(table, "workflows", "workflow_id"),
                reads=(table, "workflows"),
            )
        )
    for table in ENRICH_TABLES:
        checks.append(
            Check(
                table,
                "has_job",
                "Every row's job is in the same window of `jobs`.",
                _has_parent(table, "jobs", "job_id"),
                reads=(table, "jobs"),
            )
        )
    checks.append(
        Check(
            "job_details",
            "all_jobs_enriched",
            "Every job of the window has a job_details row (a lookup that failed is retried "
            "on the next run, so this warns rather than fails).",
            _all_jobs_enriched,
            reads=("job_details", "jobs"),
            severity=dg.AssetCheckSeverity.WARN,
        )
    )
    checks.append(
        Check(
            "scan_scores",
            "item_ranges",
            "item_index is 0..n-1 without gaps per job and key, and every score is a percent "
            "within [0, 100].",
            _scan_item_ranges,
            reads=("scan_scores",),
        )
    )
    return checks


LAKE_CHECKS = _lake_checks()


def open_lake(
    settings: Settings, tables: Sequence[str], windows: Sequence[date] | None
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with one view per lake table over the files the ledger lists as
    live for the given windows (all published windows if None)."""
    lake = Lake.from_settings(settings)
    rows = [row for row in Ledger(lake).rows(windows) if row.published]
    return lake_connection(readable(settings, lake, rows, tables), rows, tables)


def _windows(context: dg.AssetCheckExecutionContext) -> list[date] | None:
    """The run's windows, or None (every window) for a run that is not partitioned."""
    if context.has_partition_key_range or context.has_partition_key:
        return [date.fromisoformat(key) for key in context.partition_keys]
    return None


def _results(
    context: dg.AssetCheckExecutionContext,
    checks: Sequence[Check],
    con: duckdb.DuckDBPyConnection,
    scope: dict[str, Any],
) -> Iterator[dg.AssetCheckResult]:
    selected = context.selected_asset_check_keys
    for check in checks:
        key = dg.AssetCheckKey(dg.AssetKey(check.table), check.name)
        if key not in selected:
            continue
        passed, details = check.run(con)
        yield dg.AssetCheckResult(
            asset_key=check.table,
            check_name=check.name,
            passed=passed,
            severity=check.severity,
            metadata={**scope, **details},
        )


def _lake_check_op(name: str, tables: Sequence[str]) -> dg.AssetChecksDefinition:
    checks = [c for c in LAKE_CHECKS if c.table in tables]
    reads = sorted({t for c in checks for t in c.reads})

    @dg.multi_asset_check(
        name=name,
        specs=[c.spec() for c in checks],
        can_subset=True,
        description=f"Integrity of the lake windows of {', '.join(tables)}.",
    )
    def lake_window_checks(
        context: dg.AssetCheckExecutionContext, data: DataDirResource
    ) -> Iterator[dg.AssetCheckResult]:
        windows = _windows(context)
        scope = {"windows": [d.isoformat() for d in windows] if windows else "all"}
        con = open_lake(data.settings(), reads, windows)
        try:
            yield from _results(context, checks, con, scope)
        finally:
            con.close()

    return lake_window_checks


ingest_checks = _lake_check_op("ingest_window_checks", INGEST_TABLES)
enrichment_checks = _lake_check_op("enrich_window_checks", ENRICH_TABLES)


# --------------------------------------------------------------------------- warehouse checks


def _matches_lake(settings: Settings) -> CheckFn:
    def run(con: duckdb.DuckDBPyConnection) -> tuple[bool, dict[str, Any]]:
        lake = open_lake(settings, LAKE_TABLES, None)
        try:
            lake_rows = {t: _scalar(lake, f"select count(*) from {t}") for t in LAKE_TABLES}
        finally:
            lake.close()
        warehouse_rows = {t: _scalar(con, f"select count(*) from {t}") for t in LAKE_TABLES}
        differ = {
            t: {"lake": lake_rows[t], "warehouse": warehouse_rows[t]}
            for t in LAKE_TABLES
            if lake_rows[t] != warehouse_rows[t]
        }
        return not differ, {"rows": warehouse_rows, "differences": differ}

    return run


def _warehouse_checks(settings: Settings) -> list[Check]:
    checks = [
        Check(
            WAREHOUSE_KEY.path[-1],
            "matches_lake",
            "Each core table holds exactly as many rows as the lake table it is loaded from.",
            _matches_lake(settings),
        )
    ]
    for model in MODELS:
        for check_name, fn in report_checks.checks_for(model).items():
            checks.append(Check(model.name, check_name, _model_check_doc(check_name), fn))
        if model.name == "rpt_flagged_jobs":
            checks.append(
                Check(
                    model.name,
                    "flagged_jobs_over_threshold",
                    "Every listed job's highest CSAM score is at or above the threshold the "
                    "warehouse was built with, and no such job is missing.",
                    lambda con: report_checks.check_flagged_jobs_over_threshold(con),
                    reads=("fct_jobs",),
                )
            )
    return checks


def _model_check_doc(name: str) -> str:
    return {
        "no_null_keys": "No row has a null in its grain columns.",
        "unique_grain": "Each combination of the grain columns appears once.",
        "ratios_in_unit_interval": "Every *_ratio column is null or within [0, 1].",
        "percents_in_range": "Every *_pct column (each item of a list) is null or within [0, 100].",
    }.get(name, name.replace("_", " "))


# The specs are fixed at load time; the functions need the run's data dir, hence the factory.
_WAREHOUSE_SPECS = [c.spec() for c in _warehouse_checks(Settings())]


@dg.multi_asset_check(
    name="warehouse_checks",
    specs=_WAREHOUSE_SPECS,
    can_subset=True,
    description="Integrity of the published warehouse: core tables match the lake; every SQL "
    "model has non-null, unique grain, ratios in [0, 1] and percents in [0, 100]; flagged jobs "
    "match the threshold.",
)
def warehouse_checks(
    context: dg.AssetCheckExecutionContext, data: DataDirResource
) -> Iterator[dg.AssetCheckResult]:
    settings = data.settings()
    con = open_warehouse(settings.warehouse_path)
    try:
        yield from _results(context, _warehouse_checks(settings), con, {})
    finally:
        con.close()


ALL_CHECKS = [ingest_checks, enrichment_checks, warehouse_checks]
