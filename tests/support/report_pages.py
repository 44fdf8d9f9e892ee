"""What the HTML report tests share: the warehouses they render, the figures they expect, and a
reading of a page's daily figures that is compared with the report tables queried directly.

The same page is read twice: as parsed HTML in the default tier (tests/integration) and as a
real browser shows it in the end-to-end tier (tests/e2e).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from pipeline.api.client import OrchestrationClient
from pipeline.core.settings import Settings
from pipeline.reports.html import write_html_report
from pipeline.runs.sync import sync_range
from pipeline.warehouse.build import build_models
from pipeline.warehouse.publish import publish_warehouse
from simulator import SimulatorConfig, SimulatorServer
from tests.support.core_tables import insert
from tests.support.handmade_warehouse import DAY1, load_core_tables

CHART_NAMES = {
    "flagged_per_day",
    "csam_score_histogram",
    "vlm_labels",
    "prompt_classification",
    "blocked_reasons",
    "nsfw_levels",
    "workflows_by_status",
    "buzz_by_account",
    "latency",
    "step_types",
    "top_users",
}
USAGE_METRICS = (
    "workflows",
    "succeeded",
    "failed",
    "success_ratio",
    "users",
    "buzz_net",
    "latency_p50_seconds",
    "latency_p95_seconds",
    "queue_p50_seconds",
    "queue_p95_seconds",
)
MODERATION_METRICS = ("jobs_scanned", "jobs_flagged", "flag_ratio", "outputs_blocked")
HOSTILE_LABEL = "<img src=x onerror=\"console.error('xss')\">"
HOSTILE_STEP = "<script>console.error('xss')</script>"
# Paper figures of the hand-made day 1, so a wrong column read by both sides still fails.
HANDMADE_DAY1_TEXT = {
    "workflows": "4",
    "jobs_flagged": "2",
    "buzz_net": "95",
    "flag_ratio": "66.7%",
}


def handmade_with_hostile_labels(path: Path) -> Path:
    """The hand-made warehouse plus a VLM label and a step type that are HTML."""
    con = duckdb.connect(str(path))
    try:
        load_core_tables(con)
        insert(
            con,
            "scan_scores",
            [
                {
                    "job_id": "jc1",
                    "workflow_id": "202-c",
                    "window_date": DAY1,
                    "score_name": "hive_vlm_summary",
                    "item_index": 1,
                    "label": HOSTILE_LABEL,
                    "value_text": HOSTILE_LABEL,
                },
            ],
        )
        con.execute(
            "update steps set step_type = ? where workflow_id = '202-c' and step_name = '$0'",
            [HOSTILE_STEP],
        )
        build_models(con)
    finally:
        con.close()
    return path


def handmade_settings(data_dir: Path) -> Settings:
    """The hand-made warehouse (with hostile labels) in `data_dir`."""
    handmade_with_hostile_labels(data_dir / "warehouse.duckdb")
    return Settings(data_dir=data_dir)


def page_of_every_day(settings: Settings) -> Path:
    return write_html_report(settings, days=None, out=settings.data_dir / "report.html")


def simulated_settings(data_dir: Path) -> Settings:
    """Three days synced from the simulator through the real sync and warehouse publish."""
    config = SimulatorConfig(seed=11, start=date(2026, 11, 1), days=3, workflows_per_day=120)
    with SimulatorServer(config) as server:
        settings = Settings(api_url=server.url, token=config.token, data_dir=data_dir)
        with OrchestrationClient(base_url=server.url, token=config.token) as client:
            results = sync_range(settings, client, server.account.days, enrich=True)
    assert [r.status for r in results] == ["complete"] * 3
    publish_warehouse(settings)
    return Settings(data_dir=data_dir)


def sql_row(warehouse: Path, table: str, day: date, where: str = "true") -> dict[str, Any]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        cursor = con.execute(f"select * from {table} where day = ? and {where}", [day])
        columns = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    assert len(rows) == 1, (table, day, rows)
    return dict(zip(columns, rows[0], strict=True))


def sql_figures(warehouse: Path, day: date) -> tuple[dict[str, Any], dict[str, Any]]:
    """The day's row of rpt_usage_daily and of rpt_moderation_daily over all providers."""
    return (
        sql_row(warehouse, "rpt_usage_daily", day),
        sql_row(warehouse, "rpt_moderation_daily", day, "provider = '(all)'"),
    )


def assert_figures_match(shown: dict[str, dict[str, str]], usage: dict, moderation: dict) -> None:
    """`shown`: the daily table's cells of one day, metric -> {value: data-value, text: shown}."""
    expected = {
        **{m: usage[m] for m in USAGE_METRICS},
        **{m: moderation[m] for m in MODERATION_METRICS},
    }
    assert set(shown) == set(expected)
    for metric, value in expected.items():
        cell = shown[metric]
        if value is None:
            assert cell["value"] == "" and cell["text"] == "\u2013", metric
        elif isinstance(value, float):
            assert float(cell["value"]) == value, metric
            if metric.endswith("_ratio"):
                assert cell["text"] == f"{value:.1%}", metric
            else:
                assert cell["text"] == f"{value:,.1f}", metric
        else:
            assert int(cell["value"]) == value, metric
            assert cell["text"] == f"{value:,}", metric
