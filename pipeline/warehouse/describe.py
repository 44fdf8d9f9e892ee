"""What every table and column of the warehouse holds, written once and published everywhere.

Where the words are written:

* the lake tables (`lake.<table>`): beside their Arrow schemas (`pipeline.lake.tables.COLUMNS`);
* `sync_windows`: beside its schema (`pipeline.warehouse.views.SYNC_WINDOWS_COLUMNS`);
* the core tables analysts read (`main.<table>`) and the SQL models: the `-- columns:` block of
  their SQL file (sql/core/<table>.sql, sql/<layer>/<model>.sql). A column the file does not
  describe but passes through unchanged from a table it reads (`pipeline.warehouse.lineage`)
  has that column's description;
* `sql_models`: `pipeline.warehouse.build.CATALOG_COLUMNS`.

A description ends with its unit in brackets when the value has one (`... [seconds]`). The
publish writes every description as a DuckDB comment (`COMMENT ON`, shown by
`duckdb_columns()` and `duckdb_tables()`/`duckdb_views()`); the Dagster assets show them as
column schemas and docs/data-dictionary.md lists them, all from `document`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import duckdb

from pipeline.core import duck
from pipeline.lake import tables
from pipeline.warehouse import build, lineage, models, views
from pipeline.warehouse.sql_parse import read_header

LAKE_SCHEMA = "lake"
_UNIT = re.compile(r"^(.*?)\s*\[([^\[\]]+)\]$", re.DOTALL)

CORE_DESCRIPTIONS = {
    **tables.DESCRIPTIONS,
    "sync_windows": "The sync ledger: one row per UTC day window with its status, counts, "
    "durations, errors and the lake table versions it published.",
}


@dataclass(frozen=True)
class ColumnDoc:
    name: str
    type: str
    description: str  # without the unit
    unit: str | None = None

    @property
    def text(self) -> str:
        """The description with its unit, as published."""
        return f"{self.description} [{self.unit}]" if self.unit else self.description


@dataclass(frozen=True)
class TableDoc:
    """One relation of the warehouse and its columns, in DESCRIBE order.

    `missing` lists columns nothing describes; `unknown` lists described names that are not
    columns (a description left behind by a rename). Both empty for a well-described table.
    """

    name: str  # as an analyst types it: `fct_jobs`, `jobs`, `lake.jobs`
    kind: str  # lake, core, model, metadata
    description: str
    columns: tuple[ColumnDoc, ...]
    missing: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()

    def column(self, name: str) -> ColumnDoc | None:
        return next((c for c in self.columns if c.name == name), None)


def split_unit(text: str) -> tuple[str, str | None]:
    """`"How long it took. [seconds]"` -> ("How long it took.", "seconds")."""
    match = _UNIT.match(text.strip())
    if match is None:
        return text.strip(), None
    return match.group(1), match.group(2).strip()


def lake_doc(table: str) -> TableDoc:
    """The documentation of a lake table from its Arrow schema alone (no DuckDB needed)."""
    schema = tables.schema_for(table)
    described = [(f.name, views.duckdb_type(f.type)) for f in schema]
    return _table_doc(
        f"{LAKE_SCHEMA}.{table}", "lake", tables.DESCRIPTIONS[table], described,
        tables.COLUMNS[table],
    )  # fmt: skip


@dataclass
class _Catalog:
    """The relations on a connection, read once: their kind, columns and current comments."""

    kinds: dict[str, str]  # `lake.jobs` / `fct_jobs` -> TABLE or VIEW
    comments: dict[str, str | None]
    columns: dict[str, list[tuple[str, str, str | None]]]  # name, type, comment

    @classmethod
    def read(cls, con: duckdb.DuckDBPyConnection) -> _Catalog:
        kinds: dict[str, str] = {}
        comments: dict[str, str | None] = {}
        for schema, name, kind, comment in con.execute(
            "select schema_name, table_name, 'TABLE', comment from duckdb_tables() "
            "where database_name = current_database() union all "
            "select schema_name, view_name, 'VIEW', comment from duckdb_views() "
            "where not internal and database_name = current_database()"
        ).fetchall():
            kinds[_relation(schema, name)] = kind
            comments[_relation(schema, name)] = comment
        columns: dict[str, list[tuple[str, str, str | None]]] = {}
        for schema, name, column, type_, comment in con.execute(
            "select schema_name, table_name, column_name, data_type, comment "
            "from duckdb_columns() where not internal and database_name = current_database() "
            "order by schema_name, table_name, column_index"
        ).fetchall():
            columns.setdefault(_relation(schema, name), []).append((column, type_, comment))
        return cls(kinds, comments, columns)

    def described(self, relation: str) -> list[tuple[str, str]]:
        return [(name, type_) for name, type_, _ in self.columns.get(relation, [])]


def _relation(schema: str, name: str) -> str:
    return name if schema == "main" else f"{schema}.{name}"


def _quoted(name: str) -> str:
    return ".".join(views.ident(part) for part in name.split("."))


def _table_doc(
    name: str,
    kind: str,
    description: str,
    described: Sequence[tuple[str, str]],
    written: Mapping[str, str],
    inherited: Mapping[str, str] | None = None,
) -> TableDoc:
    """A TableDoc of a relation with `described` columns: each column's own (`written`)
    description, else the one it passes through (`inherited`)."""
    columns: list[ColumnDoc] = []
    missing: list[str] = []
    names = {column for column, _ in described}
    for column, type_ in described:
        text = written.get(column) or (inherited or {}).get(column) or ""
        if not text:
            missing.append(column)
        columns.append(ColumnDoc(column, type_, *split_unit(text)))
    unknown = tuple(sorted(c for c in written if c not in names))
    return TableDoc(name, kind, description, tuple(columns), tuple(missing), unknown)


def document(
    con: duckdb.DuckDBPyConnection, built: Sequence[models.SqlModel] = ()
) -> dict[str, TableDoc]:
    """Every described relation of the warehouse on `con`: the lake views, the core tables,
    `sync_windows`, the models in `built` (in build order) and the model catalog."""
    catalog = _Catalog.read(con)
    docs: dict[str, TableDoc] = {}
    for table in tables.all_schemas():
        name = f"{LAKE_SCHEMA}.{table}"
        docs[name] = _table_doc(
            name, "lake", tables.DESCRIPTIONS[table], catalog.described(name),
            tables.COLUMNS[table],
        )  # fmt: skip
    for table in tables.all_schemas():
        sql = models.core_view_sql(table)
        header = read_header(sql)
        description = _sentence(header.fields.get("purpose") or CORE_DESCRIPTIONS[table])
        docs[table] = _resolved(con, catalog, docs, table, "core", description, sql)
    docs["sync_windows"] = _table_doc(
        "sync_windows", "core", CORE_DESCRIPTIONS["sync_windows"],
        catalog.described("sync_windows"), views.SYNC_WINDOWS_COLUMNS,
    )  # fmt: skip
    for model in built:
        # The notes from the SQL itself: a model read back from the catalog has none of its own.
        notes = " ".join(read_header(model.sql).notes)
        description = " ".join(part for part in (_sentence(model.description), notes) if part)
        docs[model.name] = _resolved(
            con, catalog, docs, model.name, "model", description, model.sql
        )
    if models.CATALOG_TABLE in catalog.kinds:
        docs[models.CATALOG_TABLE] = _table_doc(
            models.CATALOG_TABLE, "metadata",
            "One row per SQL model: its file, grain, what it reads, the parameters it was "
            "built with, its row count and build time.",
            catalog.described(models.CATALOG_TABLE), build.CATALOG_COLUMNS,
        )  # fmt: skip
    return docs


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def _resolved(
    con: duckdb.DuckDBPyConnection,
    catalog: _Catalog,
    docs: Mapping[str, TableDoc],
    name: str,
    kind: str,
    description: str,
    sql: str,
) -> TableDoc:
    """The TableDoc of a relation built from `sql`: its `-- columns:` block, and the
    descriptions of the columns it passes through from relations already in `docs`."""

    def columns_of(table: str) -> list[str] | None:
        found = docs.get(table)
        return None if found is None else [c.name for c in found.columns]

    inherited: dict[str, str] = {}
    for column, source in lineage.passthrough(con, sql, columns_of).items():
        origin = docs.get(source[0]) if source else None
        found = origin.column(source[1]) if origin and source else None
        if found is not None and found.description:
            inherited[column] = found.text
    written = dict(read_header(sql).columns)
    return _table_doc(name, kind, description, catalog.described(name), written, inherited)


def comment(con: duckdb.DuckDBPyConnection, docs: Iterable[TableDoc]) -> int:
    """Write `docs` into the warehouse on `con` as DuckDB comments; the number of comments
    written (those already right are left alone).

    A view's comments go with it when it is replaced (the core views, at every publish), a
    model's stay while it is kept: a publish writes the few hundred that differ, in one
    transaction."""
    catalog = _Catalog.read(con)
    statements: list[str] = []
    for doc in docs:
        kind = catalog.kinds.get(doc.name)
        if kind is None:
            continue
        qualified = _quoted(doc.name if "." in doc.name else f"main.{doc.name}")
        if catalog.comments.get(doc.name) != doc.description:
            statements.append(f"COMMENT ON {kind} {qualified} IS {views.lit(doc.description)}")
        current = {name: text for name, _, text in catalog.columns.get(doc.name, [])}
        statements.extend(
            f"COMMENT ON COLUMN {qualified}.{views.ident(c.name)} IS {views.lit(c.text)}"
            for c in doc.columns
            if c.text and current.get(c.name) != c.text
        )
    if statements:
        con.begin()  # one commit for all: one WAL flush instead of hundreds
        try:
            for statement in statements:
                con.execute(statement)
        except BaseException:
            con.rollback()
            raise
        con.commit()
    return len(statements)


def empty_warehouse(built: Sequence[models.SqlModel] | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse with no data: typed core tables, `sync_windows`, the catalog
    and every model of `built` (all of sql/ when None) as a view, for DESCRIBE."""
    con = duck.connect()
    con.execute(f"CREATE SCHEMA {LAKE_SCHEMA}")
    for table, schema in tables.all_schemas().items():
        views.create_view(con, table, schema, [], in_schema=LAKE_SCHEMA)
    for table in tables.all_schemas():
        con.execute(f"CREATE VIEW {views.ident(table)} AS\n{models.core_view_sql(table)}")
    views.write_sync_windows(con, [])
    build.ensure_catalog(con)
    build.create_macros(con)
    build.set_params(con, build.DEFAULT_PARAMS)
    for model in models.discover_models() if built is None else built:
        con.execute(f"CREATE VIEW {views.ident(model.name)} AS\n{model.sql}")
    return con


def describe_all(built: Sequence[models.SqlModel] | None = None) -> dict[str, TableDoc]:
    """The documentation of an empty warehouse with `built` (all of sql/ when None)."""
    ordered = models.discover_models() if built is None else list(built)
    con = empty_warehouse(ordered)
    try:
        return document(con, ordered)
    finally:
        con.close()
