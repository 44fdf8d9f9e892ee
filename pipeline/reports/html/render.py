"""Build the report page from the warehouse and write it as one self-contained HTML file.

Why static SVG from matplotlib: the page must open offline from a mail attachment, make no
network request at all, and stay under a few megabytes for 30 busy days. An inline SVG needs no
JavaScript (so no console errors and nothing a mail gateway strips or a browser blocks), prints
and zooms sharply, and a chart costs tens of kilobytes; plotly's page would inline ~4.5 MB of
JavaScript before the first data point. matplotlib is the long-standing, well-kept plotting
library of the Python data stack and renders SVG without a browser or a display.

Every figure on the page comes from the warehouse's report tables (data.py loads them, cards.py
draws the charts, columns.py says how each value is shown). The Jinja2 templates in `templates/`
lay the page out with autoescaping on, so every value from the data is escaped (charts escape
their own text). The numbers of the daily table and the totals carry `data-metric`, `data-day`
and `data-value` attributes so a test or a script can read exactly what is shown.
"""

from __future__ import annotations

import functools
from datetime import date
from pathlib import Path
from typing import Any

import jinja2

from pipeline.core.files import atomic_write
from pipeline.core.settings import Settings
from pipeline.reports.html import cards, columns
from pipeline.reports.html.cards import ALL, by_day
from pipeline.reports.html.data import (
    DEFAULT_DAYS,
    FLAGGED_ROWS_PER_DAY,
    PageData,
    load_page_data,
)
from pipeline.warehouse.reader import open_warehouse

TITLE = "Civitai orchestration report"
DEFAULT_FILE = "report.html"


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("pipeline.reports.html", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(thousands=columns.integer, raw=columns.raw)
    return env


def write_html_report(
    settings: Settings,
    *,
    days: int | None = DEFAULT_DAYS,
    out: Path,
    date_from: date | None = None,
    date_to: date | None = None,
    threshold: float | None = None,
    flagged_rows_per_day: int = FLAGGED_ROWS_PER_DAY,
) -> Path:
    """Render the report from DATA_DIR's warehouse into `out` and return its path.

    Args:
        days: without `date_from`/`date_to`, the latest this many days of the warehouse
            (None = every day).
        threshold: a CSAM threshold (percent) other than the one the warehouse was built with.

    Raises:
        WarehouseNotFoundError: there is no warehouse, or it lacks the report tables.
    """
    con = open_warehouse(settings.warehouse_path)
    try:
        page = load_page_data(
            con,
            data_dir=settings.data_dir,
            warehouse_path=settings.warehouse_path,
            date_from=date_from,
            date_to=date_to,
            days=days,
            threshold=threshold,
            flagged_rows_per_day=flagged_rows_per_day,
        )
    finally:
        con.close()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # A reader (a mail job, a browser) never sees half a page.
    atomic_write(out, render_page(page).encode("utf-8"))
    return out


def render_page(page: PageData) -> str:
    """The whole HTML document."""
    context: dict[str, Any] = {
        "title": TITLE,
        "page": page,
        "meta": _meta(page),
        "threshold": f"{page.csam_threshold:g}",
        "totals": columns.TOTALS,
        "flagged_columns": columns.FLAGGED_COLUMNS,
        "daily_columns": columns.DAILY_COLUMNS,
    }
    if page.days:
        context.update(
            moderation=cards.moderation(page),
            usage=cards.usage(page),
            **_flagged(page),
            **_daily(page),
        )
    return _environment().get_template("page.html.j2").render(context)


def _meta(page: PageData) -> list[tuple[str, str, str]]:
    n = len(page.days)
    span = f"{page.date_from} to {page.date_to} ({n} day{'' if n == 1 else 's'}, UTC)"
    span_held = page.warehouse_span
    held = f"{span_held[0]} to {span_held[1]}" if span_held else "no days"
    return [
        ("Days", "days", span if page.days else "none"),
        ("Warehouse holds", "warehouse_days", held),
        ("Data directory", "data_dir", str(page.data_dir.resolve())),
        (
            "Warehouse published",
            "published_at",
            f"{columns.timestamp(page.published.at)} UTC ({page.published.source})",
        ),
        ("Page generated", "generated_at", f"{columns.timestamp(page.generated_at)} UTC"),
        (
            "CSAM threshold",
            "csam_threshold",
            f"{page.csam_threshold:g} % (highest hive_csam_score per job)",
        ),
    ]


def _flagged(page: PageData) -> dict[str, Any]:
    """Per day, newest first: (day, flagged jobs or None when no workflows, rows listed)."""
    listed: dict[date, list[dict[str, Any]]] = {}
    for row in page.flagged_jobs:
        listed.setdefault(row["day"], []).append(row)
    per_day = {r["day"]: r["jobs_flagged"] for r in page.moderation_daily if r["provider"] == ALL}
    synced = {r["day"] for r in page.usage_daily}
    flagged = [
        (day, int(per_day.get(day) or 0) if day in synced else None, listed.get(day, []))
        for day in reversed(page.days)
    ]
    open_day = next((day for day, total, _ in flagged if total), None)
    return {"flagged": flagged, "open_day": open_day}


def _daily(page: PageData) -> dict[str, Any]:
    usage = by_day(page.usage_daily)
    moderation = by_day(r for r in page.moderation_daily if r["provider"] == ALL)
    return {"daily": [(d, usage.get(d), moderation.get(d, {})) for d in page.days]}
