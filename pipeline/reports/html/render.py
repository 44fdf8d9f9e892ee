"""Build the report page from the warehouse and write it as one self-contained HTML file.

Why static SVG from matplotlib: the page must open offline from a mail attachment, make no
network request at all, and stay under a few megabytes for 30 busy days. An inline SVG needs no
JavaScript (so no console errors and nothing a mail gateway strips or a browser blocks), prints
and zooms sharply, and a chart costs tens of kilobytes; plotly's page would inline ~4.5 MB of
JavaScript before the first data point. matplotlib is the long-standing, well-kept plotting
library of the Python data stack and renders SVG without a browser or a display.

Every figure on the page comes from the warehouse's report tables (see data.py); this module
only lays them out. Every value from the data goes through `html.escape` (charts escape their
own text), and the numbers of the daily table carry `data-metric`, `data-day` and `data-value`
attributes so a test or a script can read exactly what is shown.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from html import escape
from pathlib import Path
from typing import Any

from pipeline.core.settings import Settings
from pipeline.reports.html import charts
from pipeline.reports.html.charts import STATUS_COLORS, Series
from pipeline.reports.html.data import (
    DEFAULT_DAYS,
    FLAGGED_ROWS_PER_DAY,
    TOP_LABELS,
    PageData,
    load_page_data,
)
from pipeline.reports.html.template import CSS, PAGE
from pipeline.reports.report import open_warehouse

TITLE = "Civitai orchestration report"
ALL = "(all)"
DEFAULT_FILE = "report.html"

Formatter = Callable[[Any], str]
_NONE = "\u2013"  # an en dash stands for a missing value


def _int(value: Any) -> str:
    return _NONE if value is None else f"{int(value):,}"


def _rate(value: Any) -> str:
    return _NONE if value is None else f"{float(value):.1%}"


def _secs(value: Any) -> str:
    return _NONE if value is None else f"{float(value):,.1f}"


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
    html = render_page(page)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target then renamed: a reader (a mail job, a browser) never sees half a page.
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_text(html, encoding="utf-8")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def render_page(page: PageData) -> str:
    """The whole HTML document."""
    if not page.days:
        body = (
            '<p class="empty" data-empty="warehouse">The warehouse holds no workflows yet: run '
            "<code>civitai-sync sync</code> first.</p>"
        )
    else:
        body = "\n".join(
            (
                _totals(page),
                _moderation(page),
                _flagged(page),
                _usage(page),
                _daily_table(page),
            )
        )
    return PAGE.substitute(
        title=escape(TITLE),
        css=CSS,
        meta=_meta(page),
        body=body,
        footer=_footer(page),
    )


# -- header, totals, footer -------------------------------------------------------------------


def _meta(page: PageData) -> str:
    if page.days:
        span = f"{page.date_from} to {page.date_to} ({len(page.days)} day{_s(len(page.days))}, UTC)"
    else:
        span = "none"
    if page.warehouse_span:
        held = f"{page.warehouse_span[0]} to {page.warehouse_span[1]}"
    else:
        held = "no days"
    published = f"{_datetime(page.published.at)} UTC ({page.published.source})"
    rows = [
        ("Days", "days", span),
        ("Warehouse holds", "warehouse_days", held),
        ("Data directory", "data_dir", str(page.data_dir.resolve())),
        ("Warehouse published", "published_at", published),
        ("Page generated", "generated_at", f"{_datetime(page.generated_at)} UTC"),
        (
            "CSAM threshold",
            "csam_threshold",
            f"{page.csam_threshold:g} % (highest hive_csam_score per job)",
        ),
    ]
    return "\n".join(
        f'<dt>{escape(label)}</dt><dd data-meta="{key}">{escape(value)}</dd>'
        for label, key, value in rows
    )


def _totals(page: PageData) -> str:
    t = page.totals
    cards = [
        ("workflows", "Workflows", _int),
        ("success_rate", "Success rate", _rate),
        ("users", "Users", _int),
        ("buzz_net", "Buzz net of refunds", _int),
        ("jobs_scanned", "Jobs scanned", _int),
        ("jobs_flagged", "Jobs flagged", _int),
        ("flag_rate", "Flag rate", _rate),
        ("outputs_blocked", "Outputs blocked", _int),
    ]
    html = "".join(
        f'<div class="kpi"><div class="label">{escape(label)}</div>'
        f'<div class="value" data-metric="{key}" data-scope="range" '
        f'data-value="{_raw(t.get(key))}">{escape(fmt(t.get(key)))}</div></div>'
        for key, label, fmt in cards
    )
    return f'<section class="kpis" aria-label="Totals for the days shown">{html}</section>'


def _footer(page: PageData) -> str:
    span = f" --from {page.date_from} --to {page.date_to}" if page.days else ""
    return (
        "<p>Every figure comes from the warehouse's report tables (<code>rpt_*</code>, built by "
        "the SQL models in <code>sql/reports/</code>); totals over several days are SQL sums of "
        "those daily rows. Flagged = the job's highest hive_csam_score is at or above the "
        f"threshold ({escape(f'{page.csam_threshold:g}')} %). Times are UTC; a day is a UTC day "
        "of the workflow's creation time.</p>"
        "<p>The same figures in a terminal: <code>civitai-sync report moderation|usage|flagged"
        f"{escape(span)}</code>.</p>"
    )


# -- moderation -------------------------------------------------------------------------------


def _moderation(page: PageData) -> str:
    days = [d.isoformat() for d in page.days]
    everything = _by_day(r for r in page.moderation_daily if r["provider"] == ALL)
    figures: list[str] = []

    providers = sorted(
        {r["provider"] for r in page.moderation_daily if r["provider"] != ALL and r["jobs_flagged"]}
    )
    if providers:
        stacks = [
            Series(
                p,
                _pivot(
                    page, (r for r in page.moderation_daily if r["provider"] == p), "jobs_flagged"
                ),
            )
            for p in providers
        ]
        rate = Series(
            "flag rate (all providers)",
            [everything[d]["flag_rate"] if d in everything else None for d in page.days],
        )
        svg = charts.day_bars(
            "flagged_per_day",
            "Flagged jobs per day, by provider",
            days,
            stacks,
            ylabel="flagged jobs",
            rate=rate,
            rate_label="flagged / scanned",
        )
        table = _table(
            _PROVIDER_COLUMNS, page.providers, _provider_cell, attrs='data-table="providers"'
        )
        figures.append(
            _figure(svg + f'<div class="table-wrap">{table}</div>', "rpt_moderation_daily")
        )
    else:
        figures.append(
            _empty_card(
                "Flagged jobs per day, by provider",
                f"No job was flagged in these days (no highest CSAM score at or above "
                f"{page.csam_threshold:g} %).",
                "flagged_per_day",
            )
        )

    buckets = page.histogram
    if any(b["jobs"] for b in buckets):
        svg = charts.histogram(
            "csam_score_histogram",
            "Highest CSAM score per scanned job",
            [(float(b["score_from"]), float(b["score_to"])) for b in buckets],
            [int(b["jobs"]) for b in buckets],
            threshold=page.csam_threshold,
            xlabel="highest hive_csam_score (%)",
        )
        figures.append(_figure(svg, "rpt_csam_score_histogram"))
    else:
        figures.append(
            _empty_card(
                "Highest CSAM score per scanned job",
                "No job carried a hive_csam_score in these days.",
                "csam_score_histogram",
            )
        )

    figures.append(
        _label_chart(
            page,
            "vlm_summary",
            "vlm_labels",
            "VLM summary labels (hive_vlm_summary items)",
            "output items",
            "No hive_vlm_summary label in these days.",
        )
    )

    prompt_columns = [
        ("prompts_sexual", "sexual"),
        ("prompts_young", "young"),
        ("prompts_sexual_and_young", "sexual and young"),
        ("prompts_cr", "cr"),
        ("prompts_scan", "scan"),
    ]
    if any(r[c] for r in everything.values() for c, _ in prompt_columns):
        lines = [
            Series(label, [everything[d][column] if d in everything else None for d in page.days])
            for column, label in prompt_columns
        ]
        svg = charts.day_lines(
            "prompt_classification", "Prompts classified per day", days, lines, ylabel="jobs"
        )
        figures.append(_figure(svg, "rpt_moderation_daily"))
    else:
        figures.append(
            _empty_card(
                "Prompts classified per day",
                "No prompt was classified sexual, young, cr or scan in these days.",
                "prompt_classification",
            )
        )

    figures.append(
        _label_chart(
            page,
            "blocked_reason",
            "blocked_reasons",
            "Blocked outputs by reason",
            "outputs",
            "No output was blocked in these days.",
        )
    )
    figures.append(
        _label_chart(
            page,
            "nsfw_level",
            "nsfw_levels",
            "Outputs by NSFW level",
            "outputs",
            "No outputs in these days.",
        )
    )
    return (
        '<section id="moderation"><h2>Moderation</h2><div class="grid">'
        + "\n".join(figures)
        + "</div></section>"
    )


_PROVIDER_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("provider", "provider", ""),
    ("jobs", "jobs", "num"),
    ("jobs_scanned", "scanned", "num"),
    ("jobs_flagged", "flagged", "num"),
    ("flag_rate", "flag rate", "num"),
    ("csam_score_max", "max CSAM score", "num"),
)


def _provider_cell(column: str, value: Any) -> str:
    if column == "flag_rate":
        return _rate(value)
    if column == "csam_score_max":
        return _score(value)
    return _text(value) if column == "provider" else _int(value)


def _label_chart(
    page: PageData, category: str, name: str, title: str, unit: str, empty: str
) -> str:
    rows = page.labels.get(category, [])
    if not rows:
        return _empty_card(title, empty, name)
    shown = rows[:TOP_LABELS]
    svg = charts.hbars(
        name,
        title,
        [str(r["label"]) for r in shown],
        [Series(unit, [r["items"] for r in shown])],
        xlabel=unit,
    )
    more = len(rows) - len(shown)
    note = f"; {more} rarer label{_s(more)} not drawn" if more > 0 else ""
    return _figure(svg, "rpt_moderation_labels_daily" + note)


# -- flagged jobs -----------------------------------------------------------------------------

_FLAGGED_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("created_at", "created (UTC)", "nowrap"),
    ("csam_score_max", "max CSAM score", "num flag"),
    ("csam_scores", "CSAM score per output", ""),
    ("vlm_labels", "VLM labels", ""),
    ("prompt_classification", "prompt classified", ""),
    ("user_id", "user", "id"),
    ("step_type", "step type", ""),
    ("provider", "provider", ""),
    ("status", "status", ""),
    ("job_id", "job", "id"),
    ("workflow_id", "workflow", "id"),
)


def _flagged(page: PageData) -> str:
    listed: dict[date, list[dict[str, Any]]] = {}
    for row in page.flagged_jobs:
        listed.setdefault(row["day"], []).append(row)
    flagged_per_day = {
        r["day"]: r["jobs_flagged"] for r in page.moderation_daily if r["provider"] == ALL
    }
    synced = {r["day"] for r in page.usage_daily}
    parts = [
        '<section id="flagged"><h2>Flagged jobs to review</h2>',
        f'<p class="note">Jobs whose highest CSAM score is at or above {page.csam_threshold:g} %. '
        "Newest day first; within a day, highest score first.</p>",
    ]
    opened = False
    for day in reversed(page.days):
        key = day.isoformat()
        total = int(flagged_per_day.get(day) or 0)
        if day not in synced:
            parts.append(
                f'<p class="empty" data-empty="no_workflows" data-day="{key}">'
                f"{key}: no workflows in the warehouse for this day.</p>"
            )
            continue
        if total == 0:
            parts.append(
                f'<p class="empty" data-empty="no_flagged_jobs" data-day="{key}">'
                f"{key}: no flagged jobs.</p>"
            )
            continue
        rows = listed.get(day, [])
        shown = f" ({len(rows):,} highest scores listed)" if len(rows) < total else ""
        # Only the newest day is unfolded: 30 busy days would otherwise be a very long page.
        parts.append(
            f'<details data-day="{key}"{"" if opened else " open"}><summary>'
            f'<span class="day">{key}: {total:,} flagged job{_s(total)}</span>'
            f'<span class="note">{escape(shown)}</span></summary>'
        )
        opened = True
        parts.append(
            '<div class="table-wrap">'
            + _table(
                _FLAGGED_COLUMNS,
                rows,
                _flagged_cell,
                attrs=f'data-table="flagged" data-day="{key}"',
            )
            + "</div>"
        )
        if len(rows) < total:
            parts.append(
                f'<p class="note">{total - len(rows):,} more on this day: '
                f"<code>civitai-sync report flagged --from {key} --to {key}</code></p>"
            )
        parts.append("</details>")
    parts.append("</section>")
    return "\n".join(parts)


def _flagged_cell(column: str, value: Any) -> str:
    if column == "created_at":
        return _datetime(value)
    if column == "csam_score_max":
        return _score(value)
    if column == "csam_scores":
        return ", ".join(_score(v) for v in value or [])
    if column == "vlm_labels":
        return ", ".join(str(v) for v in value or [] if v is not None)
    return _text(value)


# -- usage ------------------------------------------------------------------------------------


def _usage(page: PageData) -> str:
    days = [d.isoformat() for d in page.days]
    usage = _by_day(page.usage_daily)
    figures: list[str] = []

    statuses = [
        ("succeeded", "succeeded"),
        ("failed", "failed"),
        ("expired", "expired"),
        ("canceled", "canceled"),
        ("in_progress", "in progress / other"),
    ]
    stacks = [
        Series(
            label, [usage[d][column] if d in usage else 0 for d in page.days], STATUS_COLORS[column]
        )
        for column, label in statuses
    ]
    rate = Series(
        "success rate", [usage[d]["success_rate"] if d in usage else None for d in page.days]
    )
    figures.append(
        _figure(
            charts.day_bars(
                "workflows_by_status",
                "Workflows per day, by status",
                days,
                stacks,
                ylabel="workflows",
                rate=rate,
                rate_label="succeeded / finished",
            ),
            "rpt_usage_daily",
        )
    )

    accounts = sorted({r["account_type"] for r in page.buzz_daily})
    if accounts:
        lines = [
            Series(
                a,
                _pivot(
                    page,
                    (r for r in page.buzz_daily if r["account_type"] == a),
                    "buzz_net",
                    missing=None,
                ),
            )
            for a in accounts
        ]
        figures.append(
            _figure(
                charts.day_lines(
                    "buzz_by_account",
                    "Buzz spent net of refunds, by account type",
                    days,
                    lines,
                    ylabel="Buzz",
                ),
                "rpt_buzz_daily",
            )
        )
    else:
        figures.append(
            _empty_card(
                "Buzz spent net of refunds, by account type",
                "No Buzz transactions in these days.",
                "buzz_by_account",
            )
        )

    latency = [
        Series(
            "latency p50",
            [usage[d]["latency_p50_seconds"] if d in usage else None for d in page.days],
            "#4269d0",
        ),
        Series(
            "latency p95",
            [usage[d]["latency_p95_seconds"] if d in usage else None for d in page.days],
            "#ff725c",
        ),
        Series(
            "queue p50",
            [usage[d]["queue_p50_seconds"] if d in usage else None for d in page.days],
            "#4269d0",
            dashed=True,
        ),
        Series(
            "queue p95",
            [usage[d]["queue_p95_seconds"] if d in usage else None for d in page.days],
            "#ff725c",
            dashed=True,
        ),
    ]
    figures.append(
        _figure(
            charts.day_lines(
                "latency",
                "Latency (created to completed) and queue time (created to started)",
                days,
                latency,
                ylabel="seconds",
            ),
            "rpt_usage_daily",
        )
    )

    mixes: dict[str, dict[str, int]] = {}
    for row in page.step_mixes:
        mixes.setdefault(row["step_types"], {})[row["status"]] = row["workflows"]
    if mixes:
        labels = list(mixes)
        known = [s for s in STATUS_COLORS if s != "in_progress"]
        other = sorted({s for m in mixes.values() for s in m} - set(known))
        stacks = [
            Series(s, [mixes[m].get(s, 0) for m in labels], STATUS_COLORS[s])
            for s in known
            if any(s in mixes[m] for m in labels)
        ] + [Series(s, [mixes[m].get(s, 0) for m in labels]) for s in other]
        figures.append(
            _figure(
                charts.hbars(
                    "step_types",
                    "Workflows by step types, by status",
                    labels,
                    stacks,
                    xlabel="workflows",
                ),
                "rpt_workflows_by_status_daily",
            )
        )
    else:
        figures.append(
            _empty_card("Workflows by step types", "No workflows in these days.", "step_types")
        )

    if page.top_users:
        labels = [f"user {r['user_id']}" for r in page.top_users]
        svg = charts.hbars(
            "top_users",
            "Top users by workflows",
            labels,
            [Series("workflows", [r["workflows"] for r in page.top_users])],
            xlabel="workflows",
        )
        table = _table(
            _TOP_USER_COLUMNS, page.top_users, _top_user_cell, attrs='data-table="top_users"'
        )
        figures.append(_figure(svg + f'<div class="table-wrap">{table}</div>', "rpt_user_history"))
    else:
        figures.append(
            _empty_card("Top users", "No workflows with a known user in these days.", "top_users")
        )
    return (
        '<section id="usage"><h2>Usage</h2><div class="grid">'
        + "\n".join(figures)
        + "</div></section>"
    )


_TOP_USER_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("user_id", "user", "id"),
    ("workflows", "workflows", "num"),
    ("succeeded", "succeeded", "num"),
    ("failed", "failed", "num"),
    ("jobs", "jobs", "num"),
    ("buzz_net", "Buzz net", "num"),
    ("active_days", "active days", "num"),
)


def _top_user_cell(column: str, value: Any) -> str:
    return _text(value) if column == "user_id" else _int(value)


# -- daily figures ----------------------------------------------------------------------------

_DAILY_COLUMNS: tuple[tuple[str, str, str, Formatter], ...] = (
    ("usage", "workflows", "workflows", _int),
    ("usage", "succeeded", "succeeded", _int),
    ("usage", "failed", "failed", _int),
    ("usage", "success_rate", "success rate", _rate),
    ("usage", "users", "users", _int),
    ("usage", "buzz_net", "Buzz net", _int),
    ("usage", "latency_p50_seconds", "latency p50 s", _secs),
    ("usage", "latency_p95_seconds", "latency p95 s", _secs),
    ("usage", "queue_p50_seconds", "queue p50 s", _secs),
    ("usage", "queue_p95_seconds", "queue p95 s", _secs),
    ("moderation", "jobs_scanned", "jobs scanned", _int),
    ("moderation", "jobs_flagged", "jobs flagged", _int),
    ("moderation", "flag_rate", "flag rate", _rate),
    ("moderation", "outputs_blocked", "outputs blocked", _int),
)


def _daily_table(page: PageData) -> str:
    usage = _by_day(page.usage_daily)
    moderation = _by_day(r for r in page.moderation_daily if r["provider"] == ALL)
    head = "".join(
        f'<th class="{"num" if i else ""}">{escape(label)}</th>'
        for i, (_, _, label, _) in enumerate((("", "", "day", _text), *_DAILY_COLUMNS))
    )
    body = []
    for day in page.days:
        key = day.isoformat()
        if day not in usage:
            body.append(
                f'<tr class="nodata" data-day="{key}"><td>{key}</td>'
                f'<td colspan="{len(_DAILY_COLUMNS)}">No workflows in the warehouse for '
                "this day.</td></tr>"
            )
            continue
        cells = [f"<td>{key}</td>"]
        for source, metric, _, fmt in _DAILY_COLUMNS:
            row = (usage if source == "usage" else moderation).get(day, {})
            value = row.get(metric)
            css = "num flag" if metric == "jobs_flagged" and value else "num"
            cells.append(
                f'<td class="{css}" data-metric="{metric}" data-day="{key}" '
                f'data-value="{_raw(value)}">{escape(fmt(value))}</td>'
            )
        body.append(f'<tr data-day="{key}">{"".join(cells)}</tr>')
    return (
        '<section id="daily"><h2>Daily figures</h2>'
        '<p class="note">From <code>rpt_usage_daily</code> and <code>rpt_moderation_daily</code> '
        "(all providers).</p>"
        f'<div class="table-wrap"><table data-table="daily"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div></section>"
    )


# -- building blocks --------------------------------------------------------------------------


def _figure(svg: str, source: str) -> str:
    return f'<figure class="card">{svg}<figcaption>Source: {escape(source)}</figcaption></figure>'


def _empty_card(title: str, message: str, name: str) -> str:
    return (
        f'<div class="card"><h3>{escape(title)}</h3>'
        f'<p class="empty" data-empty="{escape(name)}">{escape(message)}</p></div>'
    )


def _table(
    columns: Sequence[tuple[str, str, str]],
    rows: Iterable[dict[str, Any]],
    cell: Callable[[str, Any], str],
    *,
    attrs: str = "",
) -> str:
    head = "".join(
        f'<th class="{css.split()[0] if css else ""}">{escape(label)}</th>'
        for _, label, css in columns
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="{css}">{escape(cell(column, row.get(column)))}</td>'
            for column, _, css in columns
        )
        + "</tr>"
        for row in rows
    )
    return f"<table {attrs}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _by_day(rows: Iterable[dict[str, Any]]) -> dict[date, dict[str, Any]]:
    return {r["day"]: r for r in rows}


def _pivot(
    page: PageData, rows: Iterable[dict[str, Any]], column: str, missing: Any = 0
) -> list[Any]:
    by_day = _by_day(rows)
    return [by_day[d][column] if d in by_day else missing for d in page.days]


def _raw(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return escape(str(value))


def _score(value: Any) -> str:
    return _NONE if value is None else f"{float(value):.2f}"


def _text(value: Any) -> str:
    if value is None:
        return _NONE
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _datetime(value: datetime | None) -> str:
    return _NONE if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def _s(n: int) -> str:
    return "" if n == 1 else "s"
