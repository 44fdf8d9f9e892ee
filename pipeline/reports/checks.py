"""Data-quality checks on the built SQL models, as plain functions.

Each check returns `(passed, details)`: `details` is a small JSON-able dict saying what was looked
at and, on failure, a few offending rows, so the same function serves a Dagster asset check, a
test and a human at a DuckDB prompt.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import duckdb

from pipeline.reports.report import built_params
from pipeline.warehouse.models import SqlModel

CheckResult = tuple[bool, dict[str, Any]]
SAMPLE_ROWS = 5


def check_no_null_keys(
    con: duckdb.DuckDBPyConnection, table: str, key_columns: Sequence[str]
) -> CheckResult:
    """No row of `table` has a null in any of its key (grain) columns."""
    condition = " or ".join(f"{c} is null" for c in key_columns)
    count, sample = _offenders(con, table, condition, key_columns)
    return count == 0, {
        "table": table,
        "key_columns": list(key_columns),
        "null_key_rows": count,
        "sample": sample,
    }


def check_unique_grain(
    con: duckdb.DuckDBPyConnection, table: str, key_columns: Sequence[str]
) -> CheckResult:
    """Each combination of the key (grain) columns appears at most once."""
    keys = ", ".join(key_columns)
    duplicated = f"select {keys}, count(*) as copies from {table} group by all having count(*) > 1"
    count = _scalar(con, f"select count(*) from ({duplicated})")
    sample = _records(con, f"{duplicated} order by copies desc limit {SAMPLE_ROWS}")
    return count == 0, {
        "table": table,
        "key_columns": list(key_columns),
        "duplicated_keys": count,
        "sample": sample,
    }


def check_ratios_in_unit_interval(
    con: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str] | None = None
) -> CheckResult:
    """Every ratio (by default each column named `*_ratio`) is null or within [0, 1]."""
    return _check_range(con, table, "_ratio", 1.0, columns)


def check_percents_in_range(
    con: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str] | None = None
) -> CheckResult:
    """Every percent (by default each column named `*_pct`) is null or within [0, 100]."""
    return _check_range(con, table, "_pct", 100.0, columns)


def _check_range(
    con: duckdb.DuckDBPyConnection,
    table: str,
    suffix: str,
    top: float,
    columns: Sequence[str] | None,
) -> CheckResult:
    """Each value of `columns` (every `*<suffix>` column by default; a list column item by
    item) is null or within [0, top]."""
    types = dict(_column_types(con, table))
    if columns is None:
        columns = [c for c in types if c.endswith(suffix)]
    conditions = []
    for column in columns:
        if types.get(column, "").endswith("[]"):
            conditions.append(f"(list_min({column}) < 0 or list_max({column}) > {top!r})")
        else:
            conditions.append(f"({column} < 0 or {column} > {top!r})")
    count, sample = _offenders(con, table, " or ".join(conditions), None) if columns else (0, [])
    return count == 0, {
        "table": table,
        "columns": list(columns),
        "range": [0.0, top],
        "out_of_range_rows": count,
        "sample": sample,
    }


def check_flagged_jobs_over_threshold(
    con: duckdb.DuckDBPyConnection,
    threshold: float | None = None,
    table: str = "rpt_flagged_jobs",
) -> CheckResult:
    """Every flagged job's highest CSAM score is at or above the threshold, and none is missing.

    Both directions: no row below the threshold, and every job of fct_jobs at or above it is
    listed (so a broken join cannot silently hide a job from moderators). The threshold defaults
    to the one the warehouse's models were built with.
    """
    if threshold is None:
        threshold = float(str(built_params(con)["csam_threshold"]))
    below, sample = _offenders(
        con,
        table,
        f"csam_score_max_pct is null or csam_score_max_pct < {float(threshold)!r}",
        ("job_id", "csam_score_max_pct"),
    )
    missing_sql = (
        "select job_id, csam_score_max_pct from fct_jobs "
        f"where csam_score_max_pct >= {float(threshold)!r} "
        f"and job_id not in (select job_id from {table})"
    )
    missing = _scalar(con, f"select count(*) from ({missing_sql})")
    return below == 0 and missing == 0, {
        "table": table,
        "threshold": float(threshold),
        "below_threshold_rows": below,
        "missing_flagged_jobs": missing,
        "sample": sample or _records(con, f"{missing_sql} limit {SAMPLE_ROWS}"),
    }


def checks_for(model: SqlModel) -> dict[str, Callable[[duckdb.DuckDBPyConnection], CheckResult]]:
    """The checks every model gets, by name: key columns not null, grain unique, ratios in
    [0, 1], percents in [0, 100]."""
    checks: dict[str, Callable[[duckdb.DuckDBPyConnection], CheckResult]] = {
        "no_null_keys": lambda con: check_no_null_keys(con, model.name, model.grain),
        "unique_grain": lambda con: check_unique_grain(con, model.name, model.grain),
        "ratios_in_unit_interval": lambda con: check_ratios_in_unit_interval(con, model.name),
        "percents_in_range": lambda con: check_percents_in_range(con, model.name),
    }
    return checks


def _offenders(
    con: duckdb.DuckDBPyConnection, table: str, condition: str, columns: Sequence[str] | None
) -> tuple[int, list[dict[str, Any]]]:
    selected = ", ".join(columns) if columns else "*"
    count = _scalar(con, f"select count(*) from {table} where {condition}")
    sample = _records(con, f"select {selected} from {table} where {condition} limit {SAMPLE_ROWS}")
    return count, sample


def _column_types(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    return [(row[0], row[1]) for row in con.execute(f"describe {table}").fetchall()]


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0


def _records(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description or []]
    return [{k: _plain(v) for k, v in zip(names, row, strict=True)} for row in cursor.fetchall()]


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
