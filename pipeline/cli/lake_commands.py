"""Commands that look after the lake itself: forget windows, maintain, upgrade, and publish
the warehouse from it."""

from __future__ import annotations

import sys

import click

from pipeline.cli.output import stdout_console
from pipeline.cli.windows import date_options, day_span
from pipeline.core.numbers import MAX_DAYS, count
from pipeline.core.settings import Settings
from pipeline.fetch.windows import day_range
from pipeline.runs import housekeeping, upgrade
from pipeline.warehouse.publish import publish_warehouse


@click.command()
@date_options
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (for scripts).")
def forget(date_from: str | None, date_to: str | None, yes: bool) -> None:
    """Drop UTC days from the ledger, the lake, the raw archive and the warehouse, so that the
    next sync fetches them again.

    \b
    Example:
      civitai-sync forget --from 2026-11-01 --to 2026-11-03 --yes
    """
    first, last = day_span(date_from, date_to)
    if first is None:
        raise click.UsageError("give the days to forget with --from (and --to).")
    days = day_range(first, last or first)
    span = f"{days[0]}..{days[-1]}" if len(days) > 1 else str(days[0])
    if not yes:
        if not sys.stdin.isatty():
            raise click.UsageError(
                f"forgetting {span} deletes its data; pass --yes to do it without a prompt."
            )
        click.confirm(
            f"Drop {len(days)} day(s) ({span}) from the lake, the raw archive and the warehouse?",
            abort=True,
        )
    settings = Settings.from_env()
    upgrade.upgrade(settings)
    result = housekeeping.forget(settings, days)
    published = publish_warehouse(settings)
    console = stdout_console()
    rows = ", ".join(f"{n} {t}" for t, n in sorted(result.rows.items()) if n) or "no rows"
    console.print(
        f"Forgot {len(result.windows)} day(s) ({span}): {rows}. Warehouse published "
        f"({published.seconds:.1f}s). The next sync of these days fetches them again."
    )


@click.command()
@click.option(
    "--retention-hours",
    # Files a running sync is about to commit are younger than an hour: 0 could remove them.
    type=count(1, 24 * MAX_DAYS),
    default=housekeeping.DEFAULT_RETENTION_HOURS,
    show_default=True,
    help="Keep replaced files this long (an open warehouse may still read them).",
)
@click.option("--dry-run", is_flag=True, help="Only count what would be removed.")
def maintain(retention_hours: int, dry_run: bool) -> None:
    """Vacuum replaced lake files, checkpoint the tables, compact the ledger, sweep leftovers.

    \b
    Example:
      civitai-sync maintain --dry-run
    """
    settings = Settings.from_env()
    upgrade.upgrade(settings)
    result = housekeeping.maintain(settings, retention_hours=retention_hours, dry_run=dry_run)
    removed = sum(result.removed_files.values())
    verb = "would remove" if dry_run else "removed"
    stdout_console().print(
        f"Lake maintained: {verb} {removed} replaced file(s); swept {result.swept} leftover "
        "archive attempt(s)."
    )


@click.command(name="upgrade")
def upgrade_command() -> None:
    """Move a data dir written by an older release (plain Parquet files and ledger.sqlite) to
    the Delta Lake layout, window by window; nothing is deleted before it is committed.
    Every sync does this by itself first.

    \b
    Example:
      CIVITAI_SYNC_DATA_DIR=/srv/civitai/data civitai-sync upgrade
    """
    settings = Settings.from_env()
    result = upgrade.upgrade(settings, say=stdout_console().print)
    if result.windows:
        publish_warehouse(settings)
        stdout_console().print(
            f"Upgraded {len(result.windows)} window(s) ({result.files} files) in "
            f"{settings.data_dir}; warehouse published."
        )
    else:
        stdout_console().print(f"{settings.data_dir} is already in the current layout.")


@click.command(name="warehouse")
def warehouse_command() -> None:
    """Publish DATA_DIR/warehouse.duckdb from the lake as it is now, without calling the API.

    This is how an analyst gets the warehouse of a lake others sync: with
    CIVITAI_SYNC_LAKE_URI=s3://..., the live files not cached yet are downloaded into
    DATA_DIR/lake-cache first (only the days that changed since the last time).
    """
    settings = Settings.from_env()
    published = publish_warehouse(settings)
    windows = published.tables.get("sync_windows", 0)
    stdout_console().print(
        f"Warehouse published at {published.path} from {settings.lake_location}: "
        f"{windows} window(s), {published.tables.get('workflows', 0)} workflows "
        f"({published.seconds:.1f}s)."
    )


def register(group: click.Group) -> None:
    for command in (forget, maintain, upgrade_command, warehouse_command):
        group.add_command(command)
