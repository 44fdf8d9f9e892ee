"""The dry-run plan's reasons, and what a run shows while it goes (bars on a terminal, log lines
otherwise), with a clock the test moves."""

from __future__ import annotations

import io
import logging
from datetime import UTC, date, datetime

import pytest
from rich.console import Console

from pipeline.cli.plan import REASONS, plan
from pipeline.cli.progress import RunFigures, RunProgress, eta_seconds
from pipeline.lake.ledger import WindowRow
from pipeline.lake.store import Committed
from pipeline.runs.sync import Progress, WindowResult

TODAY = date(2026, 12, 3)
SYNCED = datetime(2026, 12, 2, 2, 0, 5, tzinfo=UTC)


def _row(day: date, status: str, *, published: bool = True, error: str | None = None) -> WindowRow:
    tables = {"workflows": Committed("workflows", 4, ("f.parquet",), 10)} if published else {}
    return WindowRow(day, status, workflows=10, synced_at=SYNCED, error=error, tables=tables)


def test_every_reason_from_the_ledger_state() -> None:
    days = [date(2026, 11, d) for d in range(24, 31)] + [TODAY]
    rows = {
        date(2026, 11, 25): _row(date(2026, 11, 25), "failed", error="window: page 3 failed"),
        date(2026, 11, 26): _row(date(2026, 11, 26), "running"),  # its process died
        date(2026, 11, 27): _row(date(2026, 11, 27), "running"),  # held by a live process
        date(2026, 11, 28): _row(date(2026, 11, 28), "partial"),
        date(2026, 11, 29): _row(date(2026, 11, 29), "complete"),
        date(2026, 11, 30): _row(date(2026, 11, 30), "failed", published=False),
        TODAY: _row(TODAY, "partial"),
    }

    def status_of(row: WindowRow) -> str:
        if row.status == "running":
            return "running" if row.window_date == date(2026, 11, 27) else "interrupted"
        return row.status

    nightly = plan(days, rows, today=TODAY, nightly=True, status_of=status_of)
    reasons = {p.day.day: p.reason for p in nightly}
    assert reasons == {
        24: "missing",
        25: "failed",
        26: "interrupted",
        27: "running",
        28: "partial",
        29: "lookback",
        30: "failed",
        3: "partial",
    }
    details = {p.day.day: p.detail for p in nightly}
    assert "page 3 failed" in details[25] and "previous data is kept" in details[25]
    assert "no data yet" in details[30]
    assert "2026-12-02 02:00:05Z" in details[29]
    backfill = plan(days, rows, today=TODAY, nightly=False, status_of=status_of)
    assert {p.day.day: p.reason for p in backfill}[29] == "requested"
    assert {p.reason for p in nightly + backfill} == set(REASONS)
    document = nightly[1].as_dict()
    assert document["window_date"] == "2026-11-25" and document["status"] == "failed"


def _result(day: date, **figures: float) -> WindowResult:
    result = WindowResult(day, "complete", 3, 300, 320, 350, 400, 300, "server", 0, 1.5)
    for name, value in figures.items():
        setattr(result, name, value)
    return result


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_off_a_terminal_enrichment_logs_each_tenth_with_rate_and_eta(caplog) -> None:
    clock = _Clock()
    progress = RunProgress(
        2, "syncing", console=Console(file=io.StringIO()), interval=10.0, clock=clock
    )
    day = date(2026, 12, 1)
    with caplog.at_level(logging.INFO, logger="pipeline.cli.progress"), progress.running():
        for done in range(1, 1001):
            clock.now += 0.05  # 20 jobs/s: 1000 jobs take 50 s, so the interval fires too
            progress.enrich(day, done, 1000)
        progress(Progress(day, 3, 300, _result(day, jobs_looked_up=1000, enrich_seconds=50.0)))
    enriching = [r for r in caplog.records if r.getMessage() == "enriching"]
    # one line per tenth (10 of them; the first at 100 done), none in between
    assert [r.done for r in enriching] == list(range(100, 1001, 100))
    middle = enriching[4]
    assert middle.total == 1000 and middle.pct == 50.0
    assert middle.jobs_per_s == pytest.approx(20.0, rel=0.01)
    assert middle.eta_s == pytest.approx(25, abs=1)
    (finished,) = [r for r in caplog.records if r.getMessage() == "window complete"]
    assert finished.windows_done == 1 and finished.windows == 2 and finished.enrich_s == 50.0


def test_off_a_terminal_a_slow_fetch_logs_every_interval(caplog) -> None:
    clock = _Clock()
    progress = RunProgress(1, "syncing", console=Console(file=io.StringIO()), clock=clock)
    day = date(2026, 12, 1)
    with caplog.at_level(logging.INFO, logger="pipeline.cli.progress"), progress.running():
        for page in range(1, 61):
            clock.now += 1.0
            progress(Progress(day, page, page * 100))
    fetching = [r for r in caplog.records if r.getMessage() == "fetching"]
    assert [r.pages for r in fetching] == [11, 21, 31, 41, 51]
    assert fetching[0].workflows == 1100 and fetching[0].seconds == pytest.approx(10.0)


def test_on_a_terminal_bars_show_the_days_and_the_enrichment_with_an_eta() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    progress = RunProgress(2, "syncing", console=console)
    day = date(2026, 12, 1)
    with progress.running():
        progress(Progress(day, 2, 200))
        progress.enrich(day, 40, 100)
        assert progress._bars is not None
        progress._bars.refresh()
        shown = out.getvalue()
        progress(Progress(day, 3, 300, _result(day, fetch_seconds=0.4, jobs_looked_up=100)))
    assert "fetch 2026-12-01: page 2, 200 workflows" in shown
    assert "enrich 2026-12-01" in shown and "40/100" in shown and "eta" in shown
    assert "syncing days" in shown and "0/2" in shown
    assert "fetched in 0.40 s" in out.getvalue() and "100 jobs looked up" in out.getvalue()


def test_run_figures_sum_the_windows_and_give_requests_per_second() -> None:
    day = date(2026, 12, 1)
    results = [
        _result(day, requests=4, rate_limited=1, fetch_seconds=2.0, jobs_looked_up=300),
        _result(day, requests=6, fetch_seconds=3.0, enrich_requests=500, enrich_seconds=10.0),
    ]
    results[0].enrich_requests, results[0].enrich_seconds, results[0].enrich_rate_limited = (
        310,
        10.0,
        7,
    )
    figures = RunFigures.of(results, 31.0)
    assert figures.fetch_rate == pytest.approx(10 / 5.0)
    assert figures.enrich_rate == pytest.approx(810 / 20.0)
    text = "\n".join(figures.lines())
    assert "Run: 2 day(s) in 31.00 s." in text
    assert "10 requests, 1 answered 429, 2.0 requests/s in 5.00 s" in text
    assert "810 requests, 7 answered 429, 40.5 requests/s in 20.00 s" in text


def test_eta() -> None:
    assert eta_seconds(25, 100, 10.0) == pytest.approx(30.0)
    assert eta_seconds(0, 100, 10.0) is None
    assert eta_seconds(100, 100, 10.0) == 0.0
