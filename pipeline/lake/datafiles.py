"""A window's data files: the columns a file holds, rows made to fit the registry's schema
(files older than a column lack it; a renamed column is read under its new name), the files
a Delta table lists for a window, and what one commit published (`Committed`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable

from pipeline.lake import tables

PARTITION = "window_date"
# Row groups of about this many rows: memory per table writer stays small whatever the day.
ROW_GROUP_ROWS = 16_384


@dataclass(frozen=True)
class Committed:
    """What one commit published for one window of one table."""

    table: str
    version: int
    files: tuple[str, ...]  # data files of the window, relative to the table's root
    rows: int
    # Which columns the files hold (files written before a column existed lack it): an id of
    # the sorted column names, so that readers can group files of one shape.
    columns_id: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "files": list(self.files),
            "rows": self.rows,
            "columns_id": self.columns_id,
        }

    @classmethod
    def from_json(cls, table: str, data: Mapping[str, Any]) -> Committed:
        return cls(
            table,
            int(data["version"]),
            tuple(data.get("files") or ()),
            int(data["rows"]),
            str(data.get("columns_id") or ""),
        )


def columns_id(names: Iterable[str]) -> str:
    return hashlib.sha1("\n".join(sorted(names)).encode()).hexdigest()[:12]


def conform(
    rows: pa.Table, schema: pa.Schema, renamed: Mapping[str, str] | None = None
) -> pa.Table:
    """Rows with exactly `schema`'s columns, cast; NULL in a column they predate (a file an
    older release wrote lacks the columns added since); a column renamed since (`renamed`:
    new name -> old name) filled from its old name where the new one is NULL."""
    for column in schema:
        if column.name not in rows.column_names:
            rows = rows.append_column(column, pa.nulls(rows.num_rows, column.type))
    for new, old in (renamed or {}).items():
        if old in rows.column_names and new in schema.names:
            index = rows.column_names.index(new)
            kind = schema.field(new).type
            values = pc.coalesce(rows.column(new).cast(kind), rows.column(old).cast(kind))
            rows = rows.set_column(index, schema.field(new), values)
    return rows.select(schema.names).cast(schema)


def file_schema(table: str) -> pa.Schema:
    """The columns a data file holds: the table's, less the partition column (Delta keeps it
    in the directory name and the log)."""
    schema = tables.schema_for(table)
    return schema.remove(schema.get_field_index(PARTITION))


@dataclass(frozen=True)
class NewFile:
    """A data file being written for a window: `path` is local; `name` is its path relative
    to the table's root once committed."""

    table: str
    day: date
    path: Path
    name: str


def conform_batches(
    batches: Iterable[pa.RecordBatch],
    table: str,
    wanted: Sequence[str],
    present: Sequence[str],
    renamed: Mapping[str, str],
) -> Iterator[pa.RecordBatch]:
    """Batches read from data files as `wanted` columns of the registry's schema: a column
    not `present` in the files (older than it) as nulls, a `renamed` one (new -> old name)
    filled from its old name."""
    schema = tables.schema_for(table)
    out_schema = pa.schema([schema.field(n) for n in wanted])
    for batch in batches:
        arrays = []
        for name in wanted:
            field = schema.field(name)
            if name in present:
                array = batch.column(name).cast(field.type)
            else:
                array = pa.nulls(batch.num_rows, field.type)
            if name in renamed:
                array = pc.coalesce(array, batch.column(renamed[name]).cast(field.type))
            arrays.append(array)
        yield pa.RecordBatch.from_arrays(arrays, schema=out_schema)


def window_adds(table: DeltaTable, day: date) -> list[tuple[str, int, int]]:
    """(path, size, rows) of each live data file of `day`, sorted by path."""
    actions = pa.table(table.get_add_actions(flatten=True))
    key = f"partition.{PARTITION}"
    if actions.num_rows == 0 or key not in actions.column_names:
        return []
    wanted = day.isoformat()
    found = []
    for path, part, size, rows in zip(
        actions.column("path").to_pylist(),
        actions.column(key).to_pylist(),
        actions.column("size_bytes").to_pylist(),
        actions.column("num_records").to_pylist(),
        strict=True,
    ):
        value = part.isoformat() if isinstance(part, date) else str(part)
        if value == wanted:
            found.append((path, int(size), int(rows or 0)))
    return sorted(found)


def window_files(table: DeltaTable, day: date) -> tuple[tuple[str, ...], int]:
    """The live data files of `day` (sorted relative paths) and their rows."""
    adds = window_adds(table, day)
    return tuple(path for path, _, _ in adds), sum(rows for _, _, rows in adds)
