"""SQL models: discover the files under `sql/`, order them by the tables they read, build them.

One model per file, named after the table it creates: `sql/<layer>/<name>.sql` holds one
`select` (lowercase, import CTEs first, ending with a `final` CTE) under a small header:

    -- purpose: one line saying what the table is for
    -- grain: the columns that identify one row, comma-separated
    -- materialized: view | incremental | table   (optional)

How a model is kept: a `view` is computed when it is read (staging, marts, whole-history
reports: nothing is copied); an `incremental` model (the default when the grain starts with
`day` or `window_date`) is a table whose rows of the days that changed are recomputed at each
publish, so a nightly run costs the changed days, not the history; a `table` is rebuilt whole.
An incremental model is rebuilt whole when its SQL, its parameters or its kind changed.

Dependencies are not listed by hand. DuckDB's own parser (`json_serialize_sql`) turns each file
into a syntax tree, and every base table it reads (CTE names excluded) is a dependency: either
another model or a core table of the warehouse. Run-time parameters (the CSAM threshold) reach
the SQL as DuckDB variables read with `getvariable('name')`, so changing one never means
editing a file.
"""

from __future__ import annotations

import graphlib
import hashlib
import importlib.resources
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from pipeline.core import duck, settings
from pipeline.core.errors import ModelBuildError, ModelGraphError
from pipeline.lake import tables
from pipeline.warehouse.sql_parse import NAME, display_path, parse_file

# The repo's top-level sql/ folder, installed inside the package as `pipeline.sql`.
SQL_DIR = Path(str(importlib.resources.files("pipeline.sql")))
LAYERS = ("staging", "intermediate", "marts", "reports")
# sql/core/<table>.sql: how a core table is presented in the warehouse when it is more than
# its lake table (read by the publish, not a model).
CORE_LAYER = "core"
CORE_TABLES = (*tables.SCHEMAS, "sync_windows")
# The warehouse's own record of what was built, with which parameters (read by the reports).
CATALOG_TABLE = "sql_models"
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
class SqlModel:
    """One SQL file: the table it builds and what it reads.

    Attributes:
        name: the table name (the file's stem).
        path: the file.
        layer: the folder under `sql/` (staging, intermediate, marts, reports).
        sql: the select statement, as written.
        description: the `-- purpose:` line.
        grain: the `-- grain:` columns, which identify one row.
        deps: every table the SQL reads, sorted (models and core tables).
        model_deps: the deps that are other models.
        source_deps: the deps that are core tables.
        params: the variables the SQL reads with getvariable(), sorted.
        notes: the other comment lines of the header (definitions, caveats), joined.
    """

    name: str
    path: Path
    layer: str
    sql: str
    description: str
    grain: tuple[str, ...]
    deps: tuple[str, ...]
    model_deps: tuple[str, ...]
    source_deps: tuple[str, ...]
    params: tuple[str, ...]
    notes: str = ""
    materialized: str = "view"

    @property
    def display_path(self) -> str:
        """The path as a user knows it: `sql/marts/fct_jobs.sql`."""
        return display_path(self.path)


@dataclass(frozen=True)
class ModelResult:
    """What building one model produced."""

    name: str
    layer: str
    rows: int | None  # None for a view (counting would read the whole lake)
    seconds: float
    days: int | None = None  # days recomputed; None when built whole


def discover_models(sql_dir: Path | None = None) -> list[SqlModel]:
    """Parse every `*.sql` under `sql_dir` (default: the repo's `sql/`) in build order.

    Raises:
        ModelBuildError: a file is not one parseable select, or its header is missing.
        ModelGraphError: a model reads a table that is neither a model nor a core table, or the
            models depend on each other in a cycle.
    """
    reserved = {*CORE_TABLES, CATALOG_TABLE}
    con = duck.connect()
    try:
        parsed = [
            parse_file(con, path, reserved)
            for path in sorted(Path(sql_dir or SQL_DIR).glob("*/*.sql"))
            if path.parent.name != CORE_LAYER
        ]
    finally:
        con.close()
    names: dict[str, Path] = {}
    for item in parsed:
        if item.name in names:
            raise ModelGraphError(
                f"Two SQL models are named {item.name!r}: {names[item.name]} and {item.path}. "
                "Rename one file.",
                model=item.name,
                path=str(item.path),
            )
        names[item.name] = item.path
    models = []
    for item in parsed:
        unknown = sorted(t for t in item.tables if t not in names and t not in CORE_TABLES)
        if unknown:
            raise ModelGraphError(
                f"{display_path(item.path)} reads {', '.join(map(repr, unknown))}, which is "
                f"neither a model in sql/ nor a core table ({', '.join(CORE_TABLES)}). "
                "Fix the table name.",
                model=item.name,
                path=str(item.path),
            )
        models.append(
            SqlModel(
                name=item.name,
                path=item.path,
                layer=item.layer,
                sql=item.sql,
                description=item.description,
                grain=item.grain,
                deps=tuple(sorted(item.tables)),
                model_deps=tuple(sorted(t for t in item.tables if t in names)),
                source_deps=tuple(sorted(t for t in item.tables if t in CORE_TABLES)),
                params=item.params,
                notes=item.notes,
                materialized=item.materialized,
            )
        )
    return toposort(models)


def core_view_sql(table: str) -> str:
    """The SELECT of core table `table` in the warehouse: sql/core/<table>.sql when the table is
    presented as more than its lake table, else the lake table itself."""
    definition = SQL_DIR / CORE_LAYER / f"{table}.sql"
    if definition.is_file():
        return definition.read_text(encoding="utf-8").strip().rstrip(";")
    return f'SELECT * FROM lake."{table}"'


def toposort(models: Sequence[SqlModel]) -> list[SqlModel]:
    """Order models so that each comes after the models it reads; ties by layer, then name.

    Dependencies on models outside `models` are taken as already built.

    Raises:
        ModelGraphError: the models depend on each other in a cycle (named in the message).
    """
    by_name = {m.name: m for m in models}
    layer_rank = {layer: i for i, layer in enumerate(LAYERS)}
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter(
        {m.name: {d for d in m.model_deps if d in by_name} for m in models}
    )
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        cycle = list(reversed(exc.args[1]))
        raise ModelGraphError(
            "SQL models depend on each other in a cycle: "
            + " -> ".join(by_name[n].display_path for n in cycle)
            + ". Break it by reading from a lower layer.",
            model=cycle[0],
            path=str(by_name[cycle[0]].path),
        ) from None
    ordered: list[SqlModel] = []
    while sorter.is_active():
        ready = sorted(
            (by_name[n] for n in sorter.get_ready()),
            key=lambda m: (layer_rank.get(m.layer, len(LAYERS)), m.name),
        )
        ordered.extend(ready)
        sorter.done(*(m.name for m in ready))
    return ordered


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
            "published warehouse was not changed. Raise WAREHOUSE_MEMORY_LIMIT in "
            "pipeline/warehouse/publish.py where the machine has the memory.",
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


def models_using(models: Iterable[SqlModel], param: str) -> set[str]:
    """Names of the models whose result depends on `param`, directly or through another model."""
    models = list(models)
    using = {m.name for m in models if param in m.params}
    changed = True
    while changed:
        changed = False
        for m in models:
            if m.name not in using and using.intersection(m.model_deps):
                using.add(m.name)
                changed = True
    return using


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
