"""A table being prepared for one window's commit: rows and batches streamed to a temporary
Parquet file in the run's work directory, read back as a stream when the lake commits it.

A day of any size goes through with bounded memory, and nothing reaches the lake before the
commit: a crash leaves only a temporary file, which the next run's sweep removes.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

BATCH_ROWS = 2000
STAGED_PREFIX = "staged-"


class StagedTable:
    def __init__(self, work_dir: Path, schema: pa.Schema, name: str = "table") -> None:
        work_dir.mkdir(parents=True, exist_ok=True)
        self.schema = schema
        self.path = work_dir / f"{STAGED_PREFIX}{name}-{uuid.uuid4().hex}.parquet"
        self._writer = pq.ParquetWriter(self.path, schema, compression="zstd", compression_level=1)
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
                self._writer.write_batch(batch.select(self.schema.names).cast(self.schema))
                self.count += batch.num_rows

    def _flush(self) -> None:
        if self._rows:
            self._writer.write_table(pa.Table.from_pylist(self._rows, schema=self.schema))
            self._rows = []

    def opener(self) -> Callable[[], pa.RecordBatchReader]:
        """Close the file; a function that streams it back (as often as the lake needs)."""
        self._flush()
        self._writer.close()
        return staged_reader(self.path, self.schema)

    def discard(self) -> None:
        with contextlib.suppress(Exception):  # the file goes anyway
            self._writer.close()
        self.path.unlink(missing_ok=True)


def conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """A batch with exactly `schema`'s columns: cast, and NULL where the batch predates one (a
    file of an older release lacks the columns added since)."""
    names = set(batch.schema.names)
    columns = [
        batch.column(f.name).cast(f.type) if f.name in names else pa.nulls(batch.num_rows, f.type)
        for f in schema
    ]
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def staged_reader(
    path: Path, schema: pa.Schema | None = None
) -> Callable[[], pa.RecordBatchReader]:
    """A function that opens a staged Parquet file as a stream of batches (for the lake's
    commit, which may need to read it again)."""

    def open_stream() -> pa.RecordBatchReader:
        handle = pq.ParquetFile(path)
        target = schema or handle.schema_arrow
        batches = (conform(batch, target) for batch in handle.iter_batches(batch_size=65536))
        return pa.RecordBatchReader.from_batches(target, batches)

    return open_stream
