"""The real Dagster assets, materialized against the simulator into a temporary data dir.

Two windows are synced and enriched as two partition runs (with the lake checks of each run),
then the warehouse is rebuilt (with its checks). The Parquet files and the DuckDB warehouse
are compared with the simulator's ground truth; every check must pass; no event, metadata or
file may contain the API token. The sensor that rebuilds the warehouse is exercised against
the same Dagster instance.
"""

import gzip
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from assets.checks import ALL_CHECKS
from assets.enrichment import enrich_window
from assets.ingest import ingest_window
from assets.resources import DataDirResource, ModelParamsResource, OrchestrationApiResource
from assets.schedules import warehouse_after_sync
from assets.warehouse import MODELS, build_warehouse
from pipeline.core.settings import Settings
from pipeline.fetch import archive
from pipeline.lake.ledger import Ledger
from pipeline.lake.store import Lake
from simulator import SimulatorConfig, SimulatorServer

TOKEN = "sim-secret-7c1d0e5a"
FIRST_DAY = date(2026, 2, 1)
DAYS = [FIRST_DAY, FIRST_DAY + timedelta(days=1)]
ALL_ASSETS = [ingest_window, enrich_window, build_warehouse, *ALL_CHECKS]
LAKE_SELECTION = dg.AssetSelection.assets(ingest_window, enrich_window)
WAREHOUSE_SELECTION = dg.AssetSelection.assets(build_warehouse)


@pytest.fixture(scope="module")
def sim_server():
    config = SimulatorConfig(
        seed=11, start=FIRST_DAY, days=len(DAYS), workflows_per_day=40, token=TOKEN
    )
    with SimulatorServer(config) as server:
        yield server


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def instance():
    # In-memory event log: the runs emit ~100 check results, and SQLite commits would
    # dominate the test's time.
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


@pytest.fixture(scope="module")
def resources(sim_server, data_dir):
    return {
        "api": OrchestrationApiResource(token=TOKEN, api_url=sim_server.url, job_concurrency=4),
        "data": DataDirResource(data_dir=str(data_dir)),
        "model_params": ModelParamsResource(csam_threshold=40.0),
    }


@pytest.fixture(scope="module")
def lake_runs(resources, instance):
    return {
        day: dg.materialize(
            ALL_ASSETS,
            selection=LAKE_SELECTION,
            partition_key=day.isoformat(),
            resources=resources,
            instance=instance,
        )
        for day in DAYS
    }


@pytest.fixture(scope="module")
def warehouse_run(lake_runs, resources, instance):
    return dg.materialize(
        ALL_ASSETS, selection=WAREHOUSE_SELECTION, resources=resources, instance=instance
    )


def metadata(result: dg.ExecuteInProcessResult, key: str) -> dict[str, object]:
    [event] = [
        e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(key)
    ]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def parquet(data_dir: Path, table: str, day: date) -> list[dict]:
    return Lake.from_settings(Settings(data_dir=data_dir)).read(table, [day]).to_pylist()


def truth_workflows(sim_server, day: date) -> list[dict]:
    return list(sim_server.account.workflows(day))


def test_each_window_run_materializes_the_eight_lake_tables(lake_runs):
    for day, result in lake_runs.items():
        assert result.success
        keys = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
        assert keys == {
            "workflows",
            "steps",
            "jobs",
            "blobs",
            "transactions",
            "moderation_verdicts",
            "job_details",
            "scan_scores",
        }
        assert all(
            e.partition == day.isoformat() for e in result.get_asset_materialization_events()
        )


def test_lake_matches_the_simulator(lake_runs, sim_server, data_dir):
    for day in DAYS:
        truth = truth_workflows(sim_server, day)
        workflows = parquet(data_dir, "workflows", day)
        assert sorted(w["workflow_id"] for w in workflows) == sorted(w["id"] for w in truth)
        assert {w["window_date"] for w in workflows} == {day}
        steps = parquet(data_dir, "steps", day)
        assert len(steps) == sum(len(w.get("steps") or []) for w in truth)
        truth_jobs = sorted(
            j["id"] for w in truth for s in w.get("steps") or [] for j in s.get("jobs") or []
        )
        assert sorted(j["job_id"] for j in parquet(data_dir, "jobs", day)) == truth_jobs
        transactions = parquet(data_dir, "transactions", day)
        assert len(transactions) == sum(
            len((w.get("transactions") or {}).get("list") or []) for w in truth
        )
        details = parquet(data_dir, "job_details", day)
        assert sorted(d["job_id"] for d in details) == truth_jobs
        found = [d for d in details if d["found"]]
        assert found, "the sim_server serves every job it embeds"
        for row in found:
            assert sim_server.account.job(row["job_id"]) is not None


def test_ingest_and_enrichment_metadata(lake_runs, sim_server, data_dir):
    for day, result in lake_runs.items():
        truth = truth_workflows(sim_server, day)
        workflows = metadata(result, "workflows")
        assert workflows["workflows"] == len(truth) == workflows["rows"]
        assert workflows["pages"] >= 1
        assert workflows["filter_mode"] in ("server", "client")
        row = Ledger(Lake.from_settings(Settings(data_dir=data_dir))).get(day)
        assert workflows["delta_version"] == row.tables["workflows"].version
        details = metadata(result, "job_details")
        assert details["jobs_looked_up"] == details["rows"] > 0
        assert details["jobs_failed"] == 0
        assert details["status_429"] == 0


def test_every_check_passes(lake_runs, warehouse_run):
    for result in [*lake_runs.values(), warehouse_run]:
        evaluations = result.get_asset_check_evaluations()
        assert evaluations
        failed = [
            (e.asset_key.to_user_string(), e.check_name, e.metadata)
            for e in evaluations
            if not e.passed
        ]
        assert failed == []
    lake_checks = {
        (e.asset_key.to_user_string(), e.check_name)
        for e in lake_runs[DAYS[0]].get_asset_check_evaluations()
    }
    assert ("workflows", "rows_in_window") in lake_checks
    assert ("scan_scores", "item_ranges") in lake_checks
    warehouse_checks = {
        (e.asset_key.to_user_string(), e.check_name)
        for e in warehouse_run.get_asset_check_evaluations()
    }
    assert ("warehouse", "matches_lake") in warehouse_checks
    assert ("rpt_flagged_jobs", "flagged_jobs_over_threshold") in warehouse_checks


def test_partition_checks_look_at_their_window_only(lake_runs):
    for day, result in lake_runs.items():
        for evaluation in result.get_asset_check_evaluations():
            assert evaluation.metadata["windows"].value == [day.isoformat()]


def test_warehouse_holds_both_windows_and_every_model(warehouse_run, sim_server, data_dir):
    assert warehouse_run.success
    keys = {e.asset_key.to_user_string() for e in warehouse_run.get_asset_materialization_events()}
    assert keys == {"warehouse", *(m.name for m in MODELS)}
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        total = sum(len(truth_workflows(sim_server, day)) for day in DAYS)
        assert con.execute("select count(*) from workflows").fetchone() == (total,)
        assert con.execute(
            "select window_date, status from sync_windows order by window_date"
        ).fetchall() == [(day, "complete") for day in DAYS]
        for model in MODELS:
            assert con.execute(f"select count(*) from {model.name}").fetchone() is not None
        # The threshold configured on the resource is the one the reports were built with.
        flagged_min = con.execute("select min(csam_score_max_pct) from rpt_flagged_jobs").fetchone()
        assert flagged_min[0] is None or flagged_min[0] >= 40.0
    finally:
        con.close()
    meta = metadata(warehouse_run, "warehouse")
    assert meta["rows_workflows"] == total
    assert meta["csam_threshold"] == 40.0
    for model in MODELS:
        assert "rows" in metadata(warehouse_run, model.name)


def test_no_token_in_events_metadata_or_files(lake_runs, warehouse_run, data_dir):
    for result in [*lake_runs.values(), warehouse_run]:
        for event in result.all_events:
            assert TOKEN not in str(event)
    for path in data_dir.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            if path.suffix == ".gz":
                content = gzip.decompress(content)
            if path.suffix == ".zst":
                content = archive.read_page(path)
            assert TOKEN.encode() not in content, path


def test_sensor_requests_one_rebuild_after_lake_changes(warehouse_run, resources, instance):
    # The warehouse was rebuilt after both windows: nothing to do.
    skipped = warehouse_after_sync(dg.build_sensor_context(instance=instance))
    assert isinstance(skipped, dg.SkipReason)
    # A window re-synced afterwards makes the warehouse stale.
    dg.materialize(
        ALL_ASSETS,
        selection=LAKE_SELECTION,
        partition_key=DAYS[1].isoformat(),
        resources=resources,
        instance=instance,
    )
    # While a run of the sync job is still going (a nightly tick's other windows), wait.
    running = dg.DagsterRun(job_name="sync_windows_job", status=dg.DagsterRunStatus.STARTED)
    instance.add_run(running)
    waiting = warehouse_after_sync(dg.build_sensor_context(instance=instance))
    assert isinstance(waiting, dg.SkipReason)
    assert "Waiting for 1" in str(waiting.skip_message)
    instance.delete_run(running.run_id)
    request = warehouse_after_sync(dg.build_sensor_context(instance=instance))
    assert isinstance(request, dg.RunRequest)
    assert request.run_key and request.run_key.startswith("lake-")


def test_enrichment_rerun_alone_skips_final_jobs(lake_runs, resources, instance, data_dir):
    day = DAYS[0]
    result = dg.materialize(
        ALL_ASSETS,
        selection=dg.AssetSelection.assets(enrich_window),
        partition_key=day.isoformat(),
        resources=resources,
        instance=instance,
    )
    assert result.success
    details = metadata(result, "job_details")
    final = sum(1 for d in parquet(data_dir, "job_details", day) if d["found"] and d["is_final"])
    not_found = sum(1 for d in parquet(data_dir, "job_details", day) if not d["found"])
    assert details["jobs_skipped"] == final + not_found
    assert details["jobs_looked_up"] == details["rows"] - final - not_found
