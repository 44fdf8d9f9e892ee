"""What a window's run reports: its `WindowResult` (to the CLI, Dagster and the ledger) and
the `Progress` events of a range."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from pipeline.core.errors import WindowBusyError, WindowError
from pipeline.fetch.windows import utc_today
from pipeline.flatten.window import FlattenResult
from pipeline.runs import enrich


@dataclass
class WindowResult:
    window_date: date
    status: str
    pages: int
    workflows: int
    steps: int
    jobs: int
    blobs: int
    transactions: int
    filter_mode: str
    retries: int
    seconds: float
    error: str | None = None
    verdicts: int = 0
    # The run's figures: the fetch alone (list requests, 429 answers, seconds from the first
    # request to the last page), then the job enrichment (jobs asked for, requests, 429s).
    fetch_seconds: float = 0.0
    requests: int = 0
    rate_limited: int = 0
    jobs_looked_up: int = 0
    enrich_requests: int = 0
    enrich_rate_limited: int = 0
    enrich_seconds: float = 0.0


@dataclass
class Progress:
    """A progress event of sync_range: after each page, and once per finished window."""

    window_date: date
    pages: int
    workflows: int
    result: WindowResult | None = None


def window_status(day: date) -> str:
    """Today's window is still growing: published, but never `complete`."""
    return "partial" if day >= utc_today() else "complete"


def window_result(
    day: date,
    status: str,
    pages: int,
    flat: FlattenResult,
    mode: str,
    retries: int,
    seconds: float,
) -> WindowResult:
    rows = flat.rows
    return WindowResult(
        window_date=day,
        status=status,
        pages=pages,
        workflows=rows["workflows"],
        steps=rows["steps"],
        jobs=rows["jobs"],
        blobs=rows["blobs"],
        transactions=rows["transactions"],
        filter_mode=mode,
        retries=retries,
        seconds=round(seconds, 3),
        verdicts=rows.get("moderation_verdicts", 0),
    )


def ledger_counts(result: WindowResult) -> dict[str, Any]:
    """The result's figures as the ledger's `complete` event records them."""
    return {
        "pages": result.pages,
        "workflows": result.workflows,
        "steps": result.steps,
        "jobs": result.jobs,
        "blobs": result.blobs,
        "transactions": result.transactions,
        "verdicts": result.verdicts,
        "filter_mode": result.filter_mode,
        "retries": result.retries,
        "seconds": result.seconds,
    }


def failed_result(day: date, error: str | WindowError) -> WindowResult:
    """The result of a window that was not synced: `busy` when another process holds it
    (nothing was changed), else `failed`."""
    status = "busy" if isinstance(error, WindowBusyError) else "failed"
    return WindowResult(day, status, 0, 0, 0, 0, 0, 0, "", 0, 0.0, str(error))


def add_enrichment(result: WindowResult, outcome: Any) -> None:
    """The job enrichment's figures, when the enricher was `pipeline.runs.enrich`'s."""
    if isinstance(outcome, enrich.EnrichResult):
        result.jobs_looked_up = outcome.looked_up
        result.enrich_requests = outcome.requests
        result.enrich_rate_limited = outcome.rate_limited
        result.enrich_seconds = round(outcome.seconds, 3)
