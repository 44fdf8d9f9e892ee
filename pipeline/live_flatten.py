"""Flattening a window while its pages are still being fetched.

The list API answers one page per round trip; waiting for the last page before flattening
the first leaves the CPU idle during the fetch and the network idle during the flattening.
`LiveFlattener` takes each archived page as it lands and flattens what has piled up on a
worker thread (DuckDB and Arrow release the GIL), appending to the same Parquet writers, so
when the last page arrives only the last few pages are left to do.

The result is the same as `flatten.flatten_pages` over the finished archive: a window in which
any key repeats (a workflow listed twice, a child id the API repeated) is flattened again from
the archive in page order, whose rules decide which copy is kept. That is rare; the common
case pays one count per table.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

import duckdb

from pipeline import archive, flatten
from pipeline.windows import Bounds, Window

# A query per page costs more than the page (planning the flattening query is ~70 ms, a page
# ~13 ms on two cores): wait for a few pages unless the fetch has ended...
MIN_BATCH_PAGES = 16
# ...or unless the oldest waiting page has waited this long. When pages arrive slowly (one
# chain against a slow API) the worker would otherwise sit idle and leave a whole batch for
# after the last page; this way it keeps up, and only a few pages are left at the end.
MAX_BATCH_WAIT_SECONDS = 0.1


class LiveFlattener:
    """`add()` archived pages from any thread; `finish()` once the archive is complete."""

    def __init__(
        self,
        window: Window,
        outputs: dict[str, Path],
        *,
        synced_at: datetime,
        work_dir: Path,
    ) -> None:
        self.window = window
        self.outputs = outputs
        self.synced_at = synced_at
        self.work_dir = work_dir
        self._cond = threading.Condition()
        self._pending: list[tuple[Path, Bounds | None]] = []
        self._first_pending = 0.0
        self._closing = False
        self._error: BaseException | None = None
        self._writers: dict[str, flatten._PartitionWriter] = {}
        self._con: duckdb.DuckDBPyConnection | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ feeding

    def add(self, path: Path, bounds: Bounds | None = None) -> None:
        with self._cond:
            if self._thread is None:
                self._start()
            if not self._pending:
                self._first_pending = time.monotonic()
            self._pending.append((path, bounds))
            self._cond.notify()

    def restart(self) -> None:
        """The fetch starts over (the server ignored the date filter): forget every page."""
        self._stop()
        self._discard()

    # ------------------------------------------------------------------ the worker

    def _start(self) -> None:
        self._con = flatten.connect(self.work_dir)
        self._writers = flatten.open_writers(self.outputs)
        self._closing = False
        self._error = None
        self._thread = threading.Thread(target=self._run, name="live-flatten", daemon=True)
        self._thread.start()

    def _take(self) -> list[tuple[Path, Bounds | None]] | None:
        with self._cond:
            while not self._closing and len(self._pending) < MIN_BATCH_PAGES:
                if not self._pending:
                    self._cond.wait()
                    continue
                waited = time.monotonic() - self._first_pending
                if waited >= MAX_BATCH_WAIT_SECONDS:
                    break
                self._cond.wait(MAX_BATCH_WAIT_SECONDS - waited)
            if not self._pending:
                return None
            batch, self._pending = self._pending, []
            return batch

    def _run(self) -> None:
        try:
            while (batch := self._take()) is not None:
                self._flatten(batch)
        except BaseException as exc:  # raised again by finish()
            self._error = exc

    def _flatten(self, batch: Sequence[tuple[Path, Bounds | None]]) -> None:
        assert self._con is not None
        files = [path for path, _ in batch]
        bounds = {
            number: b
            for path, b in batch
            if b is not None and (number := archive.page_number(path)) is not None
        }
        query = flatten.build_query(
            files,
            self.window,
            self.synced_at,
            max_object_size=flatten.max_object_size(files),
            page_bounds=bounds or None,
        )
        flatten.stream_into(self._con, query, self.window, self._writers)

    def _stop(self) -> None:
        thread = self._thread
        if thread is None:
            return
        with self._cond:
            self._closing = True
            self._cond.notify()
        thread.join()
        self._thread = None

    def _discard(self) -> None:
        for writer in self._writers.values():
            writer.abort()
        self._writers = {}
        if self._con is not None:
            self._con.close()
            self._con = None
        with self._cond:
            self._pending = []

    # ------------------------------------------------------------------ the end

    def finish(
        self, files: Sequence[Path], page_bounds: Mapping[int, Bounds] | None
    ) -> flatten.FlattenResult:
        """Flatten what is left and close the files; raises duckdb.Error on an unreadable page.

        `files` and `page_bounds` are the whole archive, used when the window must be
        flattened again in page order.
        """
        if self._thread is None:
            self._start()  # a window without pages still gets its typed, empty files
        self._stop()
        if self._error is not None:
            error, self._error = self._error, None
            self._discard()
            raise error
        try:
            rows = {name: writer.close() for name, writer in self._writers.items()}
            self._writers = {}
            assert self._con is not None
            repeated = flatten.any_repeated_keys(self._con, self.outputs)
        finally:
            self.abort()
        if not repeated:
            return flatten.FlattenResult(rows=rows)
        return flatten.flatten_pages(
            files,
            self.window,
            self.outputs,
            synced_at=self.synced_at,
            work_dir=self.work_dir,
            page_bounds=page_bounds,
        )

    def abort(self) -> None:
        """Stop the worker and delete whatever was written (safe to call more than once)."""
        self._stop()
        self._discard()
