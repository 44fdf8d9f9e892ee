"""The sync_windows ledger in SQLite."""

from __future__ import annotations

import multiprocessing
from datetime import date
from pathlib import Path

from pipeline.core.settings import Settings
from pipeline.lake.ledger import Ledger, record_enrichment

D1, D2, D3, D5 = date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 3), date(2026, 1, 5)


def counts(**overrides: object) -> dict:
    base = dict(
        pages=2,
        workflows=150,
        steps=160,
        jobs=170,
        blobs=180,
        transactions=190,
        filter_mode="server",
        retries=1,
        seconds=1.5,
    )
    base.update(overrides)
    return base


def test_start_complete_fail_keeps_the_last_good_counts(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    ledger.start(D1, run_id="r1")
    row = ledger.get(D1)
    assert row is not None and row.status == "running" and row.started_at is not None
    ledger.complete(D1, **counts(), run_id="r1")
    row = ledger.get(D1)
    assert (row.status, row.workflows, row.filter_mode, row.error) == (
        "complete",
        150,
        "server",
        None,
    )
    assert row.finished_at is not None and row.finished_at >= row.started_at

    ledger.start(D1, run_id="r2")
    ledger.fail(D1, "window 2026-01-01: page 3 failed: broken JSON", run_id="r2")
    row = ledger.get(D1)
    assert row.status == "failed"
    assert "page 3" in row.error
    assert row.workflows == 150  # the published data of r1 is still what the lake holds
    assert row.run_id == "r2"

    ledger.complete(D1, **counts(workflows=151), run_id="r3")
    assert ledger.get(D1).error is None and ledger.get(D1).workflows == 151


def test_gaps_are_days_without_a_row(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    assert ledger.gaps() == [] and ledger.rows() == []
    for day in (D5, D1, D2):
        ledger.complete(day, **counts())
    assert [r.window_date for r in ledger.rows()] == [D1, D2, D5]
    assert ledger.gaps() == [D3, date(2026, 1, 4)]
    assert [r.window_date for r in ledger.rows([D2, D3])] == [D2]


def test_enrichment_counts_are_recorded_without_touching_the_sync(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    ledger = Ledger(settings.ledger_path)
    ledger.complete(D1, **counts())
    record_enrichment(settings, D1, jobs_enriched=160, jobs_enrich_failed=3, jobs_not_found=7)
    record_enrichment(settings, D1, jobs_enriched=165, jobs_enrich_failed=None, jobs_not_found=7)
    row = ledger.get(D1)
    assert (row.status, row.workflows) == ("complete", 150)
    assert (row.jobs_enriched, row.jobs_enrich_failed, row.jobs_not_found) == (165, 3, 7)


def _hammer(path: str, offset: int) -> None:
    ledger = Ledger(Path(path))
    for n in range(40):
        day = date(2026, 2, 1 + (n + offset) % 20)
        ledger.start(day, run_id=f"p{offset}")
        ledger.complete(day, **counts(workflows=n), run_id=f"p{offset}")


def test_several_processes_share_the_ledger(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    Ledger(path)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_hammer, args=(str(path), k)) for k in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    rows = Ledger(path).rows()
    assert len(rows) == 20 and all(r.status == "complete" for r in rows)
