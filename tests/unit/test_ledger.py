"""The window ledger: an append-only Delta event log folded into each window's state."""

from __future__ import annotations

import multiprocessing
from datetime import date
from pathlib import Path

from pipeline.lake.ledger import Ledger
from pipeline.lake.store import Committed, Lake

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


def files(version: int, *names: str) -> dict[str, Committed]:
    return {"workflows": Committed("workflows", version, names, 150, "cols")}


def ledger_at(path: Path) -> Ledger:
    return Ledger(Lake(str(path)))


def test_start_complete_fail_keeps_the_last_good_counts_and_files(tmp_path: Path) -> None:
    ledger = ledger_at(tmp_path)
    ledger.start(D1, run_id="r1")
    row = ledger.get(D1)
    assert row is not None and row.status == "running" and row.started_at is not None
    assert not row.published
    ledger.complete(D1, tables=files(3, "a.parquet"), **counts(), run_id="r1")
    row = ledger.get(D1)
    assert (row.status, row.workflows, row.filter_mode, row.error) == (
        "complete",
        150,
        "server",
        None,
    )
    assert row.versions == {"workflows": 3} and row.tables["workflows"].files == ("a.parquet",)
    assert row.finished_at is not None and row.finished_at >= row.started_at

    ledger.start(D1, run_id="r2")
    ledger.fail(D1, "window 2026-01-01: page 3 failed: broken JSON", run_id="r2")
    row = ledger.get(D1)
    assert row.status == "failed"
    assert "page 3" in row.error
    # The published data of r1 is still what the warehouse reads.
    assert row.workflows == 150 and row.tables["workflows"].files == ("a.parquet",)
    assert row.published and row.run_id == "r2"

    ledger.complete(D1, tables=files(4, "b.parquet"), **counts(workflows=151), run_id="r3")
    row = ledger.get(D1)
    assert row.error is None and row.workflows == 151 and row.versions == {"workflows": 4}


def test_todays_window_is_partial(tmp_path: Path) -> None:
    ledger = ledger_at(tmp_path)
    ledger.complete(D1, tables=files(1, "a"), partial=True, **counts())
    row = ledger.get(D1)
    assert row.status == "partial" and row.published


def test_gaps_are_days_without_a_row(tmp_path: Path) -> None:
    ledger = ledger_at(tmp_path)
    assert ledger.gaps() == [] and ledger.rows() == []
    for day in (D5, D1, D2):
        ledger.complete(day, tables={}, **counts())
    assert [r.window_date for r in ledger.rows()] == [D1, D2, D5]
    assert ledger.gaps() == [D3, date(2026, 1, 4)]
    assert [r.window_date for r in ledger.rows([D2, D3])] == [D2]


def test_enrichment_is_recorded_without_touching_the_sync(tmp_path: Path) -> None:
    ledger = ledger_at(tmp_path)
    ledger.complete(D1, tables=files(1, "w"), **counts())
    details = {"job_details": Committed("job_details", 2, ("d",), 160, "c")}
    ledger.record_enrichment(
        D1, jobs_enriched=160, jobs_enrich_failed=3, jobs_not_found=7, tables=details
    )
    ledger.record_enrichment(D1, jobs_enriched=165, jobs_enrich_failed=None, jobs_not_found=7)
    row = ledger.get(D1)
    assert (row.status, row.workflows) == ("complete", 150)
    assert (row.jobs_enriched, row.jobs_enrich_failed, row.jobs_not_found) == (165, 3, 7)
    assert row.versions == {"job_details": 2, "workflows": 1}
    # A later sync replaces the workflow tables' files and keeps the enrichment's.
    ledger.complete(D1, tables=files(5, "w2"), **counts())
    assert ledger.get(D1).versions == {"job_details": 2, "workflows": 5}


def test_a_forgotten_window_is_gone_until_synced_again(tmp_path: Path) -> None:
    ledger = ledger_at(tmp_path)
    ledger.complete(D1, tables=files(1, "a"), **counts())
    ledger.complete(D2, tables=files(2, "b"), **counts())
    ledger.forget([D1])
    assert [r.window_date for r in ledger.rows()] == [D2]
    ledger.complete(D1, tables=files(3, "c"), **counts(workflows=9))
    assert ledger.get(D1).workflows == 9


def _hammer(path: str, offset: int) -> None:
    ledger = ledger_at(Path(path))
    for n in range(12):
        day = date(2026, 2, 1 + (n + offset) % 10)
        ledger.start(day, run_id=f"p{offset}")
        ledger.complete(day, tables={}, **counts(workflows=n), run_id=f"p{offset}")


def test_several_processes_append_to_the_ledger_at_once(tmp_path: Path) -> None:
    ledger_at(tmp_path).start(D1)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_hammer, args=(str(tmp_path), k)) for k in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    rows = ledger_at(tmp_path).rows()
    assert len(rows) == 11
    assert all(r.status == "complete" for r in rows if r.window_date != D1)
    events = ledger_at(tmp_path).events().to_pylist()
    # No event lost; compactions racing the appends may repeat one (read once by rows()).
    assert len({tuple(e.values()) for e in events}) == 1 + 3 * 12 * 2


def test_a_scattered_log_is_compacted_and_reads_the_same(tmp_path: Path) -> None:
    from datetime import timedelta

    from deltalake import DeltaTable

    from pipeline.lake import ledger as ledger_module

    ledger = ledger_at(tmp_path)
    days = [D1 + timedelta(days=i) for i in range(ledger_module.COMPACT_AFTER_FILES // 2 + 2)]
    for i, day in enumerate(days):
        ledger.start(day)
        ledger.complete(day, tables=files(i + 1, f"f{i}.parquet"), **counts(workflows=i))
    live = DeltaTable(ledger.uri).get_add_actions(flatten=True).num_rows
    assert live < 2 * len(days)  # two appends a day, compacted on the way
    rows = ledger.rows()
    assert [r.window_date for r in rows] == days
    assert [r.workflows for r in rows] == list(range(len(days)))
    assert all(r.status == "complete" for r in rows)
    assert ledger.get(days[-1]).tables["workflows"].files == (f"f{len(days) - 1}.parquet",)
