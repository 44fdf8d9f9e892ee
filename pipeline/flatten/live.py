"""Flattening a window while its pages are still being fetched.

The list API answers one page per round trip; waiting for the last page before flattening
the first leaves the CPU idle during the fetch and the network idle during the flattening.
`LiveFlattener` runs the flattening query on worker threads (DuckDB and Arrow release the
GIL). Each worker's source is an Arrow stream that hands DuckDB the archived pages it takes
as they land and ends when the fetch does, so when the last page arrives only the last few
are left to do, and the query is planned once per worker rather than once per batch of pages
(the plan alone costs as much as flattening five pages).

DuckDB runs a query over a stream on one thread, however many it is given (a second thread
only adds ~30% CPU for ~10% speed), so parallelism comes from `WORKERS` single-threaded
queries on cursors of one database, which share its memory limit. Pages go to whichever
worker asks first and both append to the same writers, so rows land in the files in an order
that depends on timing; no rule depends on it: the order that decides which copy of a
repeated key is kept is restored by the re-flatten below.

The result is the same as `flatten.flatten_pages` over the finished archive: a window in which
any key repeats (a workflow listed twice, a child id the API repeated) is flattened again from
the archive in page order, whose rules decide which copy is kept. That is rare; the common
case pays one query counting the keys of every table.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from pipeline.fetch import archive
from pipeline.fetch.windows import Bounds, Window
from pipeline.flatten import duplicates, engine, writers
from pipeline.flatten.query import build_query
from pipeline.flatten.window import FlattenResult, flatten_pages

# The stream's schema: a page's number, its chain's bounds (NULL: the window's), its JSON text.
_PAGE_SCHEMA = pa.schema(
    [
        ("page_no", pa.int32()),
        ("lo", pa.timestamp("us", tz="UTC")),
        ("hi", pa.timestamp("us", tz="UTC")),
        ("body", pa.large_string()),
    ]
)
_STREAM = "live_pages"
# Pages per Arrow batch handed to DuckDB: one batch is parsed as a unit, so this bounds the
# memory a burst of pages can take (a page is ~0.3 MB of JSON, several times that parsed).
PAGES_PER_BATCH = 2
# Flattening queries run at once, one DuckDB thread each: the fetch's cursor chains deliver
# pages faster than one query flattens them, and the machine this is sized for has 2 cores.
WORKERS = 2


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
        self._closing = False
        self._abandoned = False
        self._error: BaseException | None = None
        self._writers: dict[str, writers.PartitionWriter] = {}
        self._con: duckdb.DuckDBPyConnection | None = None
        self._threads: list[threading.Thread] = []
        self._write_lock = threading.Lock()

    # ------------------------------------------------------------------ feeding

    def add(self, path: Path, bounds: Bounds | None = None) -> None:
        with self._cond:
            if not self._threads:
                self._start()
            self._pending.append((path, bounds))
            self._cond.notify()

    def restart(self) -> None:
        """The fetch starts over (the server ignored the date filter): forget every page."""
        self._stop(abandon=True)
        self._discard()

    # ------------------------------------------------------------------ the worker

    def _start(self) -> None:
        self._con = engine.connect(self.work_dir, threads=1)
        self._writers = writers.open_writers(self.outputs)
        self._closing = False
        self._abandoned = False
        self._error = None
        self._threads = [
            threading.Thread(
                target=self._run,
                args=(engine.session(self._con.cursor()), f"{_STREAM}_{n}"),
                name=f"live-flatten-{n}",
                daemon=True,
            )
            for n in range(WORKERS)
        ]
        for thread in self._threads:
            thread.start()

    def _take(self) -> list[tuple[Path, Bounds | None]] | None:
        """Up to PAGES_PER_BATCH of the pages waiting (waiting for one); None at the end."""
        with self._cond:
            while not self._closing and not self._pending:
                self._cond.wait()
            if self._abandoned or not self._pending:
                return None
            batch = self._pending[:PAGES_PER_BATCH]
            del self._pending[:PAGES_PER_BATCH]
            return batch

    def _pages(self) -> Iterator[pa.RecordBatch]:
        # Called by DuckDB's scan as it needs rows; blocks (without the GIL) for the next page.
        # Pages are read back from the archive rather than handed over in memory: when the
        # fetch outruns the flattening, only their paths pile up, so memory stays flat
        # however busy the day.
        while (batch := self._take()) is not None:
            numbers, los, his, bodies = [], [], [], []
            for path, bounds in batch:
                numbers.append(archive.page_number(path))
                los.append(bounds[0] if bounds else None)
                his.append(bounds[1] if bounds else None)
                bodies.append(archive.read_page(path).decode("utf-8"))
            yield pa.record_batch([numbers, los, his, bodies], schema=_PAGE_SCHEMA)

    def _run(self, con: duckdb.DuckDBPyConnection, name: str) -> None:
        try:
            stream = pa.RecordBatchReader.from_batches(_PAGE_SCHEMA, self._pages())
            con.register(name, stream)
            query = build_query([], self.window, self.synced_at, stream=name)
            engine.stream_into(con, query, self.window, self._writers, self._write_lock)
        except BaseException as exc:  # raised again by finish()
            with self._cond:
                self._error = self._error or exc
                # Nothing reads the streams any more: the other workers stop and add() piles
                # up paths only.
                self._abandoned = True
                self._cond.notify_all()
        finally:
            con.close()

    def _stop(self, *, abandon: bool = False) -> None:
        if not self._threads:
            return
        with self._cond:
            self._closing = True
            self._abandoned = self._abandoned or abandon
            self._cond.notify_all()
        for thread in self._threads:
            thread.join()
        self._threads = []

    def _discard(self) -> None:
        writers.abort_writers(self._writers)
        self._writers = {}
        if self._con is not None:
            self._con.close()
            self._con = None
        with self._cond:
            self._pending = []

    # ------------------------------------------------------------------ the end

    def finish(
        self, files: Sequence[Path], page_bounds: Mapping[int, Bounds] | None
    ) -> FlattenResult:
        """Flatten what is left and close the files; raises duckdb.Error on an unreadable page.

        `files` and `page_bounds` are the whole archive, used when the window must be
        flattened again in page order.
        """
        if not self._threads:
            self._start()  # a window without pages still gets its typed, empty files
        self._stop()
        if self._error is not None:
            error, self._error = self._error, None
            self._discard()
            raise error
        try:
            rows = writers.close_writers(self._writers)
            self._writers = {}
            assert self._con is not None
            repeated = duplicates.any_repeated_keys(self._con, self.outputs)
        finally:
            self.abort()
        if not repeated:
            return FlattenResult(rows=rows)
        return flatten_pages(
            files,
            self.window,
            self.outputs,
            synced_at=self.synced_at,
            work_dir=self.work_dir,
            page_bounds=page_bounds,
        )

    def abort(self) -> None:
        """Stop the worker and delete whatever was written (safe to call more than once)."""
        self._stop(abandon=True)
        self._discard()
