"""The chart cards of the Moderation and Usage grids: each a chart drawn from the report tables
(with the table it comes from), or the reason it has nothing to draw.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from markupsafe import Markup

from pipeline.reports.html import charts
from pipeline.reports.html.charts import STATUS_COLORS, Series
from pipeline.reports.html.columns import PROVIDER_COLUMNS, TOP_USER_COLUMNS, Column
from pipeline.reports.html.data import TOP_LABELS, PageData

ALL = "(all)"  # the provider value of the rows summed over every provider


@dataclass(frozen=True)
class Card:
    """One cell of a chart grid: a chart (with its source table) or why it has nothing to draw."""

    name: str
    title: str
    svg: Markup | None
    source: str = ""
    empty: str = ""
    empty_title: str = ""
    table: tuple[tuple[Column, ...], list[dict[str, Any]], dict[str, str]] | None = None


def _chart(name: str, title: str, source: str, empty: str, svg: str | None, **more: Any) -> Card:
    return Card(name, title, None if svg is None else Markup(svg), source, empty, **more)


def moderation(page: PageData) -> list[Card]:
    days = [d.isoformat() for d in page.days]
    everything = by_day(r for r in page.moderation_daily if r["provider"] == ALL)
    flagged = _flagged_card(page, days, everything)
    histogram = _histogram_card(page)
    prompts = _prompts_card(page, days, everything)
    return [
        flagged,
        histogram,
        _label_chart(
            page,
            "vlm_summary",
            "vlm_labels",
            "VLM summary labels (hive_vlm_summary items)",
            "output items",
            "No hive_vlm_summary label in these days.",
        ),
        prompts,
        _label_chart(
            page,
            "blocked_reason",
            "blocked_reasons",
            "Blocked outputs by reason",
            "outputs",
            "No output was blocked in these days.",
        ),
        _label_chart(
            page,
            "nsfw_level",
            "nsfw_levels",
            "Outputs by NSFW level",
            "outputs",
            "No outputs in these days.",
        ),
    ]


def _flagged_card(page: PageData, days: list[str], everything: dict[date, dict[str, Any]]) -> Card:
    rows = page.moderation_daily
    providers = sorted({r["provider"] for r in rows if r["provider"] != ALL and r["jobs_flagged"]})
    title = "Flagged jobs per day, by provider"
    flagged = _chart(
        "flagged_per_day",
        title,
        "rpt_moderation_daily",
        f"No job was flagged in these days (no highest CSAM score at or above "
        f"{page.csam_threshold:g} %).",
        charts.day_bars(
            "flagged_per_day",
            title,
            days,
            [
                Series(p, _pivot(page, (r for r in rows if r["provider"] == p), "jobs_flagged"))
                for p in providers
            ],
            ylabel="flagged jobs",
            rate=Series("flag rate (all providers)", _column(page, everything, "flag_ratio")),
            rate_label="flagged / scanned",
        )
        if providers
        else None,
        table=(PROVIDER_COLUMNS, page.providers, {"data-table": "providers"}),
    )
    return flagged


def _histogram_card(page: PageData) -> Card:
    buckets = page.histogram
    title = "Highest CSAM score per scanned job"
    histogram = _chart(
        "csam_score_histogram",
        title,
        "rpt_csam_score_histogram",
        "No job carried a hive_csam_score in these days.",
        charts.histogram(
            "csam_score_histogram",
            title,
            [(float(b["score_from_pct"]), float(b["score_to_pct"])) for b in buckets],
            [int(b["jobs"]) for b in buckets],
            threshold=page.csam_threshold,
            xlabel="highest hive_csam_score (%)",
        )
        if any(b["jobs"] for b in buckets)
        else None,
    )
    return histogram


def _prompts_card(page: PageData, days: list[str], everything: dict[date, dict[str, Any]]) -> Card:
    prompt_columns = [
        ("prompts_sexual", "sexual"),
        ("prompts_young", "young"),
        ("prompts_sexual_and_young", "sexual and young"),
        ("prompts_cr", "cr"),
        ("prompts_scan", "scan"),
    ]
    title = "Prompts classified per day"
    prompts = _chart(
        "prompt_classification",
        title,
        "rpt_moderation_daily",
        "No prompt was classified sexual, young, cr or scan in these days.",
        charts.day_lines(
            "prompt_classification",
            title,
            days,
            [Series(label, _column(page, everything, c)) for c, label in prompt_columns],
            ylabel="jobs",
        )
        if any(r[c] for r in everything.values() for c, _ in prompt_columns)
        else None,
    )
    return prompts


def _label_chart(
    page: PageData, category: str, name: str, title: str, unit: str, empty: str
) -> Card:
    rows = page.labels.get(category, [])
    shown = rows[:TOP_LABELS]
    more = len(rows) - len(shown)
    note = f"; {more} rarer label{'' if more == 1 else 's'} not drawn" if more > 0 else ""
    labels = [str(r["label"]) for r in shown]
    bars = [Series(unit, [r["items"] for r in shown])]
    svg = charts.hbars(name, title, labels, bars, xlabel=unit) if rows else None
    return _chart(name, title, "rpt_moderation_labels_daily" + note, empty, svg)


# -- usage ------------------------------------------------------------------------------------


def usage(page: PageData) -> list[Card]:
    days = [d.isoformat() for d in page.days]
    usage = by_day(page.usage_daily)
    statuses = [
        ("succeeded", "succeeded"),
        ("failed", "failed"),
        ("expired", "expired"),
        ("canceled", "canceled"),
        ("in_progress", "in progress / other"),
    ]
    title = "Workflows per day, by status"
    by_status = _chart(
        "workflows_by_status",
        title,
        "rpt_usage_daily",
        "",
        charts.day_bars(
            "workflows_by_status",
            title,
            days,
            [
                Series(label, _column(page, usage, column, 0), STATUS_COLORS[column])
                for column, label in statuses
            ],
            ylabel="workflows",
            rate=Series("success rate", _column(page, usage, "success_ratio")),
            rate_label="succeeded / finished",
        ),
    )

    rows = page.buzz_daily
    accounts = sorted({r["account_type"] for r in rows})
    title = "Buzz spent net of refunds, by account type"
    buzz = _chart(
        "buzz_by_account",
        title,
        "rpt_buzz_daily",
        "No Buzz transactions in these days.",
        charts.day_lines(
            "buzz_by_account",
            title,
            days,
            [
                Series(
                    a,
                    _pivot(page, (r for r in rows if r["account_type"] == a), "buzz_net", None),
                )
                for a in accounts
            ],
            ylabel="Buzz",
        )
        if accounts
        else None,
    )

    blue, red = "#4269d0", "#ff725c"
    latency = [
        Series("latency p50", _column(page, usage, "latency_p50_seconds"), blue),
        Series("latency p95", _column(page, usage, "latency_p95_seconds"), red),
        Series("queue p50", _column(page, usage, "queue_p50_seconds"), blue, dashed=True),
        Series("queue p95", _column(page, usage, "queue_p95_seconds"), red, dashed=True),
    ]
    title = "Latency (created to completed) and queue time (created to started)"
    timing = _chart(
        "latency",
        title,
        "rpt_usage_daily",
        "",
        charts.day_lines("latency", title, days, latency, ylabel="seconds"),
    )
    return [by_status, buzz, timing, _step_types(page), _top_users(page)]


def _step_types(page: PageData) -> Card:
    mixes: dict[str, dict[str, int]] = {}
    for row in page.step_mixes:
        mixes.setdefault(row["step_types"], {})[row["status"]] = row["workflows"]
    labels = list(mixes)
    known = [s for s in STATUS_COLORS if s != "in_progress"]
    other = sorted({s for m in mixes.values() for s in m} - set(known))
    stacks = [
        Series(s, [mixes[m].get(s, 0) for m in labels], STATUS_COLORS[s])
        for s in known
        if any(s in mixes[m] for m in labels)
    ] + [Series(s, [mixes[m].get(s, 0) for m in labels]) for s in other]
    title = "Workflows by step types, by status"
    return _chart(
        "step_types",
        title,
        "rpt_workflows_by_status_daily",
        "No workflows in these days.",
        charts.hbars("step_types", title, labels, stacks, xlabel="workflows") if mixes else None,
        empty_title="Workflows by step types",
    )


def _top_users(page: PageData) -> Card:
    users = page.top_users
    title = "Top users by workflows"
    return _chart(
        "top_users",
        title,
        "rpt_user_days",
        "No workflows with a known user in these days.",
        charts.hbars(
            "top_users",
            title,
            [f"user {r['user_id']}" for r in users],
            [Series("workflows", [r["workflows"] for r in users])],
            xlabel="workflows",
        )
        if users
        else None,
        empty_title="Top users",
        table=(TOP_USER_COLUMNS, users, {"data-table": "top_users"}),
    )


# -- building blocks --------------------------------------------------------------------------


def by_day(rows: Iterable[dict[str, Any]]) -> dict[date, dict[str, Any]]:
    return {r["day"]: r for r in rows}


def _column(
    page: PageData, rows: dict[date, dict[str, Any]], column: str, missing: Any = None
) -> list[Any]:
    """One value per day shown (`missing` on days without a row)."""
    return [rows[d][column] if d in rows else missing for d in page.days]


def _pivot(
    page: PageData, rows: Iterable[dict[str, Any]], column: str, missing: Any = 0
) -> list[Any]:
    return _column(page, by_day(rows), column, missing)
