"""Building SQL models into a warehouse, upstream first, in one transaction, and the
warehouse's catalog of what was built (`sql_models`).

How a model is kept: a `view` is computed when it is read (staging, marts, whole-history
reports: nothing is copied); an `incremental` model (the default when the grain starts with
`day` or `window_date`) is a table whose rows of the days that changed are recomputed at each
publish, so a nightly run costs the changed days, not the history; a `table` is rebuilt whole.
An incremental model is rebuilt whole when its SQL, its parameters or its kind changed.
Run-time parameters reach the SQL as DuckDB variables (`getvariable('name')`).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import duckdb

from pipeline.api.vocabulary import sql_macros
from pipeline.core import settings
from pipeline.core.errors import ModelBuildError
from pipeline.warehouse.models import (
    CATALOG_TABLE,
    SQL_DIR,
    SqlModel,
    discover_models,
    toposort,
)
from pipeline.warehouse.sql_parse import NAME

# What each column of the catalog says (see pipeline.flatten.schemas for the format).
CATALOG_COLUMNS = {
    "name": "The model's table name (its file's stem).",
    "layer": "The folder under sql/ (staging, intermediate, marts, reports).",
    "path": "The model's file, e.g. sql/marts/fct_jobs.sql.",
    "description": "The `-- purpose:` line of the file.",
    "grain": "The `-- grain:` columns, which identify one row.",
    "deps": "Every table the SQL reads (models and core tables).",
    "params_json": "The parameters the model was built with, as JSON text (`{}`: none).",
    "sql": "The SQL the model was built from, header included.",
    "row_count": "Rows after the build. NULL: a view (counting would read the lake).",
    "seconds": "How long the build took. [seconds]",
    "built_at": "When the model was last built or refreshed (UTC).",
    "materialized": "How it is kept: view, incremental (a table whose changed days are "
    "recomputed at each publish) or table (rebuilt whole).",
    "state": "A hash of what the build depends on besides the data (SQL, parameters, kind): "
    "a model whose state changed is rebuilt whole.",
}
TOP_USERS_PER_DAY = 10
DEFAULT_PARAMS: Mapping[str, object] = {
    "csam_threshold": settings.DEFAULT_CSAM_THRESHOLD,
    "top_users": TOP_USERS_PER_DAY,
}


@dataclass(frozen=True)
class ModelResult:
    """What building one model produced."""

    name: str
    layer: str
    rows: int | None  # None for a view (counting would read the whole lake)
    seconds: float
    days: int | None = None  # days recomputed; None when built whole


def resolve_params(params: Mapping[str, object] | None = None) -> dict[str, object]:
    """The defaults overlaid with `params`; None values fall back to the default."""
    merged = dict(DEFAULT_PARAMS)
    merged.update({k: v for k, v in (params or {}).items() if v is not None})
    return merged


def set_params(con: duckdb.DuckDBPyConnection, params: Mapping[str, object]) -> None:
    """Bind each parameter as a DuckDB variable on this connection (`getvariable('name')`)."""
    for name, value in params.items():
        if not NAME.match(name):
            raise ModelBuildError(f"Invalid SQL model parameter name {name!r}: use snake_case.")
        con.execute(f"set variable {name} = ?", [value])


def build_models(
    con: duckdb.DuckDBPyConnection,
    models: Sequence[SqlModel] | None = None,
    params: Mapping[str, object] | None = None,
    *,
    changed_days: Sequence[date] | None = None,
) -> list[ModelResult]:
    """Create or refresh each model, upstream first, in one transaction.

    Args:
        con: a writable connection to the warehouse being published (core views in place).
        models: the models to build; all of `sql/` when None. Models they read that are not in
            the list must already exist.
        params: SQL parameters, overlaid on DEFAULT_PARAMS (e.g. {"csam_threshold": 40}).
        changed_days: the days whose lake data changed since the warehouse was last published:
            incremental models recompute only these days' rows. None rebuilds everything.

    Returns:
        One ModelResult per model, in build order.

    Raises:
        ModelBuildError: a model failed; the message names its file and DuckDB's error. Nothing
            of this call is kept: every change made before the failure is rolled back.
    """
    ordered = discover_models() if models is None else toposort(models)
    bound = resolve_params(params)
    for model in ordered:
        missing = [p for p in model.params if p not in bound]
        if missing:
            raise ModelBuildError(
                f"{model.display_path} reads getvariable({missing[0]!r}) but no such parameter "
                f"exists (known: {', '.join(sorted(bound))}).",
                model=model.name,
                path=str(model.path),
            )
    set_params(con, bound)
    results: list[ModelResult] = []
    con.begin()
    try:
        ensure_catalog(con)
        create_macros(con)
        previous = _catalog_state(con)
        for model in ordered:
            used = {p: bound[p] for p in model.params}
            state = _state(model, used)
            unchanged = previous.get(model.name) == state
            if unchanged and model.materialized == "view" and _relation_kind(con, model.name):
                # A view reads its inputs by name when it is queried: same SQL, nothing to do.
                results.append(ModelResult(model.name, model.layer, None, 0.0))
                continue
            days = changed_days if unchanged else None
            results.append(_build_one(con, model, used, state, days))
    except BaseException:
        con.rollback()
        raise
    con.commit()
    return results


def _state(model: SqlModel, used: Mapping[str, object]) -> str:
    """What a built model depends on besides the data: its SQL, parameters and kind."""
    text = json.dumps([model.sql, model.materialized, used], sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()


def _catalog_state(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    rows = con.execute(f"select name, state from {CATALOG_TABLE}").fetchall()
    return {name: state for name, state in rows if state}


def _relation_kind(con: duckdb.DuckDBPyConnection, name: str) -> str | None:
    row = con.execute(
        "select table_type from information_schema.tables "
        "where table_schema = 'main' and table_name = ?",
        [name],
    ).fetchone()
    if row is None:
        return None
    return "view" if row[0] == "VIEW" else "table"


def _day_column(con: duckdb.DuckDBPyConnection, model: SqlModel) -> str:
    columns = {row[0] for row in con.execute(f"describe {model.name}").fetchall()}
    for candidate in ("day", "window_date"):
        if candidate in columns:
            return candidate
    raise ModelBuildError(
        f"{model.display_path} is incremental but has no `day` or `window_date` column to "
        "recompute by; add one or declare `-- materialized: view`.",
        model=model.name,
        path=str(model.path),
    )


def _materialize(
    con: duckdb.DuckDBPyConnection, model: SqlModel, days: Sequence[date] | None
) -> int | None:
    """Build or refresh one model; its row count (None for a view)."""
    kind = "view" if model.materialized == "view" else "table"
    existing = _relation_kind(con, model.name)
    if existing is not None and existing != kind:
        con.execute(f"drop {existing} {model.name}")
        existing = None
    if kind == "view":
        con.execute(f"create or replace view {model.name} as\n{model.sql}")
        return None
    if model.materialized == "table" or existing is None or days is None:
        con.execute(f"create or replace table {model.name} as\n{model.sql}")
    elif days:
        column = _day_column(con, model)
        # Restricting the core views to the changed days keeps the recompute to their files;
        # the outer filter keeps only those days' rows whatever the model reads.
        con.execute("set variable civitai_sync_days = ?::DATE[]", [sorted(days)])
        try:
            con.execute(
                f"delete from {model.name} where {column} in (select unnest(?::DATE[]))",
                [sorted(days)],
            )
            con.execute(
                f"insert into {model.name} select * from (\n{model.sql}\n) "
                f"where {column} in (select unnest(?::DATE[]))",
                [sorted(days)],
            )
        finally:
            con.execute("reset variable civitai_sync_days")
    row = con.execute(f"select count(*) from {model.name}").fetchone()
    return int(row[0]) if row else 0


def _build_one(
    con: duckdb.DuckDBPyConnection,
    model: SqlModel,
    used: Mapping[str, object],
    state: str,
    days: Sequence[date] | None,
) -> ModelResult:
    started = time.perf_counter()
    try:
        rows = _materialize(con, model, days)
    except duckdb.OutOfMemoryException as exc:
        raise ModelBuildError(
            f"SQL model {model.display_path} ran out of DuckDB's memory budget: {exc}. The "
            "published warehouse was not changed. Give it more with CIVITAI_SYNC_WAREHOUSE_MEMORY "
            "(e.g. 8GB) where the machine has the memory, and run again.",
            model=model.name,
            path=str(model.path),
        ) from exc
    except duckdb.Error as exc:
        raise ModelBuildError(
            f"SQL model {model.display_path} failed to build: {exc}. Fix the SQL in that file "
            "and run again.",
            model=model.name,
            path=str(model.path),
        ) from exc
    seconds = time.perf_counter() - started
    con.execute(f"delete from {CATALOG_TABLE} where name = ?", [model.name])
    con.execute(
        f"insert into {CATALOG_TABLE} values "
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, current_timestamp, ?, ?)",
        [
            model.name,
            model.layer,
            model.display_path,
            model.description,
            list(model.grain),
            list(model.deps),
            json.dumps(used, sort_keys=True),
            model.sql,
            rows,
            seconds,
            model.materialized,
            state,
        ],
    )
    incremental = model.materialized == "incremental" and days is not None
    return ModelResult(
        name=model.name,
        layer=model.layer,
        rows=rows,
        seconds=seconds,
        days=len(days) if incremental and days is not None else None,
    )


def built_models(con: duckdb.DuckDBPyConnection) -> list[SqlModel]:
    """The models as they were built into this warehouse (from its catalog), in build order.

    Recomputing from here reruns exactly the SQL the tables were made with, even when the files
    in `sql/` have changed since. Empty when the warehouse was built without models.
    """
    try:
        rows = con.execute(
            f"select name, layer, path, description, grain, deps, params_json, sql, "
            f"coalesce(materialized, 'table') from {CATALOG_TABLE}"
        ).fetchall()
    except duckdb.CatalogException:
        return []
    names = {row[0] for row in rows}
    models = [
        SqlModel(
            name=name,
            path=SQL_DIR.parent / path,
            layer=layer,
            sql=sql,
            description=description,
            grain=tuple(grain),
            deps=tuple(deps),
            model_deps=tuple(d for d in deps if d in names),
            source_deps=tuple(d for d in deps if d not in names),
            params=tuple(sorted(json.loads(params_json or "{}"))),
            materialized=materialized,
        )
        for name, layer, path, description, grain, deps, params_json, sql, materialized in rows
    ]
    return toposort(models)


def create_macros(con: duckdb.DuckDBPyConnection) -> None:
    """The API's rules the models share, as macros stored in the warehouse (analysts can call
    them too): `is_final_status(status)`, `signed_buzz(txn_type, amount)`."""
    for statement in sql_macros():
        con.execute(statement)


def ensure_catalog(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        f"""
        create table if not exists {CATALOG_TABLE} (
            name varchar primary key,
            layer varchar,
            path varchar,
            description varchar,
            grain varchar[],
            deps varchar[],
            params_json varchar,
            sql varchar,
            row_count bigint,
            seconds double,
            built_at timestamp with time zone,
            materialized varchar,
            state varchar
        )
        """
    )
