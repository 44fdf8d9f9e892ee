"""The Dagster code location loads, and its graph is the one the docs and scripts rely on.

Pins the sorted asset keys, the asset checks, the jobs, schedules and sensors, so any change
to the graph shows up here as a diff. Loading must need no token (the token is an EnvVar read
when a run starts) and must never put one into resource config.
"""

from datetime import UTC, date, datetime

import dagster as dg
import pytest

from assets import definitions
from assets.lake import LAKE_TABLES
from assets.schedules import nightly_partition_keys, nightly_sync
from pipeline.warehouse.models import discover_models

LAKE_ASSETS = [
    "blobs",
    "job_details",
    "jobs",
    "moderation_verdicts",
    "scan_scores",
    "steps",
    "transactions",
    "workflows",
]


@pytest.fixture(scope="module")
def repo() -> dg.RepositoryDefinition:
    dg.Definitions.validate_loadable(definitions.defs)
    return definitions.defs.get_repository_def()


def test_asset_keys_are_the_lake_tables_the_warehouse_every_sql_model_and_the_page(repo):
    models = sorted(m.name for m in discover_models())
    keys = sorted(k.to_user_string() for k in repo.asset_graph.get_all_asset_keys())
    assert keys == sorted([*LAKE_ASSETS, "warehouse", "html_report", *models])
    assert sorted(LAKE_TABLES) == LAKE_ASSETS


def test_groups_kinds_and_partitions(repo):
    graph = repo.asset_graph
    for table in LAKE_ASSETS:
        node = graph.get(dg.AssetKey(table))
        assert node.group_name == "lake"
        assert node.partitions_def is not None
        assert "deltalake" in node.kinds
    warehouse = graph.get(dg.AssetKey("warehouse"))
    assert warehouse.partitions_def is None
    assert set(warehouse.parent_keys) == {dg.AssetKey(t) for t in LAKE_ASSETS}
    for model in discover_models():
        node = graph.get(dg.AssetKey(model.name))
        assert node.group_name == model.layer
        expected = {dg.AssetKey(d) for d in model.model_deps}
        if model.source_deps:
            expected.add(dg.AssetKey("warehouse"))
        assert set(node.parent_keys) == expected, model.name


def test_lake_and_model_assets_describe_every_column_with_its_unit(repo):
    graph = repo.asset_graph
    for name in [*LAKE_ASSETS, *(m.name for m in discover_models())]:
        node = graph.get(dg.AssetKey(name))
        assert node.description, name
        schema = node.metadata.get("dagster/column_schema")
        assert isinstance(schema, dg.TableSchema) and schema.columns, name
        assert all(c.description and c.type for c in schema.columns), name
    jobs = graph.get(dg.AssetKey("job_details")).metadata["dagster/column_schema"]
    score = next(c for c in jobs.columns if c.name == "csam_score_max_pct")
    assert score.type == "DOUBLE" and score.tags == {"unit": "percent 0-100"}
    assert score.description.endswith("[percent 0-100]")
    daily = graph.get(dg.AssetKey("rpt_moderation_daily")).metadata["dagster/column_schema"]
    names = [c.name for c in daily.columns]
    assert names[:2] == ["day", "provider"] and "flag_ratio" in names


def test_enrichment_reads_jobs(repo):
    for table in ("job_details", "scan_scores"):
        assert set(repo.asset_graph.get(dg.AssetKey(table)).parent_keys) == {dg.AssetKey("jobs")}


def test_api_assets_share_the_orchestration_api_pool(repo):
    graph = repo.asset_graph
    pools = {
        table: graph.assets_def_for_key(dg.AssetKey(table)).op.pool
        for table in ("workflows", "job_details", "warehouse")
    }
    assert pools == {
        "workflows": "orchestration_api",
        "job_details": "orchestration_api",
        "warehouse": None,
    }


def test_asset_checks(repo):
    checks = {(k.asset_key.to_user_string(), k.name) for k in repo.asset_graph.asset_check_keys}
    lake = {
        *((t, "unique_key") for t in LAKE_ASSETS),
        *((t, "rows_in_window") for t in LAKE_ASSETS),
        *(
            (t, "has_workflow")
            for t in ("steps", "jobs", "blobs", "transactions", "moderation_verdicts")
        ),
        ("job_details", "has_job"),
        ("scan_scores", "has_job"),
        ("job_details", "all_jobs_enriched"),
        ("scan_scores", "item_ranges"),
    }
    models = {
        (m.name, name)
        for m in discover_models()
        for name in ("no_null_keys", "unique_grain", "ratios_in_unit_interval", "percents_in_range")
    }
    assert checks == lake | models | {
        ("warehouse", "matches_lake"),
        ("rpt_flagged_jobs", "flagged_jobs_over_threshold"),
        ("workflows", "yesterday_window_complete"),
    }


def test_jobs_schedules_and_sensors(repo):
    assert sorted(s.name for s in repo.schedule_defs) == [
        "freshness_check",
        "nightly_sync",
        "weekly_maintenance",
    ]
    assert sorted(s.name for s in repo.sensor_defs) == [
        "alert_on_run_failure",
        "warehouse_after_sync",
    ]
    jobs = {j.name for j in repo.get_all_jobs()}
    assert {"sync_windows_job", "warehouse_job", "maintain_job", "freshness_job"} <= jobs
    schedule = repo.get_schedule_def("nightly_sync")
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.execution_timezone == "UTC"
    assert schedule.job_name == "sync_windows_job"


def test_nightly_schedule_requests_yesterday_and_the_lookback_days():
    tick = datetime(2026, 3, 10, 2, tzinfo=UTC)
    requests = list(nightly_sync(dg.build_schedule_context(scheduled_execution_time=tick)))
    assert [r.partition_key for r in requests] == ["2026-03-07", "2026-03-08", "2026-03-09"]
    assert len({r.run_key for r in requests}) == 3
    # Days before the first partition are never requested.
    assert nightly_partition_keys(date(2026, 1, 2)) == ["2026-01-01"]


def test_loading_needs_no_token_and_config_holds_only_the_variable_name(monkeypatch):
    monkeypatch.setenv("CIVITAI_API_TOKEN", "tok-should-not-leak")
    api = definitions.defs.resources["api"]
    assert isinstance(api.token, dg.EnvVar)
    assert api.token == "CIVITAI_API_TOKEN"
    assert "tok-should-not-leak" not in repr(api)
