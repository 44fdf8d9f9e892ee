"""Sync windows: one UTC day, half-open [00:00, next 00:00), keyed by a workflow's createdAt.

The day is the unit of fetch, of lake partition, of Dagster partition and of the ledger, so
every part of the pipeline derives its boundaries from here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

# [lo, hi): a part of a window (a sub-window chain's share of the day).
Bounds = tuple[datetime, datetime]


@dataclass(frozen=True, order=True)
class Window:
    day: date

    @property
    def start(self) -> datetime:
        return datetime.combine(self.day, time(0), tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """Exclusive: the first instant of the next day."""
        return self.start + timedelta(days=1)

    @property
    def key(self) -> str:
        return self.day.isoformat()

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    def __str__(self) -> str:
        return self.key


def window_of(moment: datetime) -> Window:
    """The window a createdAt falls in (naive datetimes are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return Window(moment.astimezone(UTC).date())


def parse_day(text: str) -> date:
    """`YYYY-MM-DD` -> date; ValueError with the expected format otherwise."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a date; use YYYY-MM-DD") from None


def day_range(first: date, last: date) -> list[date]:
    """Every day from `first` to `last`, both included."""
    if last < first:
        raise ValueError(f"the range ends ({last}) before it starts ({first})")
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def nightly_dates(today: date, lookback: int) -> list[date]:
    """Yesterday and `lookback` earlier days, oldest first.

    Workflows that were still running at the last sync finish later; re-syncing the previous
    days picks up their final state.
    """
    if lookback < 0:
        raise ValueError("lookback must be 0 or more days")
    yesterday = today - timedelta(days=1)
    return day_range(yesterday - timedelta(days=lookback), yesterday)


def utc_today() -> date:
    return datetime.now(UTC).date()


def iter_gaps(days: list[date]) -> Iterator[date]:
    """Days missing between the first and last of `days` (any order, duplicates allowed)."""
    present = set(days)
    if not present:
        return
    for day in day_range(min(present), max(present)):
        if day not in present:
            yield day
