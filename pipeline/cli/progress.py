"""What a sync or rebuild shows while it runs, and the summary it prints at the end.

On a terminal (stderr): rich bars for the days (with an ETA from the days done so far), the
window being fetched (pages and workflows so far: the total is unknown until the last page),
and the window being enriched (jobs done of jobs to look up, rate, ETA), with one line per
finished window above them. Otherwise (cron, CI, a pipe): a log line per finished window and,
while a window is fetched or enriched, a progress line every `interval` seconds (and at each
tenth of the enrichment), so a log shows a long run advancing.

The fetch of the next window runs on a worker thread while this one is enriched, so page
events and enrichment events arrive from two threads at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from pipeline.cli.output import data_table, format_seconds, stderr_console
from pipeline.runs.sync import Progress as SyncProgress
from pipeline.runs.sync import WindowResult

log = logging.getLogger(__name__)

LOG_INTERVAL_SECONDS = 10.0
MIN_LINE_SPACING_SECONDS = 1.0
STATUS_STYLES = {
    "complete": "green",
    "partial": "cyan",
    "failed": "red",
    "busy": "yellow",
    "running": "cyan",
    "interrupted": "yellow",
}


def status_text(value: str) -> Text:
    return Text(value, style=STATUS_STYLES.get(value, ""))


def eta_seconds(done: int, total: int, elapsed: float) -> float | None:
    """Seconds left at the pace so far (None before the first item or with nothing left)."""
    if done <= 0 or elapsed <= 0 or total <= done:
        return None if total > done else 0.0
    return (total - done) * elapsed / done


@dataclass
class _Pace:
    """When a window's phase started and when it last wrote a log line."""

    day: date
    started: float
    logged: float
    tenth: int = 0
    first: int = 0  # items already done at `started` (the rate counts those after it)


class RunProgress:
    """Progress of one `sync`/`rebuild` run over `total` windows; pass it as `on_progress`
    (and `enrich` as `on_enrich`) to `sync_range`."""

    def __init__(
        self,
        total: int,
        verb: str,
        *,
        console: Console | None = None,
        interval: float = LOG_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.console = console or stderr_console()
        self.total = total
        self.verb = verb
        self.interval = interval
        self.clock = clock
        self.done = 0
        self.started = clock()
        self._lock = threading.Lock()
        self._fetch: _Pace | None = None
        self._enrich: _Pace | None = None
        self._bars: Progress | None = None
        self._tasks: dict[str, TaskID] = {}

    @contextmanager
    def running(self) -> Iterator[RunProgress]:
        self.started = self.clock()
        if not self.console.is_terminal:
            yield self
            return
        self._bars = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )
        with self._bars:
            self._tasks["days"] = self._bars.add_task(f"{self.verb} days", total=self.total)
            try:
                yield self
            finally:
                self._bars = None

    # --- events ------------------------------------------------------------------------------
    def __call__(self, event: SyncProgress) -> None:
        """A page of a window was fetched, or (with `result`) a window is finished."""
        if event.result is not None:
            self._finished(event.result)
            return
        now = self.clock()
        with self._lock:
            pace = self._fetch
            if pace is None or pace.day != event.window_date:
                pace = self._fetch = _Pace(event.window_date, now, now)
            due = now - pace.logged >= self.interval
            if due:
                pace.logged = now
        if self._bars is not None:
            self._show(
                "fetch",
                f"fetch {event.window_date}: page {event.pages:,}, {event.workflows:,} workflows",
                total=None,
            )
        elif due:
            log.info(
                "fetching",
                extra={
                    "window": event.window_date,
                    "pages": event.pages,
                    "workflows": event.workflows,
                    "seconds": now - pace.started,
                    "windows_done": self.done,
                    "windows": self.total,
                },
            )

    def enrich(self, day: date, done: int, total: int) -> None:
        """`done` of the window's `total` job lookups are answered."""
        now = self.clock()
        with self._lock:
            pace = self._enrich
            if pace is None or pace.day != day:
                pace = self._enrich = _Pace(day, now, now, first=done)
            tenth = done * 10 // total if total else 10
            since = now - pace.logged
            # Each tenth, but not more than one line a second (a small window's lookups take
            # well under a second), and always the last lookup.
            due = (
                since >= self.interval
                or (tenth > pace.tenth and since >= MIN_LINE_SPACING_SECONDS)
                or done >= total
            )
            if due:
                pace.logged, pace.tenth = now, tenth
        if self._bars is not None:
            self._show("enrich", f"enrich {day}: job lookups", total=total, completed=done)
            return
        if due:
            elapsed = now - pace.started
            eta = eta_seconds(done - pace.first, total - pace.first, elapsed)
            log.info(
                "enriching",
                extra={
                    "window": day,
                    "done": done,
                    "total": total,
                    "pct": round(100 * done / total, 1) if total else 100.0,
                    "jobs_per_s": round((done - pace.first) / elapsed, 1) if elapsed > 0 else None,
                    "eta_s": None if eta is None else round(eta),
                },
            )

    def _show(self, name: str, description: str, **update: Any) -> None:
        bars = self._bars
        if bars is None:
            return
        task = self._tasks.get(name)
        if task is None:
            self._tasks[name] = bars.add_task(description, **update)
        else:
            bars.update(task, description=description, **update)

    def _finished(self, result: WindowResult) -> None:
        self.done += 1
        if self._bars is not None:
            self._bars.advance(self._tasks["days"])
            for name in ("fetch", "enrich"):
                task = self._tasks.pop(name, None)
                if task is not None:
                    self._bars.remove_task(task)
            self.console.print(window_line(result), soft_wrap=True)
            return
        level = logging.INFO if result.status in ("complete", "partial") else logging.WARNING
        log.log(
            level,
            f"window {result.status}",
            extra={
                "window": result.window_date,
                "status": result.status,
                "pages": result.pages,
                "workflows": result.workflows,
                "jobs": result.jobs,
                "jobs_looked_up": result.jobs_looked_up,
                "fetch_s": result.fetch_seconds or None,
                "enrich_s": result.enrich_seconds or None,
                "seconds": result.seconds,
                "windows_done": self.done,
                "windows": self.total,
                "eta_s": _round(eta_seconds(self.done, self.total, self.clock() - self.started)),
                "error": result.error,
            },
        )


def _round(value: float | None) -> int | None:
    return None if value is None else round(value)


def window_line(result: WindowResult) -> Text:
    line = Text.assemble(
        (f"{result.window_date} ", "bold"),
        status_text(result.status),
        f"  {result.workflows:,} workflows, {result.pages:,} pages"
        + (f", {result.filter_mode} filter" if result.filter_mode else "")
        + (
            f", fetched in {format_seconds(result.fetch_seconds)}"
            if result.fetch_seconds
            else f", {format_seconds(result.seconds)}"
        )
        + (
            f"; {result.jobs_looked_up:,} jobs looked up in {format_seconds(result.enrich_seconds)}"
            if result.jobs_looked_up
            else ""
        ),
    )
    if result.error:
        line.append(f"\n  {result.error}", style="red")
    return line


# --------------------------------------------------------------------------- the summary

# (header, WindowResult attribute, summed in the total row, shown on an 80-column terminal)
SYNC_COLUMNS = (
    ("day", "window_date", False, True),
    ("status", "status", False, True),
    ("workflows", "workflows", True, True),
    ("steps", "steps", True, False),
    ("jobs", "jobs", True, True),
    ("blobs", "blobs", True, False),
    ("txns", "transactions", True, False),
    ("pages", "pages", True, False),
    ("mode", "filter_mode", False, False),
    ("requests", "requests", True, False),
    ("429s", "rate_limited", True, False),
    ("fetch", "fetch_seconds", True, True),
    ("looked up", "jobs_looked_up", True, True),
    ("enrich", "enrich_seconds", True, True),
)
REBUILD_COLUMNS = (
    *(c for c in SYNC_COLUMNS if c[1] in ("window_date", "status", "workflows", "steps", "jobs")),
    *(c for c in SYNC_COLUMNS if c[1] in ("blobs", "transactions", "pages", "filter_mode")),
    ("time", "seconds", True, True),
)
_SECONDS = {"seconds", "fetch_seconds", "enrich_seconds"}


def summary_table(
    console: Console, results: Sequence[WindowResult], title: str, columns: Sequence[Any]
) -> None:
    # An 80-column terminal gets the columns that matter most rather than folded headers.
    shown = [c for c in columns if console.width >= 120 or c[3]]
    table = data_table(title, [c[0] for c in shown], no_wrap=[c[0] for c in shown])

    def cell(value: Any, attribute: str) -> Text | str:
        if attribute == "status":
            return status_text(value)
        if attribute in _SECONDS:
            return format_seconds(value)
        if isinstance(value, int):
            return f"{value:,}"
        return str(value) if value not in (None, "") else "-"

    for r in results:
        table.add_row(*(cell(getattr(r, c[1]), c[1]) for c in shown))
    if len(results) > 1:
        totals: list[Text | str] = []
        for _, attribute, summed, _ in shown:
            if attribute == "window_date":
                totals.append("total")
            elif summed:
                totals.append(cell(sum(getattr(r, attribute) for r in results), attribute))
            else:
                totals.append("")
        table.add_row(*totals, style="bold")
    console.print(table)
    for r in results:
        if r.error:
            console.print(Text(f"{r.window_date}: {r.error}", style="red"), soft_wrap=True)


@dataclass
class RunFigures:
    """The figures of a whole sync run, as the summary prints them and the log records them."""

    windows: int
    seconds: float
    pages: int
    workflows: int
    requests: int
    rate_limited: int
    fetch_seconds: float
    jobs_looked_up: int
    enrich_requests: int
    enrich_rate_limited: int
    enrich_seconds: float

    @classmethod
    def of(cls, results: Sequence[WindowResult], seconds: float) -> RunFigures:
        def total(name: str) -> Any:
            return sum(getattr(r, name) for r in results)

        return cls(
            windows=len(results),
            seconds=seconds,
            pages=total("pages"),
            workflows=total("workflows"),
            requests=total("requests"),
            rate_limited=total("rate_limited"),
            fetch_seconds=total("fetch_seconds"),
            jobs_looked_up=total("jobs_looked_up"),
            enrich_requests=total("enrich_requests"),
            enrich_rate_limited=total("enrich_rate_limited"),
            enrich_seconds=total("enrich_seconds"),
        )

    @property
    def fetch_rate(self) -> float | None:
        return self.requests / self.fetch_seconds if self.fetch_seconds > 0 else None

    @property
    def enrich_rate(self) -> float | None:
        return self.enrich_requests / self.enrich_seconds if self.enrich_seconds > 0 else None

    def lines(self) -> list[str]:
        lines = [f"Run: {self.windows} day(s) in {format_seconds(self.seconds)}."]
        lines.append(
            f"  fetch: {self.pages:,} pages, {self.workflows:,} workflows, "
            f"{self.requests:,} requests, {self.rate_limited:,} answered 429, "
            f"{_rate(self.fetch_rate)} in {format_seconds(self.fetch_seconds)}"
        )
        if self.jobs_looked_up or self.enrich_requests:
            lines.append(
                f"  enrichment: {self.jobs_looked_up:,} jobs looked up, "
                f"{self.enrich_requests:,} requests, {self.enrich_rate_limited:,} answered 429, "
                f"{_rate(self.enrich_rate)} in {format_seconds(self.enrich_seconds)}"
            )
        return lines

    def log(self) -> None:
        log.info(
            "run finished",
            extra={
                **{k: v for k, v in self.__dict__.items()},
                "fetch_requests_per_s": _round2(self.fetch_rate),
                "enrich_requests_per_s": _round2(self.enrich_rate),
            },
        )


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f} requests/s"


def _round2(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
