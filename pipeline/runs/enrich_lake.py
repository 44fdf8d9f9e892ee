"""What an enrichment pass reads from the lake (the window's jobs, which are final) and how
it publishes: job_details, scan_scores and the raw job archive staged, then published together
or not at all, and recorded in the ledger.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.core.settings import Settings
from pipeline.enrich import archive
from pipeline.enrich.job_details import JobRows, not_found_row
from pipeline.lake.ledger import Ledger
from pipeline.lake.staging import StagedTable
from pipeline.lake.store import Committed, Lake


def window_jobs(lake: Lake, window_date: date) -> list[tuple[str, str | None]] | None:
    """(job_id, workflow_id) of the window's jobs, or None when the window was never synced."""
    if not lake.window_files("jobs", window_date):
        return None
    seen: set[str] = set()
    jobs: list[tuple[str, str | None]] = []
    for batch in lake.batches("jobs", window_date, ["job_id", "workflow_id"]):
        for job_id, workflow_id in zip(
            batch.column(0).to_pylist(), batch.column(1).to_pylist(), strict=True
        ):
            if job_id is not None and job_id not in seen:
                seen.add(job_id)
                jobs.append((job_id, workflow_id))
    return jobs


def final_state(lake: Lake, window_date: date) -> dict[str, bool]:
    """job_id -> is_final of the window's current job_details (a 404 row is final)."""
    state: dict[str, bool] = {}
    for batch in lake.batches("job_details", window_date, ["job_id", "is_final", "found"]):
        for job_id, is_final, found in zip(*(c.to_pylist() for c in batch.columns), strict=True):
            state[job_id] = bool(is_final) or found is False
    return state


def carried_rows(lake: Lake, table: str, window_date: date, job_ids: set[str]) -> Iterator[Any]:
    if not job_ids:
        return
    wanted = pa.array(sorted(job_ids), pa.string())
    for batch in lake.batches(table, window_date):
        kept = batch.filter(pc.is_in(batch.column("job_id"), value_set=wanted))
        if kept.num_rows:
            yield kept


class Outputs:
    """A pass's job_details and scan_scores files and job archive, published together or not
    at all."""

    def __init__(
        self, settings: Settings, lake: Lake, window_date: date, *, with_archive: bool
    ) -> None:
        self.window_date = window_date
        self.archive = (
            archive.JobArchive.from_settings(settings).writer(window_date, settings.work_dir)
            if with_archive
            else None
        )
        self.details = StagedTable(lake, "job_details", window_date)
        self.scores = StagedTable(lake, "scan_scores", window_date)

    def add_not_found(self, job_id: str, workflow_id: str | None, fetched_at: datetime) -> None:
        """A job the API answered 404 for: a row with `found=false`, final."""
        self.details.add_rows(
            [
                not_found_row(
                    job_id=job_id,
                    workflow_id=workflow_id,
                    window_date=self.window_date,
                    fetched_at=fetched_at,
                )
            ]
        )

    def add_job(self, rows: JobRows) -> None:
        self.details.add_rows([rows.details])
        self.scores.add_rows(rows.scan_scores)

    def publish(self, lake: Lake, carried: set[str]) -> dict[str, Committed]:
        day = self.window_date
        if self.archive is not None:
            self.archive.carry_over(carried)
            self.archive.publish()
        self.scores.add_batches(carried_rows(lake, "scan_scores", day, carried))
        self.details.add_batches(carried_rows(lake, "job_details", day, carried))
        return {"scan_scores": self.scores.commit(), "job_details": self.details.commit()}

    def discard(self) -> None:
        if self.archive is not None:
            self.archive.abort()
        self.details.discard()
        self.scores.discard()


def found_counts(lake: Lake, window_date: date) -> tuple[int, int]:
    """(found, not found) rows of the window's published job_details."""
    found = not_found = 0
    for batch in lake.batches("job_details", window_date, ["found"]):
        yes = pc.sum(pc.cast(batch.column(0), pa.int64())).as_py() or 0
        found += int(yes)
        not_found += batch.num_rows - int(yes)
    return found, not_found


def record(
    lake: Lake, window_date: date, commits: dict[str, Committed], *, failed: int | None
) -> int:
    """Record a published pass in the ledger; the window's enriched (found) jobs."""
    enriched, not_found_total = found_counts(lake, window_date)
    Ledger(lake).record_enrichment(
        window_date,
        jobs_enriched=enriched,
        jobs_enrich_failed=failed,
        jobs_not_found=not_found_total,
        tables=commits,
    )
    return enriched
