"""`civitai-sync report html`: write the visual report as one HTML file."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from pipeline.core import settings as settings_module
from pipeline.core.numbers import decimal
from pipeline.core.settings import Settings

_DATE = click.DateTime(formats=["%Y-%m-%d"])
_DEFAULT_DAYS = 30


@click.command("html")
@click.option("--from", "date_from", type=_DATE, help="First day (UTC), YYYY-MM-DD.")
@click.option("--to", "date_to", type=_DATE, help="Last day (UTC, included), YYYY-MM-DD.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    metavar="FILE",
    help="Where to write the page [default: DATA_DIR/report.html].",
)
@click.option(
    "--threshold",
    type=decimal(0, 100),
    default=None,
    metavar="PCT",
    help="Flag jobs whose highest hive_csam_score is at or above PCT percent "
    "[default: the threshold the warehouse was built with, "
    f"normally {settings_module.DEFAULT_CSAM_THRESHOLD:g}].",
)
def html_command(
    date_from: datetime | None, date_to: datetime | None, out: Path | None, threshold: float | None
) -> None:
    """Write moderation and usage charts as one self-contained HTML file.

    The page makes no network request (no scripts, fonts or images to fetch), so it opens
    offline and can be mailed. Without --from/--to it covers the latest 30 days of the
    warehouse.
    """
    start = date_from.date() if date_from else None
    end = date_to.date() if date_to else None
    if start and end and start > end:
        raise click.BadParameter(f"--from {start} is after --to {end}.", param_hint="--from")
    settings = Settings.from_env()
    # Imported here: matplotlib is only worth loading when a page is actually drawn.
    from pipeline.reports.html.render import DEFAULT_FILE, write_html_report

    path = write_html_report(
        settings,
        days=_DEFAULT_DAYS,
        out=out or settings.data_dir / DEFAULT_FILE,
        date_from=start,
        date_to=end,
        threshold=threshold,
    )
    size = path.stat().st_size
    click.echo(
        f"Wrote {path} ({size / 1_000_000:.2f} MB). Open it in any browser; it works offline."
    )
