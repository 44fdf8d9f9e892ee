"""rpt_user_history is a view of running totals over rpt_user_days, an incremental model:
a publish recomputes the changed days only, and the report still equals what the previous
definition (a table rebuilt whole, kept in tests/fixtures) gave, after a full build, after
an incremental publish, and under another CSAM threshold."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pytest

from pipeline.api.client import OrchestrationClient
from pipeline.core import duck
from pipeline.core.settings import Settings
from pipeline.reports.report import _recompute
from pipeline.runs.sync import sync_range
from pipeline.warehouse.publish import publish_warehouse
from simulator import SimulatorConfig, SimulatorServer

PREVIOUS = Path(__file__).parents[1] / "fixtures" / "rpt_user_history_previous.sql"
# Low enough that the simulator's scores flag some jobs, so jobs_flagged_to_date moves.
THRESHOLD = 10.0


@dataclass
class Published:
    settings: Settings
    days: list[date]
    incremental: dict[str, int | None]  # model -> days recomputed by the second publish


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Published]:
    config = SimulatorConfig(seed=23, start=date(2026, 11, 1), days=3, workflows_per_day=60)
    data_dir = tmp_path_factory.mktemp("history") / "data"
    with SimulatorServer(config) as server:
        settings = Settings(api_url=server.url, token=config.token, data_dir=data_dir)
        days = list(server.account.days)
        params = {"csam_threshold": THRESHOLD}
        with OrchestrationClient(base_url=server.url, token=config.token) as client:
            sync_range(settings, client, days[:2])
            publish_warehouse(settings, params=params)
            sync_range(settings, client, days[2:])
        second = publish_warehouse(settings, params=params)
        incremental = {m.name: m.days for m in second.models}
        yield Published(settings, days, incremental)


def previous_output(con: duckdb.DuckDBPyConnection, threshold: float) -> list[tuple]:
    con.execute("set variable csam_threshold = ?", [threshold])
    return con.execute(PREVIOUS.read_text(encoding="utf-8")).fetchall()


def current_output(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute("select * from rpt_user_history order by user_id, day").fetchall()


def test_a_publish_recomputes_only_the_new_days_of_the_daily_model(published: Published) -> None:
    assert published.incremental["rpt_user_days"] == 1
    assert "rpt_user_history" in published.incremental


def test_the_report_equals_the_previous_definition(published: Published) -> None:
    con = duck.connect(published.settings.warehouse_path, read_only=True)
    try:
        current = current_output(con)
        expected = previous_output(con, THRESHOLD)
        columns = [row[0] for row in con.execute("describe rpt_user_history").fetchall()]
    finally:
        con.close()
    assert current == expected
    assert {row[1] for row in current} == set(published.days)
    at = columns.index("jobs_flagged_to_date")
    assert any(row[at] > 0 for row in current)  # the flagged totals are exercised


def test_another_threshold_recomputes_the_same_way(published: Published) -> None:
    con = duck.connect(published.settings.warehouse_path, read_only=True)
    try:
        built = current_output(con)
        _recompute(con, ["rpt_user_history"], {"csam_threshold": 95.0, "top_users": 10})
        current = current_output(con)
        expected = previous_output(con, 95.0)
    finally:
        con.close()
    assert current == expected
    assert current != built  # fewer jobs are flagged at 95 than at the published threshold
