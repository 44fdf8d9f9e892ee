"""What the commands about windows share: the day options, a window's shown status, spans."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Any

import click

from pipeline.core.settings import Settings
from pipeline.lake.ledger import WindowRow
from pipeline.runs.guard import window_locked


def parse_day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date; use YYYY-MM-DD (UTC day).", param_hint=option
        ) from None


def day_span(date_from: str | None, date_to: str | None) -> tuple[date | None, date | None]:
    """The --from/--to pair as days (usage errors for a bad date or a backwards range)."""
    first = parse_day(date_from, "--from")
    last = parse_day(date_to, "--to")
    if last is not None and first is None:
        raise click.UsageError("--to needs --from: give the first day of the range too.")
    if first is not None and last is not None and first > last:
        raise click.UsageError(f"--from {first} is after --to {last}.")
    return first, last


def date_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option(
        "--to", "date_to", metavar="DATE", help="Last UTC day, included (YYYY-MM-DD)."
    )(func)
    return click.option("--from", "date_from", metavar="DATE", help="First UTC day (YYYY-MM-DD).")(
        func
    )


def shown_status(settings: Settings, row: WindowRow) -> str:
    """The ledger's status, except that a `running` window whose lock nobody holds was left by
    a process that died: `interrupted`. Where the lock cannot be checked (a data dir this user
    may only read), the recorded `running` is shown."""
    if row.status != "running":
        return row.status
    try:
        held = window_locked(settings, row.window_date)
    except OSError:
        return row.status
    return "running" if held else "interrupted"


def spans(days: Sequence[date]) -> list[str]:
    """Consecutive days collapsed into `first..last`."""
    runs: list[list[date]] = []
    for day in sorted(days):
        if runs and day - runs[-1][1] == timedelta(days=1):
            runs[-1][1] = day
        else:
            runs.append([day, day])
    return [str(a) if a == b else f"{a}..{b}" for a, b in runs]
