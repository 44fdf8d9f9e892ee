"""`civitai-sync sync | rebuild`: the incremental sync from the command line.

The commands run the same library functions as the Dagster assets (`pipeline.runs.sync`,
`pipeline.warehouse.publish`), so a window synced here and one materialized in Dagster are the
same. `status` lives in status_commands, `demo` in demo_commands.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import click
from rich.console import Console
from rich.text import Text

from pipeline.api import shared_budget
from pipeline.cli import exits
from pipeline.cli.output import (
    data_table,
    emit_json,
    published_line,
    stdout_console,
)
from pipeline.cli.plan import plan
from pipeline.cli.progress import (
    REBUILD_COLUMNS,
    SYNC_COLUMNS,
    RunFigures,
    RunProgress,
    summary_table,
)
from pipeline.cli.windows import date_options, day_span, shown_status
from pipeline.core import settings as defaults
from pipeline.core.errors import ConfigError
from pipeline.core.numbers import MAX_DAYS, count
from pipeline.core.settings import Settings
from pipeline.fetch import archive
from pipeline.fetch.windows import day_range, nightly_dates, utc_today
from pipeline.lake.ledger import Ledger
from pipeline.lake.store import Lake
from pipeline.runs.sync import Progress as SyncProgress
from pipeline.runs.sync import WindowResult, rebuild_range, sync_range
from pipeline.warehouse.publish import publish_warehouse


def register(group: click.Group) -> None:
    """Attach this family's commands to the root group."""
    for command in (sync, rebuild):
        group.add_command(command)


# --------------------------------------------------------------------------- endings


def finish(console: Console, results: Sequence[WindowResult], settings: Settings) -> None:
    """Publish the warehouse (the good windows are worth publishing even when one failed),
    then exit 1 if a window failed, 3 if windows were only left to another process."""
    published_line(console, publish_warehouse(settings))
    failed = [r for r in results if r.status == "failed"]
    busy = [r for r in results if r.status == "busy"]
    if failed:
        days = ", ".join(str(r.window_date) for r in failed)
        raise exits.RunFailed(
            f"{len(failed)} window(s) failed: {days}. Their previous data is unchanged; "
            "see `civitai-sync status` and run the sync again for them."
        )
    if busy:
        days = ", ".join(str(r.window_date) for r in busy)
        raise exits.Busy(
            f"{len(busy)} window(s) left to another process that is syncing them: {days}. "
            "Nothing failed; run again once it is done."
        )


# --------------------------------------------------------------------------- sync


def _client(settings: Settings) -> Any:
    from pipeline.api.client import OrchestrationClient

    if not settings.token:
        raise ConfigError(
            f"No API token: set {defaults.ENV_TOKEN} (or put it in .env). "
            "To try the pipeline without one, run `civitai-sync demo`."
        )
    budget: Any = shared_budget.from_env(settings.api_url, settings.token)
    return OrchestrationClient(
        base_url=settings.api_url,
        token=settings.token,
        rate_limiter=budget,
        allow_insecure_http=settings.allow_insecure_http,
    )


def _sync_dates(first: date | None, last: date | None, lookback: int | None) -> list[date]:
    today = utc_today()
    if first is None:
        dates = nightly_dates(
            today, defaults.DEFAULT_LOOKBACK_DAYS if lookback is None else lookback
        )
    else:
        dates = day_range(first, last or max(first, today - timedelta(days=1)))
    if dates and dates[-1] > today:
        raise click.UsageError(
            f"{dates[-1]} is in the future (today is {today} UTC): sync days up to today."
        )
    return dates


@click.command()
@date_options
@click.option(
    "--lookback",
    type=count(0, MAX_DAYS),
    default=None,
    help=f"Nightly run: also re-sync this many days before yesterday "
    f"[default: {defaults.DEFAULT_LOOKBACK_DAYS}].",
)
@click.option("--no-jobs", is_flag=True, help="Skip job enrichment (scan scores, providers).")
@click.option(
    "--allow-shrink",
    is_flag=True,
    help="Accept a re-synced day that came back with less than half of the workflows the "
    "ledger recorded for it (refused by default: the previous data is kept).",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Show which windows would be fetched and why (from the ledger), without any request "
    "or write.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="With --dry-run: print the plan as JSON on stdout."
)
def sync(
    date_from: str | None,
    date_to: str | None,
    lookback: int | None,
    no_jobs: bool,
    allow_shrink: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Sync UTC days from the API into the lake, then publish the warehouse.

    Without dates: the nightly run, yesterday plus --lookback earlier days (late finishers
    are picked up). With --from/--to: a backfill of every day in the range, both included
    (--to defaults to yesterday).

    \b
    Examples:
      civitai-sync sync                                    # the nightly run
      civitai-sync sync --dry-run                          # what it would fetch, and why
      civitai-sync sync --from 2026-09-01 --to 2026-11-30  # a backfill
    """
    first, last = day_span(date_from, date_to)
    if first is not None and lookback is not None:
        raise click.UsageError("--lookback is for the nightly run; with --from/--to leave it out.")
    if as_json and not dry_run:
        raise click.UsageError("--json goes with --dry-run (the run's summary is a table).")
    dates = _sync_dates(first, last, lookback)
    settings = Settings.from_env()
    if dry_run:
        _dry_run(settings, dates, nightly=first is None, enrich=not no_jobs, as_json=as_json)
        return
    console = stdout_console()
    started = time.monotonic()
    with _client(settings) as client:
        progress = RunProgress(len(dates), "syncing")
        with progress.running():
            results = sync_range(
                settings,
                client,
                dates,
                enrich=not no_jobs,
                on_progress=progress,
                on_enrich=progress.enrich,
                allow_shrink=allow_shrink,
            )
    figures = RunFigures.of(results, time.monotonic() - started)
    summary_table(
        console, results, f"Synced {len(dates)} day(s) into {settings.lake_location}", SYNC_COLUMNS
    )
    for line in figures.lines():
        console.print(Text(line), soft_wrap=True)
    figures.log()
    finish(console, results, settings)


def _dry_run(
    settings: Settings, dates: list[date], *, nightly: bool, enrich: bool, as_json: bool
) -> None:
    ledger = Ledger(Lake.from_settings(settings))
    rows = {row.window_date: row for row in ledger.rows(dates)}
    planned = plan(
        dates,
        rows,
        today=utc_today(),
        nightly=nightly,
        status_of=lambda row: shown_status(settings, row),
    )
    if as_json:
        emit_json(
            {
                "dry_run": True,
                "form": "nightly" if nightly else "range",
                "enrich": enrich,
                "token_set": bool(settings.token),
                "windows": [p.as_dict() for p in planned],
            }
        )
        return
    console = stdout_console()
    form = "the nightly run" if nightly else f"{dates[0]} .. {dates[-1]}"
    table = data_table(
        f"Dry run: {len(dates)} window(s) a sync would fetch ({form}); nothing was sent or written",
        ["day", "reason", "status now", "workflows", "jobs enriched/jobs", "why"],
        no_wrap=["day", "reason", "status now"],
    )
    for p in planned:
        enriched = "-" if p.jobs_enriched is None else f"{p.jobs_enriched}/{p.jobs or 0}"
        table.add_row(
            str(p.day),
            p.reason,
            p.status or "-",
            "-" if p.workflows is None else str(p.workflows),
            enriched,
            p.detail,
        )
    console.print(table)
    jobs = "then look up each job not yet final" if enrich else "without job lookups (--no-jobs)"
    console.print(Text(f"Each window is fetched whole and replaced, {jobs}."), soft_wrap=True)
    if not settings.token:
        console.print(
            Text(f"No API token is set: a real sync needs {defaults.ENV_TOKEN}.", style="yellow")
        )


# --------------------------------------------------------------------------- rebuild


@click.command()
@date_options
def rebuild(date_from: str | None, date_to: str | None) -> None:
    """Re-flatten the lake from the raw page archive (no API calls), then publish.

    Without dates: every archived day.

    \b
    Example:
      civitai-sync rebuild --from 2026-11-01 --to 2026-11-30
    """
    first, last = day_span(date_from, date_to)
    settings = Settings.from_env()
    raw = archive.RawArchive.from_settings(settings)
    dates = raw.days() if first is None else day_range(first, last or first)
    if not dates:
        raise ConfigError(
            f"Nothing to rebuild: no raw archive under {raw.location}. "
            "Run `civitai-sync sync` first."
        )
    console = stdout_console()
    results = []
    progress = RunProgress(len(dates), "rebuilding")
    with progress.running():
        for day in dates:
            (result,) = rebuild_range(settings, [day])
            results.append(result)
            progress(SyncProgress(day, result.pages, result.workflows, result))
    summary_table(
        console, results, f"Rebuilt {len(dates)} day(s) from {raw.location}", REBUILD_COLUMNS
    )
    finish(console, results, settings)
