"""Reports read from the warehouse (the reports themselves are listed in `specs`), and how to
print them.

A report is a few sections, each one report table (`rpt_*`) filtered to a date range. The tables
are built with the CSAM threshold the warehouse was published with; asking for another threshold
re-runs the SQL models that depend on it as temporary tables on a read-only connection, so the
published file is never written and the numbers always come from the same SQL as the tables.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import duckdb

from pipeline.core.errors import WarehouseNotFoundError
from pipeline.reports.specs import REPORTS, SectionSpec
from pipeline.warehouse.build import built_models, resolve_params, set_params
from pipeline.warehouse.models import CATALOG_TABLE, models_using, toposort

THRESHOLD_PARAM = "csam_threshold"


@dataclass(frozen=True)
class Section:
    table: str
    title: str
    columns: list[str]
    rows: list[tuple[Any, ...]]
    display_columns: list[str] = field(default_factory=list)
    display_rows: list[tuple[Any, ...]] = field(default_factory=list)
    key_columns: int = 1

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


@dataclass(frozen=True)
class Report:
    kind: str
    title: str
    date_from: date | None
    date_to: date | None
    csam_threshold: float | None
    sections: list[Section]


def built_params(con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    """The SQL parameters the warehouse's models were built with (defaults where unrecorded)."""
    try:
        rows = con.execute(f"select params_json from {CATALOG_TABLE}").fetchall()
    except duckdb.CatalogException:
        rows = []
    recorded: dict[str, object] = {}
    for (params_json,) in rows:
        recorded.update(json.loads(params_json or "{}"))
    return resolve_params(recorded)


def load_report(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    *,
    date_from: date | None = None,
    date_to: date | None = None,
    threshold: float | None = None,
) -> Report:
    """Read one report's sections for days in [date_from, date_to] (either end open when None).

    Args:
        con: a connection to the warehouse (read-only is enough).
        kind: a key of REPORTS.
        threshold: a CSAM threshold (percent) other than the one the warehouse was built with;
            the models that depend on it are recomputed as temporary tables, from the SQL the
            warehouse recorded when it was built.

    Raises:
        WarehouseNotFoundError: the warehouse lacks the report tables (built without models).
    """
    spec = REPORTS[kind]
    params = built_params(con)
    # A recompute for another threshold earlier on this connection must not leak into this one.
    models = {m.name for m in built_models(con)}
    temporary = con.execute("select table_name from duckdb_tables() where temporary").fetchall()
    for (name,) in temporary:
        if name in models:
            con.execute(f"drop table temp.main.{name}")
    if threshold is not None and float(threshold) != float(str(params[THRESHOLD_PARAM])):
        params[THRESHOLD_PARAM] = float(threshold)
        _recompute(con, [s.table for s in spec.sections], params)
    sections = [_load_section(con, s, date_from, date_to) for s in spec.sections]
    return Report(
        kind=kind,
        title=spec.title,
        date_from=date_from,
        date_to=date_to,
        csam_threshold=float(str(params[THRESHOLD_PARAM])) if spec.uses_threshold else None,
        sections=sections,
    )


def _recompute(
    con: duckdb.DuckDBPyConnection,
    tables: Sequence[str],
    params: dict[str, object],
) -> None:
    models = {m.name: m for m in built_models(con)}
    needed: set[str] = set()
    todo = [t for t in tables if t in models]
    while todo:
        name = todo.pop()
        if name not in needed:
            needed.add(name)
            todo.extend(models[name].model_deps)
    stale = needed & models_using(models.values(), THRESHOLD_PARAM)
    set_params(con, params)
    for model in toposort([models[n] for n in stale]):
        # A temporary table shadows the published one of the same name for this connection only.
        con.execute(f"create or replace temp table {model.name} as\n{model.sql}")


def _load_section(
    con: duckdb.DuckDBPyConnection, spec: SectionSpec, date_from: date | None, date_to: date | None
) -> Section:
    try:
        columns = [row[0] for row in con.execute(f"describe {spec.table}").fetchall()]
    except duckdb.CatalogException as exc:
        raise WarehouseNotFoundError(
            f"The warehouse has no table {spec.table}. Run `civitai-sync sync` (or `make demo`) "
            "to rebuild it with the SQL models."
        ) from exc
    filters, args = [], []
    if "day" in columns and date_from is not None:
        filters.append("day >= ?")
        args.append(date_from)
    if "day" in columns and date_to is not None:
        filters.append("day <= ?")
        args.append(date_to)
    where = f" where {' and '.join(filters)}" if filters else ""
    rows = con.execute(
        f"select * from {spec.table}{where} order by {spec.order_by}", args
    ).fetchall()
    display_columns = [c for c in spec.columns if c in columns] or columns
    index = [columns.index(c) for c in display_columns]
    display_rows = rows
    if spec.where:
        narrowed = " and ".join(f for f in [*filters, spec.where])
        display_rows = con.execute(
            f"select * from {spec.table} where {narrowed} order by {spec.order_by}", args
        ).fetchall()
    return Section(
        table=spec.table,
        title=spec.title,
        columns=columns,
        rows=rows,
        display_columns=display_columns,
        display_rows=[tuple(row[i] for i in index) for row in display_rows],
        key_columns=spec.key_columns,
    )


def to_json(report: Report) -> str:
    """Every section with every column, as one JSON document."""
    document = {
        "report": report.kind,
        "from": report.date_from.isoformat() if report.date_from else None,
        "to": report.date_to.isoformat() if report.date_to else None,
        "csam_threshold_pct": report.csam_threshold,
        "sections": {s.table: s.records() for s in report.sections},
    }
    return json.dumps(document, default=_json_default, indent=2)


def to_csv(report: Report) -> str:
    """The report's first (main) section, every column; lists are written as JSON arrays."""
    section = report.sections[0]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(section.columns)
    for row in section.rows:
        writer.writerow([_csv_value(v) for v in row])
    return out.getvalue()


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value, default=_json_default)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")
