"""`sync --dry-run`: which windows a sync would fetch, and why, from the ledger alone.

Nothing here sends a request or writes a file: the ledger is read, and a `running` window's
lock is only tested (the same test `status` makes).

Every window a sync is given is fetched again whole (that is what makes a re-run idempotent);
the reason says what state it replaces:

    missing      never synced (or forgotten)
    partial      today's window (still growing: published as partial), or a day synced
                 before it ended
    failed       the last sync failed (the previous data, if any, is kept until one succeeds)
    interrupted  a sync died mid-way (killed, crashed); the previous data is kept
    running      another process is syncing it now: this sync waits for its lock, then
                 leaves it (exit status 3)
    lookback     complete, fetched again because the nightly run re-syncs its last days
                 (workflows that finish late change)
    requested    complete, fetched again because --from/--to asked for it
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from pipeline.lake.ledger import WindowRow
from pipeline.runs.guard import LOCK_TIMEOUT_SECONDS

REASONS = ("missing", "partial", "failed", "interrupted", "running", "lookback", "requested")


@dataclass(frozen=True)
class Planned:
    """One window of the plan: why it would be fetched, and what the ledger says of it now."""

    day: date
    reason: str
    detail: str
    status: str | None = None
    workflows: int | None = None
    jobs: int | None = None
    jobs_enriched: int | None = None
    synced_at: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "window_date": self.day.isoformat(),
            "reason": self.reason,
            "detail": self.detail,
            "status": self.status,
            "workflows": self.workflows,
            "jobs": self.jobs,
            "jobs_enriched": self.jobs_enriched,
            "synced_at": self.synced_at,
        }


def _synced(row: WindowRow) -> str:
    at = row.synced_at
    return at.strftime("%Y-%m-%d %H:%M:%SZ") if at else "never"


def _why(
    day: date, row: WindowRow | None, status: str | None, *, today: date, nightly: bool
) -> tuple[str, str]:
    if row is None or status is None:
        if day >= today:
            return "missing", "never synced; today's window is still growing: published as partial"
        return "missing", "never synced (or forgotten)"
    kept = "the previous data is kept" if row.published else "no data yet"
    if status == "running":
        return "running", (
            f"another process is syncing it now: this sync waits up to "
            f"{LOCK_TIMEOUT_SECONDS:.0f} s for its lock, then leaves it (exit status 3)"
        )
    if status == "interrupted":
        return "interrupted", f"a sync stopped mid-way (killed or crashed); {kept}"
    if status == "failed":
        return "failed", f"the last sync failed ({row.error or 'no error recorded'}); {kept}"
    if day >= today:
        return "partial", "today's window: still growing, published as partial"
    if status == "partial":
        return "partial", f"synced before the day ended ({_synced(row)}): fetched again whole"
    if nightly:
        return "lookback", (
            f"complete (synced {_synced(row)}); the nightly run fetches its last days again "
            "for workflows that finished late"
        )
    return "requested", f"complete (synced {_synced(row)}); replaced by what the API returns now"


def plan(
    dates: Sequence[date],
    rows: Mapping[date, WindowRow],
    *,
    today: date,
    nightly: bool,
    status_of: Callable[[WindowRow], str],
) -> list[Planned]:
    """The reason for each of `dates`; `status_of` gives a row's shown status (a `running`
    row whose process died is `interrupted`)."""
    planned = []
    for day in dates:
        row = rows.get(day)
        status = status_of(row) if row is not None else None
        reason, detail = _why(day, row, status, today=today, nightly=nightly)
        planned.append(
            Planned(
                day,
                reason,
                detail,
                status=status,
                workflows=row.workflows if row else None,
                jobs=row.jobs if row else None,
                jobs_enriched=row.jobs_enriched if row else None,
                synced_at=_synced(row) if row and row.synced_at else None,
            )
        )
    return planned
