"""`civitai-sync demo`: the built-in simulator -> a few synced days -> reports, no token needed."""

from __future__ import annotations

import dataclasses
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import click
from rich.console import Console
from rich.text import Text

from pipeline.cli.output import data_table, published_line, stdout_console
from pipeline.cli.progress import SYNC_COLUMNS, RunFigures, RunProgress, summary_table
from pipeline.core import settings as defaults
from pipeline.core.errors import ConfigError
from pipeline.core.settings import Settings
from pipeline.fetch.windows import utc_today
from pipeline.lake.ledger import Ledger
from pipeline.lake.store import Lake
from pipeline.runs.sync import sync_range
from pipeline.warehouse.publish import publish_warehouse

DEMO_DAYS = 3
DEMO_WORKFLOWS_PER_DAY = 300
DEMO_RUN_PREFIX = "demo-"


def register(group: click.Group) -> None:
    """Attach `demo` to the root group."""
    group.add_command(demo)


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
    """Sync a few days from the built-in simulator (no token needed) and show the result.

    \b
    Example:
      CIVITAI_SYNC_DATA_DIR=./demo-data civitai-sync demo --days 3
    """
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
            progress = RunProgress(len(window_days), "syncing")
            started = time.monotonic()
            with progress.running():
                results = sync_range(
                    settings,
                    client,
                    window_days,
                    on_progress=progress,
                    on_enrich=progress.enrich,
                    run_id=f"{DEMO_RUN_PREFIX}{today.isoformat()}",
                )
    summary_table(console, results, "Synced from the simulator", SYNC_COLUMNS)
    for line in RunFigures.of(results, time.monotonic() - started).lines():
        console.print(Text(line), soft_wrap=True)
    published = publish_warehouse(settings)
    _print_reports(ctx, console, window_days[0], window_days[-1])
    console.print()
    published_line(console, published)
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
