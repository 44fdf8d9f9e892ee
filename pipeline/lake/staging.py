"""Rows of one window of one table, written as they come into a new lake data file and
committed in one step: a day of any size goes through with bounded memory, and nothing is
part of the table before the commit (a crash leaves a file the table does not list, which
`maintain` vacuums)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.lake import tables
from pipeline.lake.datafiles import ROW_GROUP_ROWS, Committed, conform, file_schema
from pipeline.lake.store import Lake

BATCH_ROWS = 2000


class StagedTable:
    def __init__(self, lake: Lake, table: str, day: date) -> None:
        self.lake = lake
        self.table = table
        self.day = day
        self.schema = file_schema(table)
        self.file = lake.new_file(table, day)
        self._writer = pq.ParquetWriter(
            self.file.path, self.schema, compression="zstd", compression_level=1
        )
        self._rows: list[dict[str, Any]] = []
        self.count = 0

    def add_rows(self, rows: Sequence[dict[str, Any]]) -> None:
        self._rows.extend(rows)
        self.count += len(rows)
        if len(self._rows) >= BATCH_ROWS:
            self._flush()

    def add_batches(self, batches: Iterable[pa.RecordBatch]) -> None:
        self._flush()
        for batch in batches:
            if batch.num_rows:
                renamed = tables.RENAMED.get(self.table)
                table = conform(pa.Table.from_batches([batch]), self.schema, renamed)
                self._writer.write_table(table, ROW_GROUP_ROWS)
                self.count += batch.num_rows

    def _flush(self) -> None:
        if self._rows:
            table = pa.Table.from_pylist(self._rows, schema=self.schema)
            self._writer.write_table(table, ROW_GROUP_ROWS)
            self._rows = []

    def commit(self) -> Committed:
        """Close the file and make it the window's rows (one commit)."""
        self._flush()
        self._writer.close()
        return self.lake.commit_window(self.table, self.day, [self.file])

    def discard(self) -> None:
        with contextlib.suppress(Exception):  # the file goes anyway
            self._writer.close()
        self.file.path.unlink(missing_ok=True)


def read_parquet_batches(path: Any, batch_size: int = 4096) -> Iterable[pa.RecordBatch]:
    """A Parquet file's rows as a stream of batches."""
    yield from pq.ParquetFile(path).iter_batches(batch_size=batch_size)
