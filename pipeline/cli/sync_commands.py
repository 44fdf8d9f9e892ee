"""`civitai-sync sync | rebuild | status | demo`: the incremental sync from the command line.

The commands run the same library functions as the Dagster assets (`pipeline.runs.sync`,
`pipeline.warehouse.publish`), so a window synced here and one materialized in Dagster are the same.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from pipeline.api import shared_budget
from pipeline.cli.output import data_table, format_seconds, stdout_console, text
from pipeline.core import settings as defaults
from pipeline.core.errors import ConfigError
from pipeline.core.settings import Settings
from pipeline.fetch import archive
from pipeline.fetch.windows import day_range, nightly_dates, utc_today
from pipeline.lake.ledger import Ledger, WindowRow
from pipeline.lake.store import Lake
from pipeline.runs.sync import Progress as SyncProgress
from pipeline.runs.sync import WindowResult, rebuild_range, sync_range, window_locked
from pipeline.warehouse.publish import PublishResult, publish_warehouse

DEMO_DAYS = 3
DEMO_WORKFLOWS_PER_DAY = 300
DEMO_RUN_PREFIX = "demo-"


def register(group: click.Group) -> None:
    """Attach this family's commands to the root group."""
    for command in (sync, rebuild, status, demo):
        group.add_command(command)


# --------------------------------------------------------------------------- options


def _parse_day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date; use YYYY-MM-DD (UTC day).", param_hint=option
        ) from None


def _range(date_from: str | None, date_to: str | None) -> tuple[date | None, date | None]:
    first = _parse_day(date_from, "--from")
    last = _parse_day(date_to, "--to")
    if last is not None and first is None:
        raise click.UsageError("--to needs --from: give the first day of the range too.")
    if first is not None and last is not None and first > last:
        raise click.UsageError(f"--from {first} is after --to {last}.")
    return first, last


def _date_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option(
        "--to", "date_to", metavar="DATE", help="Last UTC day, included (YYYY-MM-DD)."
    )(func)
    return click.option("--from", "date_from", metavar="DATE", help="First UTC day (YYYY-MM-DD).")(
        func
    )


# --------------------------------------------------------------------------- progress


class _Reporter:
    """A progress bar on a terminal, one plain line per finished window otherwise."""

    def __init__(self, console: Console, total: int, verb: str) -> None:
        self.console = console
        self.total = total
        self.verb = verb
        self.progress: Progress | None = None
        self.task: Any = None

    @contextmanager
    def running(self) -> Iterator[_Reporter]:
        if self.console.is_terminal:
            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
            )
            with self.progress:
                self.task = self.progress.add_task(f"{self.verb}...", total=self.total)
                yield self
        else:
            yield self

    def __call__(self, event: SyncProgress) -> None:
        if event.result is None:
            if self.progress is not None:
                self.progress.update(
                    self.task,
                    description=f"{self.verb} {event.window_date}: page {event.pages}, "
                    f"{event.workflows} workflows",
                )
            return
        result = event.result
        if self.progress is not None:
            self.progress.advance(self.task)
        line = Text.assemble(
            (f"{result.window_date} ", "bold"),
            _status(result.status),
            f"  {result.workflows} workflows, {result.pages} pages"
            + (f", {result.filter_mode} filter" if result.filter_mode else "")
            + f", {format_seconds(result.seconds)}",
        )
        if result.error:
            line.append(f"\n  {result.error}", style="red")
        self.console.print(line, soft_wrap=True)


def _status(value: str) -> Text:
    style = {"complete": "green", "failed": "red", "running": "cyan", "interrupted": "yellow"}
    return Text(value, style=style.get(value, ""))


# --------------------------------------------------------------------------- summaries


# Summary columns: (header, WindowResult attribute, summed in the total row, shown when narrow).
_SUMMARY_COLUMNS = (
    ("day", "window_date", False, True),
    ("status", "status", False, True),
    ("workflows", "workflows", True, True),
    ("steps", "steps", True, True),
    ("jobs", "jobs", True, True),
    ("blobs", "blobs", True, False),
    ("txns", "transactions", True, False),
    ("pages", "pages", True, False),
    ("mode", "filter_mode", False, True),
    ("retries", "retries", True, False),
    ("time", "seconds", True, True),
)


def _summary(console: Console, results: Sequence[WindowResult], title: str) -> None:
    # An 80-column terminal gets the columns that matter most rather than folded headers.
    columns = [c for c in _SUMMARY_COLUMNS if console.width >= 100 or c[3]]
    table = data_table(title, [c[0] for c in columns], no_wrap=[c[0] for c in columns])

    def cell(result: WindowResult, attribute: str) -> Text | str:
        value = getattr(result, attribute)
        if attribute == "status":
            return _status(value)
        if attribute == "seconds":
            return format_seconds(value)
        return str(value) if value not in (None, "") else "-"

    for r in results:
        table.add_row(*(cell(r, c[1]) for c in columns))
    if len(results) > 1:
        totals: list[Text | str] = []
        for _, attribute, summed, _ in columns:
            total = sum(getattr(r, attribute) for r in results) if summed else None
            if attribute == "window_date":
                totals.append("total")
            elif total is None:
                totals.append("")
            else:
                totals.append(format_seconds(total) if attribute == "seconds" else str(total))
        table.add_row(*totals, style="bold")
    console.print(table)
    for r in results:
        if r.error:
            console.print(Text(f"{r.window_date}: {r.error}", style="red"), soft_wrap=True)


def _published(console: Console, result: PublishResult) -> None:
    models = f", {len(result.models)} SQL models" if result.models else ""
    console.print(
        Text.assemble(
            ("Warehouse published: ", "bold"),
            (str(result.path), "cyan"),
            f" ({format_seconds(result.seconds)}{models})",
        ),
        soft_wrap=True,
    )


def _finish(console: Console, results: Sequence[WindowResult], settings: Settings) -> None:
    """Publish the warehouse (the good windows are worth publishing even when one failed)
    and exit 1 if any window failed."""
    _published(console, publish_warehouse(settings))
    failed = [r for r in results if r.status not in ("complete", "partial")]
    if failed:
        days = ", ".join(str(r.window_date) for r in failed)
        raise click.ClickException(
            f"{len(failed)} window(s) failed: {days}. Their previous data is unchanged; "
            "see `civitai-sync status` and run the sync again for them."
        )


# --------------------------------------------------------------------------- commands


def _client(settings: Settings) -> Any:
    from pipeline.api.client import OrchestrationClient

    if not settings.token:
        raise ConfigError(
            f"No API token: set {defaults.ENV_TOKEN} (or put it in .env). "
            "To try the pipeline without one, run `civitai-sync demo`."
        )
    budget: Any = shared_budget.from_env(settings.api_url, settings.token)
    return OrchestrationClient(base_url=settings.api_url, token=settings.token, rate_limiter=budget)


@click.command()
@_date_options
@click.option(
    "--lookback",
    type=click.IntRange(min=0),
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
def sync(
    date_from: str | None,
    date_to: str | None,
    lookback: int | None,
    no_jobs: bool,
    allow_shrink: bool,
) -> None:
    """Sync UTC days from the API into the lake, then publish the warehouse.

    Without dates: the nightly run, yesterday plus --lookback earlier days (late finishers
    are picked up). With --from/--to: a backfill of every day in the range, both included.
    """
    first, last = _range(date_from, date_to)
    if first is not None and lookback is not None:
        raise click.UsageError("--lookback is for the nightly run; with --from/--to leave it out.")
    yesterday = utc_today() - timedelta(days=1)
    if first is None:
        dates = nightly_dates(
            utc_today(), defaults.DEFAULT_LOOKBACK_DAYS if lookback is None else lookback
        )
    else:
        dates = day_range(first, last or max(first, yesterday))
    if dates and dates[-1] > utc_today():
        raise click.UsageError(
            f"{dates[-1]} is in the future (today is {utc_today()} UTC): sync days up to today."
        )
    settings = Settings.from_env()
    console = stdout_console()
    with _client(settings) as client:
        reporter = _Reporter(console, len(dates), "syncing")
        with reporter.running():
            results = sync_range(
                settings,
                client,
                dates,
                enrich=not no_jobs,
                on_progress=reporter,
                allow_shrink=allow_shrink,
            )
    _summary(console, results, f"Synced {len(dates)} day(s) into {settings.lake_location}")
    _finish(console, results, settings)


@click.command()
@_date_options
def rebuild(date_from: str | None, date_to: str | None) -> None:
    """Re-flatten the lake from the raw page archive (no API calls), then publish.

    Without dates: every archived day.
    """
    first, last = _range(date_from, date_to)
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
    reporter = _Reporter(console, len(dates), "rebuilding")
    with reporter.running():
        for day in dates:
            (result,) = rebuild_range(settings, [day])
            results.append(result)
            reporter(SyncProgress(day, result.pages, result.workflows, result))
    _summary(console, results, f"Rebuilt {len(dates)} day(s) from {raw.location}")
    _finish(console, results, settings)


def _shown_status(settings: Settings, row: WindowRow) -> str:
    # A `running` row whose lock nobody holds was left by a process that died.
    if row.status == "running" and not window_locked(settings, row.window_date):
        return "interrupted"
    return row.status


def _enrichment(row: WindowRow, *, compact: bool = False) -> Text:
    """Job-lookup coverage: found jobs / jobs of the window. A 404 (not found) is done too, so
    the cell is yellow only while lookups are still owed (failed, or never run)."""
    if row.jobs_enriched is None:
        return text(None)
    cell = f"{row.jobs_enriched}/{'-' if row.jobs is None else row.jobs}"
    if row.jobs_not_found and not compact:
        cell += f" ({row.jobs_not_found} not found)"
    if row.jobs_enrich_failed and not compact:
        cell += f" ({row.jobs_enrich_failed} failed)"
    owed = row.jobs is not None and row.jobs_enriched + (row.jobs_not_found or 0) < row.jobs
    return text(cell, style="yellow" if owed else "")


@click.command()
def status() -> None:
    """The window ledger: which days are synced, when, how many workflows, and the gaps."""
    settings = Settings.from_env()
    console = stdout_console()
    ledger = Ledger(Lake.from_settings(settings))
    rows = ledger.rows()
    if not rows:
        console.print(f"Nothing synced yet in {settings.data_dir}: run `civitai-sync sync`.")
        return
    # A narrow terminal gets short cells and the errors under the table, not folded columns.
    wide = console.width >= 120
    columns = ["day", "status", "pages", "workflows", "jobs enriched/jobs", "mode", "finished"]
    table = data_table(
        f"Sync windows ({ledger.uri})",
        [*columns, "error"] if wide else columns,
        no_wrap=[c for c in columns if c != "jobs enriched/jobs"],
    )
    finished_format = "%Y-%m-%d %H:%M:%SZ" if wide else "%m-%d %H:%M"
    for row in rows:
        cells: list[Text | str] = [
            str(row.window_date),
            _status(_shown_status(settings, row)),
            text(row.pages),
            text(row.workflows),
            _enrichment(row, compact=not wide),
            text(row.filter_mode),
            row.finished_at.strftime(finished_format) if row.finished_at else "-",
        ]
        if wide:
            cells.append(text(row.error, style="red") if row.error else text(None))
        table.add_row(*cells)
    console.print(table)
    if not wide:
        for row in rows:
            if row.error:
                console.print(Text(f"{row.window_date}: {row.error}", style="red"), soft_wrap=True)
    gaps = ledger.gaps()
    line = Text("gaps: ", style="bold")
    if gaps:
        line.append(", ".join(_spans(gaps)), style="yellow")
        line.append(
            f"  ({len(gaps)} day(s) never synced between {rows[0].window_date} and "
            f"{rows[-1].window_date})"
        )
    else:
        line.append(f"none ({rows[0].window_date} .. {rows[-1].window_date})")
    console.print(line, soft_wrap=True)
    failed = [r for r in rows if r.status == "failed"]
    if failed:
        console.print(
            Text(
                f"{len(failed)} failed window(s); re-run them with "
                f"`civitai-sync sync --from DAY --to DAY`.",
                style="red",
            )
        )


def _spans(days: Sequence[date]) -> list[str]:
    """Consecutive days collapsed into `first..last`."""
    spans: list[list[date]] = []
    for day in sorted(days):
        if spans and day - spans[-1][1] == timedelta(days=1):
            spans[-1][1] = day
        else:
            spans.append([day, day])
    return [str(a) if a == b else f"{a}..{b}" for a, b in spans]


def _check_demo_dir(settings: Settings) -> None:
    """The demo writes simulated days; never into a data dir that holds real syncs."""
    real = [
        r
        for r in Ledger(Lake.from_settings(settings)).rows()
        if not (r.run_id or "").startswith(DEMO_RUN_PREFIX)
    ]
    if real:
        raise ConfigError(
            f"{settings.data_dir} already holds {len(real)} day(s) synced from an API; the demo "
            "would mix simulated data into them. Point it elsewhere, e.g. "
            f"{defaults.ENV_DATA_DIR}=./demo-data civitai-sync demo"
        )


@click.command()
@click.option(
    "--days",
    type=click.IntRange(min=1, max=60),
    default=DEMO_DAYS,
    show_default=True,
    help="Simulated days, ending yesterday.",
)
@click.option(
    "--workflows-per-day",
    type=click.IntRange(min=1, max=100_000),
    default=DEMO_WORKFLOWS_PER_DAY,
    show_default=True,
)
@click.pass_context
def demo(ctx: click.Context, days: int, workflows_per_day: int) -> None:
    """Sync a few days from the built-in simulator (no token needed) and show the result."""
    from pipeline.api.client import OrchestrationClient
    from simulator import SimulatorConfig, SimulatorServer

    settings = Settings.from_env()
    _check_demo_dir(settings)
    console = stdout_console()
    today = utc_today()
    config = SimulatorConfig(
        start=today - timedelta(days=days), days=days, workflows_per_day=workflows_per_day
    )
    window_days = [config.start + timedelta(days=n) for n in range(days)]
    with SimulatorServer(config) as server:
        settings = dataclasses.replace(settings, api_url=server.url, token=config.token)
        console.print(
            Text.assemble(
                ("Simulator ", "bold"),
                (server.url, "cyan"),
                f": {days} day(s) ({window_days[0]} .. {window_days[-1]}), "
                f"{workflows_per_day} workflows a day",
            )
        )
        with OrchestrationClient(base_url=server.url, token=config.token) as client:
            reporter = _Reporter(console, len(window_days), "syncing")
            with reporter.running():
                results = sync_range(
                    settings,
                    client,
                    window_days,
                    on_progress=reporter,
                    run_id=f"{DEMO_RUN_PREFIX}{today.isoformat()}",
                )
    _summary(console, results, "Synced from the simulator")
    published = publish_warehouse(settings)
    _print_reports(ctx, console, window_days[0], window_days[-1])
    console.print()
    _published(console, published)
    loaded = data_table("Loaded (rows per warehouse table)", ["table", "rows"])
    for name, count in published.tables.items():
        loaded.add_row(name, str(count))
    console.print(loaded)
    _where(console, settings)
    _write_page(console, settings, window_days[0], window_days[-1])
    if any(r.status != "complete" for r in results):
        raise click.ClickException("some demo windows failed; see above.")


def _print_reports(ctx: click.Context, console: Console, first: date, last: date) -> None:
    from pipeline.cli import report_commands

    # The report commands take click.DateTime values, i.e. datetimes.
    start = datetime.combine(first, datetime.min.time())
    end = datetime.combine(last, datetime.min.time())
    for command in (report_commands.moderation, report_commands.usage):
        console.print()
        ctx.invoke(command, date_from=start, date_to=end, fmt="table", threshold=None)


def _write_page(console: Console, settings: Settings, first: date, last: date) -> None:
    # Imported here: matplotlib is only worth loading when a page is actually drawn.
    from pipeline.reports.html.render import DEFAULT_FILE, write_html_report

    path = write_html_report(
        settings, out=settings.data_dir / DEFAULT_FILE, date_from=first, date_to=last
    )
    console.print()
    console.print(Text("Visual report (one file, works offline):", style="bold"))
    console.print(Text(f"  {path}"), soft_wrap=True)


def _where(console: Console, settings: Settings) -> None:
    data = settings.data_dir
    warehouse = settings.warehouse_path
    console.print()
    console.print(Text("Where it is:", style="bold"))
    for label, path in (
        ("lake (Delta Lake)", settings.lake_location),
        ("raw pages", settings.raw_location),
        ("ledger", f"{settings.lake_location}/_ledger"),
        ("warehouse", warehouse),
    ):
        console.print(Text(f"  {label:15} {path}"), soft_wrap=True)
    console.print()
    console.print(Text("Open the warehouse:", style="bold"))
    console.print(Text(f"  civitai-sync sql --warehouse {warehouse}"), soft_wrap=True)
    console.print(
        Text(
            f'  {Path(sys.executable).name} -c "import duckdb; '
            f"print(duckdb.connect('{warehouse}', read_only=True)"
            ".sql('select status, count(*) from workflows group by 1'))\""
        ),
        soft_wrap=True,
    )
    console.print(Text("Reports and the Dagster UI:", style="bold"))
    console.print(Text("  civitai-sync report moderation | usage | flagged | html"))
    console.print(
        Text("  make dev    # the simulator plus `dagster dev`: assets, partitions, checks")
    )
    console.print(Text(f"  (data dir: {data}; set {defaults.ENV_DATA_DIR} to use another)"))
