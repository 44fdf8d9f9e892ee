"""Read a SQL model file: its header, and the tables and parameters its SQL uses.

The SQL is handed to DuckDB's own parser (`json_serialize_sql`), which returns the syntax tree
as JSON; walking it finds every base table read in a from/join/subquery, minus CTE names in
scope, and every `getvariable('name')`. No tokenizer of our own, so quoting, comments and
nested queries are read exactly as DuckDB will read them when it builds the model.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from pipeline.core.errors import ModelBuildError

NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_HEADER = re.compile(r"^--\s*(purpose|grain|materialized)\s*:\s*(.*?)\s*$")
# `-- columns:` opens the column block, the last part of the header: one `--   name: text`
# line per column (two or three spaces), continued on lines indented four spaces or more.
_COLUMNS = re.compile(r"^--\s*columns\s*:\s*$")
_COLUMN = re.compile(r"^--\s{2,3}([a-z][a-z0-9_]*)\s*:\s*(.*?)\s*$")
_CONTINUED = re.compile(r"^--\s{4,}(\S.*?)\s*$")
# How a model is kept in the warehouse (see pipeline.warehouse.models).
MATERIALIZATIONS = ("view", "incremental", "table")


@dataclass(frozen=True)
class ParsedFile:
    """What one `sql/<layer>/<name>.sql` file declares and reads."""

    name: str
    path: Path
    layer: str
    sql: str
    description: str
    grain: tuple[str, ...]
    tables: frozenset[str]
    params: tuple[str, ...]
    notes: str
    materialized: str = "view"


@dataclass(frozen=True)
class Header:
    """The comment lines a model file starts with."""

    fields: dict[str, str]
    notes: tuple[str, ...]
    columns: tuple[tuple[str, str], ...]


def read_header(sql: str) -> Header:
    """The header of a model's SQL: `-- key: value` fields, free notes, and the column block.

    Raises:
        ValueError: a line of the column block is neither a column nor a continuation, or a
            column is described twice.
    """
    fields: dict[str, str] = {}
    notes: list[str] = []
    columns: dict[str, str] = {}
    in_columns = False
    last: str | None = None
    for line in sql.splitlines():
        if not line.startswith("--"):
            break
        if in_columns:
            column = _COLUMN.match(line)
            continued = _CONTINUED.match(line)
            if continued and last is not None:
                columns[last] = f"{columns[last]} {continued.group(1)}".strip()
            elif column:
                last = column.group(1)
                if last in columns:
                    raise ValueError(f"column {last!r} is described twice in `-- columns:`")
                columns[last] = column.group(2)
            elif line.strip() != "--":
                raise ValueError(
                    f"`-- columns:` ends the header: each line is `--   name: description "
                    f"[unit]` or its continuation (indented further), not {line!r}"
                )
            continue
        match = _HEADER.match(line)
        if match:
            fields.setdefault(match.group(1), match.group(2))
        elif _COLUMNS.match(line):
            in_columns = True
        else:
            notes.append(line.removeprefix("--").strip())
    return Header(fields, tuple(notes), tuple(columns.items()))


def display_path(path: Path) -> str:
    """`sql/marts/fct_jobs.sql`: the path as a user of the repo knows it."""
    return f"{path.parent.parent.name}/{path.parent.name}/{path.name}"


def parse_file(con: duckdb.DuckDBPyConnection, path: Path, reserved: Collection[str]) -> ParsedFile:
    """Parse one model file; `reserved` are names a model may not take (core tables).

    Raises:
        ModelBuildError: naming the file, when the name, the header or the SQL is not valid.
    """
    name = path.stem

    def fail(message: str) -> ModelBuildError:
        return ModelBuildError(
            f"SQL model {display_path(path)}: {message}", model=name, path=str(path)
        )

    if not NAME.match(name) or name in reserved:
        raise fail(f"{name!r} cannot be a model name: use snake_case, and not a core table name.")
    sql = path.read_text(encoding="utf-8").strip().rstrip(";").rstrip()
    try:
        parsed_header = read_header(sql)
    except ValueError as exc:
        raise fail(str(exc)) from None
    header, notes = parsed_header.fields, parsed_header.notes
    if not header.get("purpose") or not header.get("grain"):
        raise fail("the file must start with `-- purpose: ...` and `-- grain: ...` lines.")
    grain = tuple(col.strip() for col in header["grain"].split(","))
    if not all(NAME.match(col) for col in grain):
        raise fail(f"`-- grain:` must list column names, got {header['grain']!r}.")
    tables: set[str] = set()
    params: set[str] = set()
    materialized = header.get("materialized") or _default_materialization(grain)
    if materialized not in MATERIALIZATIONS:
        raise fail(
            f"`-- materialized:` must be one of {', '.join(MATERIALIZATIONS)}, got {materialized!r}."
        )
    row = con.execute("select json_serialize_sql(?)", [sql]).fetchone()
    tree = json.loads(row[0]) if row else {}
    if tree.get("error"):
        raise fail(f"DuckDB cannot parse it: {_parse_error(sql, tree)}")
    statements = tree.get("statements", [])
    if len(statements) != 1:
        raise fail(f"a model is exactly one select statement, found {len(statements)}.")
    _walk(statements[0], frozenset(), tables, params, fail)
    if params and materialized == "view":
        # A view would read the parameters of the connection that queries it, which an analyst's
        # has not set: a model with parameters keeps the rows they were built with.
        materialized = "table"
    return ParsedFile(
        name=name,
        path=path,
        layer=path.parent.name,
        sql=sql,
        description=header["purpose"],
        grain=grain,
        tables=frozenset(tables),
        params=tuple(sorted(params)),
        notes=" ".join(notes),
        materialized=materialized,
    )


def _default_materialization(grain: tuple[str, ...]) -> str:
    """A model whose rows are keyed by day first is kept as a table updated day by day; any
    other model is a view computed when it is read."""
    return "incremental" if grain and grain[0] in ("day", "window_date") else "view"


def _parse_error(sql: str, tree: Mapping[str, Any]) -> str:
    message = str(tree.get("error_message", "unknown error"))
    position = tree.get("position")
    if isinstance(position, str) and position.isdigit():
        line = sql[: int(position)].count("\n") + 1
        message += f" (line {line})"
    # Statements other than select (create, insert, ...) cannot be serialized at all.
    if tree.get("error_type") == "not implemented":
        message = "only a select statement can be a model"
    return message


def _walk(
    node: object,
    ctes: frozenset[str],
    tables: set[str],
    params: set[str],
    fail: Callable[[str], ModelBuildError],
) -> None:
    if isinstance(node, list):
        for item in node:
            _walk(item, ctes, tables, params, fail)
        return
    if not isinstance(node, dict):
        return
    cte_map = node.get("cte_map")
    if isinstance(cte_map, dict) and cte_map.get("map"):
        # A CTE is visible to the CTEs after it and to its own query, never outside; inside
        # its own body, its name still means the real table unless the CTE is recursive.
        for entry in cte_map["map"]:
            key = str(entry["key"]).lower()
            query = entry["value"].get("query_node") if isinstance(entry["value"], dict) else None
            recursive = isinstance(query, dict) and query.get("type") == "RECURSIVE_CTE_NODE"
            _walk(entry["value"], ctes | {key} if recursive else ctes, tables, params, fail)
            ctes = ctes | {key}
        node = {k: v for k, v in node.items() if k != "cte_map"}
    if node.get("type") == "BASE_TABLE":
        table = str(node.get("table_name", "")).lower()
        schema = str(node.get("schema_name") or "").lower()
        catalog = str(node.get("catalog_name") or "")
        if not schema and not catalog and table in ctes:
            pass
        elif schema in ("", "main") and not catalog:
            tables.add(table)
        else:
            tables.add(".".join(p for p in (catalog, schema, table) if p))
    if (
        node.get("type") == "FUNCTION"
        and str(node.get("function_name", "")).lower() == "getvariable"
    ):
        name = _first_constant(node.get("arguments", node.get("children")))
        if not name:
            raise fail("getvariable() must be given the parameter name as a string literal.")
        params.add(name.lower())
    for value in node.values():
        if isinstance(value, dict | list):
            _walk(value, ctes, tables, params, fail)


def _first_constant(node: object) -> str | None:
    """The first string constant in an argument list (layouts differ across DuckDB versions)."""
    if isinstance(node, list):
        for item in node:
            found = _first_constant(item)
            if found is not None:
                return found
        return None
    if not isinstance(node, dict):
        return None
    if node.get("class") == "CONSTANT":
        literal = node.get("literal") or node.get("value") or {}
        text = literal.get("text", literal.get("value")) if isinstance(literal, dict) else literal
        return str(text) if text is not None else None
    return _first_constant(list(node.values()))
