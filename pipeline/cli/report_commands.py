"""`civitai-sync report ...`: print the moderation, usage and flagged-jobs reports from the warehouse."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import click
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from pipeline.core import settings as settings_module
from pipeline.core.numbers import decimal
from pipeline.core.settings import Settings
from pipeline.reports.html.cli import html_command
from pipeline.reports.report import Report, Section, load_report, to_csv, to_json
from pipeline.warehouse.models import discover_models
from pipeline.warehouse.reader import open_warehouse

_DATE = click.DateTime(formats=["%Y-%m-%d"])
_PIPE_WIDTH = 200
_UNBOUNDED = 100_000
_MAX_UNWRAPPED = 19
_HEADERS = {
    "jobs_scanned": "scanned",
    "jobs_flagged": "flagged",
    "flag_ratio": "flag %",
    "csam_score_max_pct": "max score %",
    "csam_scores_pct": "scores %",
    "prompts_sexual": "sexual",
    "prompts_young": "young",
    "prompts_sexual_and_young": "sexual+young",
    "prompts_cr": "cr",
    "prompts_scan": "scan",
    "outputs_blocked": "blocked",
    "in_progress": "running",
    "success_ratio": "success %",
    "latency_p50_seconds": "latency p50 s",
    "latency_p95_seconds": "latency p95 s",
    "queue_p50_seconds": "queue p50 s",
    "queue_p95_seconds": "queue p95 s",
    "workflows_succeeded": "succeeded",
    "rank_by_workflows": "rank wf",
    "rank_by_buzz_net": "rank buzz",
    "prompt_classification": "prompt class",
}


def register(group: click.Group) -> None:
    """Attach this family's commands to the root group."""
    group.add_command(report)


@click.group()
def report() -> None:
    """Print a report from the warehouse (DATA_DIR/warehouse.duckdb), read-only.

    \b
    Examples:
      civitai-sync report moderation --from 2026-11-01 --to 2026-11-30
      civitai-sync report flagged --threshold 40 --format csv > flagged.csv
    """


report.add_command(html_command)


def _report_options(with_threshold: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        options = [
            click.option("--from", "date_from", type=_DATE, help="First day (UTC), YYYY-MM-DD."),
            click.option(
                "--to", "date_to", type=_DATE, help="Last day (UTC, included), YYYY-MM-DD."
            ),
            click.option(
                "--format",
                "fmt",
                type=click.Choice(["table", "csv", "json"]),
                default="table",
                show_default=True,
                help="csv holds the main table only; json holds every section.",
            ),
        ]
        if with_threshold:
            options.append(
                click.option(
                    "--threshold",
                    type=decimal(0, 100),
                    default=None,
                    metavar="PCT",
                    help="Flag jobs whose highest hive_csam_score is at or above PCT percent "
                    "[default: the threshold the warehouse was built with, "
                    f"normally {settings_module.DEFAULT_CSAM_THRESHOLD:g}].",
                )
            )
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


@report.command()
@_report_options(with_threshold=True)
def moderation(**options: Any) -> None:
    """Jobs scanned and flagged per day and provider, prompt classification, output moderation.

    \b
    Example:
      civitai-sync report moderation --from 2026-11-01 --to 2026-11-07
    """
    _run("moderation", **options)


@report.command()
@_report_options(with_threshold=False)
def usage(**options: Any) -> None:
    """Workflows by status, success rate, Buzz by account type, latency, top users.

    \b
    Example:
      civitai-sync report usage --format json | jq '.sections | keys'
    """
    _run("usage", **options)


@report.command()
@_report_options(with_threshold=True)
def flagged(**options: Any) -> None:
    """Every job a moderator must review (CSAM score at or above the threshold), newest first.

    \b
    Example:
      civitai-sync report flagged --threshold 40 --format csv > flagged.csv
    """
    _run("flagged", **options)


@report.command("models")
def models_command() -> None:
    """List the SQL models: layer, grain, what each reads.

    \b
    Example:
      civitai-sync report models
    """
    table = Table(title="SQL models (build order)")
    for column in ("model", "layer", "grain", "reads", "purpose"):
        table.add_column(column, overflow="fold")
    for model in discover_models():
        table.add_row(
            model.name,
            model.layer,
            ", ".join(model.grain),
            ", ".join(model.deps),
            model.description,
        )
    _console().print(table)


def _run(
    kind: str,
    *,
    date_from: datetime | None,
    date_to: datetime | None,
    fmt: str,
    threshold: float | None = None,
) -> None:
    start = date_from.date() if date_from else None
    end = date_to.date() if date_to else None
    if start and end and start > end:
        raise click.BadParameter(f"--from {start} is after --to {end}.", param_hint="--from")
    settings = Settings.from_env()
    con = open_warehouse(settings.warehouse_path)
    try:
        result = load_report(con, kind, date_from=start, date_to=end, threshold=threshold)
    finally:
        con.close()
    if fmt == "json":
        click.echo(to_json(result))
    elif fmt == "csv":
        click.echo(to_csv(result), nl=False)
    else:
        _print_tables(result)


def _console() -> Console:
    # Piped output has no width to fit; a wide console keeps every cell whole there.
    console = Console()
    return console if console.is_terminal else Console(width=_PIPE_WIDTH)


def _print_tables(result: Report) -> None:
    console = _console()
    span = _span(result)
    heading = f"[bold]{result.title}[/bold]  {span}"
    if result.csam_threshold is not None:
        heading += f"  (CSAM threshold {result.csam_threshold:g} %)"
    console.print(heading)
    for section in result.sections:
        for table in _tables(console, section):
            console.print(table)


def _span(result: Report) -> str:
    """The days the report covers: the bounds asked for, else the first and last day of its
    rows (a report without bounds covers every day the warehouse has)."""
    days = [
        row[index]
        for section in result.sections
        if "day" in section.columns
        for index in [section.columns.index("day")]
        for row in section.rows
        if isinstance(row[index], date)
    ]
    first = result.date_from or min(days, default=None)
    last = result.date_to or max(days, default=None)
    if first is None and last is None:
        return "(no days in the warehouse yet)"
    return f"{_day(first)} .. {_day(last)}"


def _day(value: date | None) -> str:
    if value is None:
        return "(no data)"
    return (value.date() if isinstance(value, datetime) else value).isoformat()


def _tables(console: Console, section: Section) -> list[Table]:
    """One table, or several side by side in column groups when it is wider than the console.

    Every group repeats the section's key columns (day, provider, ...) so each row stays readable.
    """
    columns = section.display_columns
    cells = [
        [_cell(c, v) for c, v in zip(columns, row, strict=True)] for row in section.display_rows
    ]
    keys = list(range(min(section.key_columns, len(columns))))
    groups: list[list[int]] = []
    current = list(keys)
    for i in range(len(keys), len(columns)):
        attempt = [*current, i]
        if (
            len(current) > len(keys)
            and _min_width(console, section, cells, attempt) > console.width
        ):
            groups.append(current)
            attempt = [*keys, i]
        current = attempt
    groups.append(current)
    tables = []
    for n, group in enumerate(groups):
        title = section.title + (f" ({n + 1}/{len(groups)})" if len(groups) > 1 else "")
        tables.append(_table(section, cells, group, title))
    return tables


def _min_width(console: Console, section: Section, cells: list[list[str]], group: list[int]) -> int:
    # The natural width: a group that fits never wraps a header or a value.
    options = console.options.update(max_width=_UNBOUNDED)
    return Measurement.get(console, options, _table(section, cells, group, "")).maximum


def _table(section: Section, cells: list[list[str]], group: list[int], title: str) -> Table:
    table = Table(title=title, title_justify="left", header_style="bold")
    for i in group:
        column = section.display_columns[i]
        values = [row[i] for row in section.display_rows]
        is_number = bool(values) and all(isinstance(v, int | float) or v is None for v in values)
        widest = max((len(row[i]) for row in cells), default=0)
        table.add_column(
            _HEADERS.get(column, column.replace("_", " ")),
            justify="right" if is_number else "left",
            # Short values (dates, counts, ids) never wrap; long text (lists, prompts) may.
            min_width=min(widest, _MAX_UNWRAPPED),
            overflow="fold",
        )
    for row in cells:
        table.add_row(*(row[i] for i in group))
    if not section.display_rows:
        table.caption = "no rows in this range"
    return table


def _cell(column: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(_cell(column, v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if column.endswith("_ratio"):
            return f"{value:.1%}"
        if column.endswith("_pct"):
            return f"{value:.2f}"
        return f"{value:,.1f}"
    if isinstance(value, int):
        return str(value) if column.endswith("_id") else f"{value:,}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
