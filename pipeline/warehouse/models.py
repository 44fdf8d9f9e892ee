"""SQL models: discover the files under `sql/`, order them by the tables they read, build them.

One model per file, named after the table it creates: `sql/<layer>/<name>.sql` holds one
`select` (lowercase, import CTEs first, ending with a `final` CTE) under a small header:

    -- purpose: one line saying what the table is for
    -- grain: the columns that identify one row, comma-separated
    -- materialized: view | incremental | table   (optional)

How a model is kept (`view`, `incremental`, `table`) and building models into a warehouse
live in `build.py`.

Dependencies are not listed by hand. DuckDB's own parser (`json_serialize_sql`) turns each file
into a syntax tree, and every base table it reads (CTE names excluded) is a dependency: either
another model or a core table of the warehouse. Run-time parameters (the CSAM threshold) reach
the SQL as DuckDB variables read with `getvariable('name')`, so changing one never means
editing a file; their defaults are `build.DEFAULT_PARAMS`.
"""

from __future__ import annotations

import graphlib
import importlib.resources
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.core import duck
from pipeline.core.errors import ModelGraphError
from pipeline.lake import tables
from pipeline.warehouse.sql_parse import display_path, parse_file

# The repo's top-level sql/ folder, installed inside the package as `pipeline.sql`.
SQL_DIR = Path(str(importlib.resources.files("pipeline.sql")))
LAYERS = ("staging", "intermediate", "marts", "reports")
# sql/core/<table>.sql: how a core table is presented in the warehouse when it is more than
# its lake table (read by the publish, not a model).
CORE_LAYER = "core"
CORE_TABLES = (*tables.SCHEMAS, "sync_windows")
# The warehouse's own record of what was built, with which parameters (read by the reports).
CATALOG_TABLE = "sql_models"


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
