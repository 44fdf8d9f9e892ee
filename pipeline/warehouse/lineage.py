"""Which output columns of a SQL select pass a column of a table through unchanged.

A model describes the columns it computes in its `-- columns:` block; a column it only selects
by name from a table it reads (`jobs.provider`, `select * from source`) means what it meant
there, so its description is that column's and is written once, where it is made.

DuckDB's own parser (`json_serialize_sql`) gives the syntax tree. A select-list item passes a
column through when it is a column reference kept under its own name (`t.col`, `col`,
`t.col as col`), bare or only cast or tidied (`lower`, `upper`, `trim`, `nullif(x, '')`),
or a star (`*`, `t.*`, with `exclude`/`replace`) over a relation whose columns
are known; followed through CTEs and subqueries down to the tables the query reads. Anything
else (an expression, a renamed column, a column of a set operation) is computed: the model
must describe it itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

# (table, column) a passed-through column comes from; None for a computed column.
Source = tuple[str, str] | None
Columns = dict[str, Source]
ColumnsOf = Callable[[str], Sequence[str] | None]


@dataclass
class _Relation:
    """One relation in a FROM clause: its alias and, when known, its columns' sources."""

    alias: str
    columns: Columns | None = None
    base: str | None = None  # a table read by name: any of its columns is its own source

    def source(self, column: str) -> Source:
        if self.columns is not None and column in self.columns:
            return self.columns[column]
        return (self.base, column) if self.base is not None else None

    def has(self, column: str) -> bool:
        return self.columns is not None and column in self.columns


def passthrough(con: duckdb.DuckDBPyConnection, sql: str, columns_of: ColumnsOf) -> Columns:
    """Output column -> (table, column) it passes through, or None when computed.

    `columns_of(table)` lists a table's columns (None when unknown), for stars over it.
    Tables are named as the query names them: `stg_jobs`, `lake.jobs`.
    """
    row = con.execute("select json_serialize_sql(?)", [sql]).fetchone()
    tree = json.loads(row[0]) if row else {}
    statements = tree.get("statements") or []
    if tree.get("error") or len(statements) != 1:
        return {}
    return _Resolver(columns_of).query(statements[0].get("node", {}), {})


# Functions that tidy a value without changing what it is (`lower(status) as status`,
# `nullif(trim(reason), '') as reason`): the column keeps its meaning, and its description.
_NORMALISING = frozenset({"lower", "upper", "trim", "nullif"})


def _normalised_ref(node: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The column reference `node` is, or is a cast or normalising function of (any other
    arguments constants); None for anything else."""
    kind = node.get("class")
    if kind == "COLUMN_REF":
        return node
    if kind == "CAST":
        child = node.get("child")
        return _normalised_ref(child) if isinstance(child, Mapping) else None
    if kind == "FUNCTION" and str(node.get("function_name", "")).lower() in _NORMALISING:
        arguments = [a.get("expression", a) for a in node.get("arguments") or []]
        if not arguments or any(a.get("class") != "CONSTANT" for a in arguments[1:]):
            return None
        return _normalised_ref(arguments[0])
    return None


class _Resolver:
    def __init__(self, columns_of: ColumnsOf) -> None:
        self.columns_of = columns_of

    def query(self, node: Mapping[str, Any], ctes: Mapping[str, Any]) -> Columns:
        """The output columns of a query node (select or set operation) with `ctes` in scope."""
        scope = dict(ctes)
        for entry in (node.get("cte_map") or {}).get("map") or []:
            value = entry.get("value") or {}
            # A CTE sees the CTEs before it; resolved when a query reads it.
            scope[str(entry["key"]).lower()] = (value.get("query_node") or {}, dict(scope))
        if node.get("type") == "SELECT_NODE":
            return self._select(node, scope)
        if node.get("type") == "SET_OPERATION_NODE":
            # Its columns are named by its first branch; a value may come from any branch.
            branches = node.get("children") or [node.get("left") or {}]
            return dict.fromkeys(self.query(branches[0], scope))
        return {}

    def _select(self, node: Mapping[str, Any], scope: Mapping[str, Any]) -> Columns:
        relations = self._relations(node.get("from_table"), scope)
        out: Columns = {}
        for item in node.get("select_list") or []:
            kind = item.get("class")
            if kind == "STAR":
                out.update(self._star(item, relations))
            elif kind in ("COLUMN_REF", "CAST", "FUNCTION"):
                ref = _normalised_ref(item)
                names = [str(n) for n in (ref or item).get("column_names") or []]
                column = names[-1] if names else ""
                name = str(item.get("alias") or column)
                if ref is None or not name or name != column:
                    if name:
                        out[name] = None
                else:
                    relation = self._owner(names[:-1], column, relations)
                    out[name] = relation.source(column) if relation is not None else None
            elif item.get("alias"):
                out[str(item["alias"])] = None
        return out

    def _star(self, item: Mapping[str, Any], relations: Sequence[_Relation]) -> Columns:
        if item.get("columns") or item.get("expr") is not None:
            return {}  # COLUMNS(...) expressions: not followed
        wanted = str(item.get("relation_name") or "")
        excluded = {str(name).lower() for name in item.get("exclude_list") or []}
        replaced = {str(entry["key"]) for entry in item.get("replace_list") or []}
        out: Columns = {}
        for relation in relations:
            if wanted and relation.alias != wanted:
                continue
            for name, source in (relation.columns or {}).items():
                if name.lower() in excluded:
                    continue
                out[name] = None if name in replaced else source
        return out

    @staticmethod
    def _owner(
        qualifier: Sequence[str], column: str, relations: Sequence[_Relation]
    ) -> _Relation | None:
        if qualifier:
            found = [r for r in relations if r.alias == qualifier[-1]]
        elif len(relations) == 1:
            found = list(relations)
        else:
            found = [r for r in relations if r.has(column)]
        return found[0] if len(found) == 1 else None

    def _relations(self, node: Any, scope: Mapping[str, Any]) -> list[_Relation]:
        if not isinstance(node, Mapping):
            return []
        kind = node.get("type")
        if kind == "JOIN":
            return [
                *self._relations(node.get("left"), scope),
                *self._relations(node.get("right"), scope),
            ]
        alias = str(node.get("alias") or "")
        if kind == "SUBQUERY":
            subquery = (node.get("subquery") or {}).get("node") or {}
            return [_Relation(alias, self.query(subquery, scope))]
        if kind != "BASE_TABLE":
            return [_Relation(alias, {})]
        table = str(node.get("table_name") or "")
        schema = str(node.get("schema_name") or "")
        alias = alias or table
        if not schema and table.lower() in scope:
            cte_node, cte_scope = scope[table.lower()]
            return [_Relation(alias, self.query(cte_node, cte_scope))]
        name = f"{schema}.{table}" if schema and schema != "main" else table
        listed = self.columns_of(name)
        columns: Columns | None = None if listed is None else {c: (name, c) for c in listed}
        return [_Relation(alias, columns, base=name)]
