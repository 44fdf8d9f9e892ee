"""SQL models: discover the files under `sql/`, order them by the tables they read, build them.

One model per file, named after the table it creates: `sql/<layer>/<name>.sql` holds one
`select` (lowercase, import CTEs first, ending with a `final` CTE) under a small header:

    -- purpose: one line saying what the table is for
    -- grain: the columns that identify one row, comma-separated

Dependencies are not listed by hand. DuckDB's own parser (`json_serialize_sql`) turns each file
into a syntax tree, and every base table it reads (CTE names excluded) is a dependency: either
another model or a core table of the warehouse. Run-time parameters (the CSAM threshold) reach
the SQL as DuckDB variables read with `getvariable('name')`, so changing one never means
editing a file.
"""

from __future__ import annotations

import importlib.resources
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipeline.core import settings
from pipeline.core.errors import ModelBuildError, ModelGraphError
from pipeline.lake import tables
from pipeline.warehouse.sql_parse import NAME, display_path, parse_file

# The repo's top-level sql/ folder, installed inside the package as `pipeline.sql`.
SQL_DIR = Path(str(importlib.resources.files("pipeline.sql")))
LAYERS = ("staging", "intermediate", "marts", "reports")
CORE_TABLES = (*tables.SCHEMAS, "sync_windows")
# The warehouse's own record of what was built, with which parameters (read by the reports).
CATALOG_TABLE = "sql_models"
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

    @property
    def display_path(self) -> str:
        """The path as a user knows it: `sql/marts/fct_jobs.sql`."""
        return display_path(self.path)


@dataclass(frozen=True)
class ModelResult:
    """What building one model produced."""

    name: str
    layer: str
    rows: int
    seconds: float


def discover_models(sql_dir: Path | None = None) -> list[SqlModel]:
    """Parse every `*.sql` under `sql_dir` (default: the repo's `sql/`) in build order.

    Raises:
        ModelBuildError: a file is not one parseable select, or its header is missing.
        ModelGraphError: a model reads a table that is neither a model nor a core table, or the
            models depend on each other in a cycle.
    """
    reserved = {*CORE_TABLES, CATALOG_TABLE}
    con = duckdb.connect()
    try:
        parsed = [
            parse_file(con, path, reserved)
            for path in sorted(Path(sql_dir or SQL_DIR).glob("*/*.sql"))
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
            )
        )
    return toposort(models)


def toposort(models: Sequence[SqlModel]) -> list[SqlModel]:
    """Order models so that each comes after the models it reads; ties by layer, then name.

    Dependencies on models outside `models` are taken as already built.

    Raises:
        ModelGraphError: the models depend on each other in a cycle (named in the message).
    """
    by_name = {m.name: m for m in models}
    layer_rank = {layer: i for i, layer in enumerate(LAYERS)}

    def key(m: SqlModel) -> tuple[int, str]:
        return (layer_rank.get(m.layer, len(LAYERS)), m.name)

    waiting = {m.name: {d for d in m.model_deps if d in by_name} for m in models}
    ordered: list[SqlModel] = []
    while waiting:
        ready = sorted((by_name[n] for n, deps in waiting.items() if not deps), key=key)
        if not ready:
            cycle = _find_cycle(waiting)
            raise ModelGraphError(
                "SQL models depend on each other in a cycle: "
                + " -> ".join(by_name[n].display_path for n in cycle)
                + ". Break it by reading from a lower layer.",
                model=cycle[0],
                path=str(by_name[cycle[0]].path),
            )
        for model in ready:
            ordered.append(model)
            del waiting[model.name]
        for deps in waiting.values():
            deps.difference_update(m.name for m in ready)
    return ordered


def _find_cycle(waiting: Mapping[str, set[str]]) -> list[str]:
    """A cycle among models that all still wait on each other, as a closed path (a -> b -> a)."""
    start = min(waiting)
    path = [start]
    while True:
        step = min(waiting[path[-1]])
        if step in path:
            return [*path[path.index(step) :], step]
        path.append(step)


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
) -> list[ModelResult]:
    """Create or replace each model's table, upstream first, in one transaction.

    Args:
        con: a writable connection to the warehouse being built (core tables already loaded).
        models: the models to build; all of `sql/` when None. Models they read that are not in
            the list must already exist.
        params: SQL parameters, overlaid on DEFAULT_PARAMS (e.g. {"csam_threshold": 40}).

    Returns:
        One ModelResult per model, in build order.

    Raises:
        ModelBuildError: a model failed; the message names its file and DuckDB's error. Nothing
            of this call is kept: every table built before the failure is rolled back.
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
        _ensure_catalog(con)
        for model in ordered:
            results.append(_build_one(con, model, bound))
    except BaseException:
        con.rollback()
        raise
    con.commit()
    return results


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
            f"select name, layer, path, description, grain, deps, params_json, sql "
            f"from {CATALOG_TABLE}"
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
        )
        for name, layer, path, description, grain, deps, params_json, sql in rows
    ]
    return toposort(models)


def _build_one(
    con: duckdb.DuckDBPyConnection, model: SqlModel, params: Mapping[str, object]
) -> ModelResult:
    started = time.perf_counter()
    try:
        con.execute(f"create or replace table {model.name} as\n{model.sql}")
        row = con.execute(f"select count(*) from {model.name}").fetchone()
    except duckdb.OutOfMemoryException as exc:
        raise ModelBuildError(
            f"SQL model {model.display_path} ran out of DuckDB's memory budget: {exc}. The "
            "published warehouse was not changed. Raise WAREHOUSE_MEMORY_LIMIT in "
            "pipeline/warehouse.py where the machine has the memory.",
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
    rows = int(row[0]) if row else 0
    seconds = time.perf_counter() - started
    used = {p: params[p] for p in model.params}
    con.execute(f"delete from {CATALOG_TABLE} where name = ?", [model.name])
    con.execute(
        f"insert into {CATALOG_TABLE} values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, current_timestamp)",
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
        ],
    )
    return ModelResult(name=model.name, layer=model.layer, rows=rows, seconds=seconds)


def _ensure_catalog(con: duckdb.DuckDBPyConnection) -> None:
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
            built_at timestamp with time zone
        )
        """
    )
