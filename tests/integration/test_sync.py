"""The sync against the simulator on 127.0.0.1, checked against its ground truth.

The expected rows are computed here from `SimulatedAccount` in plain Python, never with the
pipeline's own flattening code.
"""

from __future__ import annotations

import gzip
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from click.testing import CliRunner

from pipeline.api.client import OrchestrationClient
from pipeline.cli.app import cli
from pipeline.core import settings as defaults
from pipeline.core.errors import PipelineError, WindowError
from pipeline.core.settings import Settings
from pipeline.fetch import archive
from pipeline.flatten import schemas
from pipeline.lake.ledger import Ledger
from pipeline.lake.store import Lake
from pipeline.runs.sync import rebuild_window, sync_range, sync_window
from pipeline.warehouse.publish import publish_warehouse
from simulator import Faults, SimulatorServer

DAYS = 3
PER_DAY = 60
TABLES = tuple(schemas.WORKFLOW_TABLES)


# --------------------------------------------------------------------------- ground truth


def _is_blob(value: Any) -> bool:
    return isinstance(value, dict) and "id" in value and "available" in value


def _blob_ids(output: Any) -> list[str]:
    """Ids of the blobs at any depth of an output."""
    if _is_blob(output):
        return [output["id"]]
    if isinstance(output, dict):
        return [b for value in output.values() for b in _blob_ids(value)]
    if isinstance(output, list):
        return [b for value in output for b in _blob_ids(value)]
    return []


def truth(server: SimulatorServer, day: date) -> dict[str, Any]:
    """What the lake must hold for `day`, straight from the simulator's account."""
    workflows = list(server.account.workflows(day))
    steps = [(w["id"], s["name"]) for w in workflows for s in w.get("steps") or []]
    jobs = {j["id"] for w in workflows for s in w.get("steps") or [] for j in s.get("jobs") or []}
    blobs = {
        (w["id"], b)
        for w in workflows
        for s in w.get("steps") or []
        for b in _blob_ids(s.get("output"))
    }
    txns = [
        (w["id"], i)
        for w in workflows
        for i, _ in enumerate((w.get("transactions") or {}).get("list") or [])
    ]
    return {
        "workflows": {w["id"]: w for w in workflows},
        "steps": set(steps),
        "jobs": jobs,
        "blobs": blobs,
        "transactions": set(txns),
        "counts": {
            "workflows": len(workflows),
            "steps": len(steps),
            "jobs": len(jobs),
            "blobs": len(blobs),
            "transactions": len(txns),
        },
    }


# --------------------------------------------------------------------------- helpers


def settings_for(server: SimulatorServer, data_dir: Path) -> Settings:
    return Settings(api_url=server.url, token=server.config.token, data_dir=data_dir)


def client_for(server: SimulatorServer) -> OrchestrationClient:
    return OrchestrationClient(base_url=server.url, token=server.config.token)


def run_sync(server: SimulatorServer, data_dir: Path, days: Iterable[date] | None = None):
    settings = settings_for(server, data_dir)
    with client_for(server) as client:
        return sync_range(settings, client, list(days or server.account.days), enrich=False)


def lake_of(data_dir: Path) -> Lake:
    return Lake.from_settings(Settings(data_dir=data_dir))


def ledger_of(data_dir: Path) -> Ledger:
    return Ledger(lake_of(data_dir))


def lake_table(data_dir: Path, table: str, day: date) -> pa.Table:
    return lake_of(data_dir).read(table, [day])


def snapshot(data_dir: Path, days: Iterable[date], *, drop: tuple[str, ...] = ("synced_at",)):
    """Every lake table of `days`, sorted by key, as Python rows (comparable with ==)."""
    out = {}
    for table in TABLES:
        for day in days:
            rows = lake_table(data_dir, table, day).to_pylist()
            for row in rows:
                for name in drop:
                    row.pop(name, None)
            keys = schemas.KEYS[table]
            out[(table, day)] = sorted(rows, key=lambda r: tuple(str(r[k]) for k in keys))
    return out


def parse_ts(text: str | None) -> datetime | None:
    if text is None:
        return None
    value = datetime.fromisoformat(text)
    return value.replace(microsecond=value.microsecond).astimezone(UTC)


def assert_matches_truth(server: SimulatorServer, data_dir: Path, days: Iterable[date]) -> None:
    for day in days:
        expected = truth(server, day)
        got = {t: lake_table(data_dir, t, day) for t in TABLES}
        assert {t: got[t].num_rows for t in expected["counts"]} == expected["counts"], day
        wf = {r["workflow_id"]: r for r in got["workflows"].to_pylist()}
        assert set(wf) == set(expected["workflows"])
        for wid, doc in expected["workflows"].items():
            row = wf[wid]
            assert row["status"] == doc["status"], wid
            assert row["created_at"] == parse_ts(doc["createdAt"]), wid
            assert row["cost_total"] == doc["cost"]["total"], wid
            assert row["step_count"] == len(doc["steps"]), wid
            debit = sum(
                t["amount"]
                for t in doc.get("transactions", {}).get("list", [])
                if t["type"] == "debit"
            )
            assert row["buzz_debit"] == (debit if "transactions" in doc else None), wid
        steps = got["steps"]
        assert (
            set(
                zip(
                    steps.column("workflow_id").to_pylist(),
                    steps.column("step_name").to_pylist(),
                    strict=True,
                )
            )
            == expected["steps"]
        )
        assert set(got["jobs"].column("job_id").to_pylist()) == expected["jobs"]
        blobs = got["blobs"].select(["workflow_id", "blob_id"]).to_pylist()
        assert {(b["workflow_id"], b["blob_id"]) for b in blobs} == expected["blobs"]
        txns = got["transactions"]
        assert (
            set(
                zip(
                    txns.column("workflow_id").to_pylist(),
                    txns.column("txn_index").to_pylist(),
                    strict=True,
                )
            )
            == expected["transactions"]
        )
        assert all(d == day for d in got["workflows"].column("window_date").to_pylist())


def no_leftovers(data_dir: Path) -> None:
    raw = data_dir / "raw" / "workflows"
    assert not [p.name for p in raw.iterdir() if p.name.startswith(".")]
    assert not list((data_dir / ".tmp").glob("window-*"))
    # Each window keeps exactly the archive attempt its ledger row names.
    for row in ledger_of(data_dir).rows():
        kept = sorted(p.name for p in (raw / f"date={row.window_date}").iterdir())
        assert row.raw_attempt and kept == [f"attempt={row.raw_attempt}"], (row, kept)


@pytest.fixture
def server(make_simulator):
    return make_simulator(days=DAYS, workflows_per_day=PER_DAY, faults=Faults(page_size_clamp=25))


# --------------------------------------------------------------------------- tests


def test_three_days_match_the_ground_truth_exactly(server, tmp_path: Path) -> None:
    results = run_sync(server, tmp_path)
    assert [r.status for r in results] == ["complete"] * DAYS
    assert {r.filter_mode for r in results} == {"server"}
    assert all(r.pages >= 3 for r in results)  # 60 workflows at <= 25 a page
    assert_matches_truth(server, tmp_path, server.account.days)
    no_leftovers(tmp_path)
    rows = ledger_of(tmp_path).rows()
    assert [(r.window_date, r.status, r.workflows) for r in rows] == [
        (d, "complete", PER_DAY) for d in server.account.days
    ]
    for day in server.account.days:
        pages = archive.page_files(archive.latest_dir(tmp_path / "raw", day))
        assert pages and all(p.name.endswith(".json.zst") for p in pages)
        assert (
            archive.read_manifest(archive.latest_dir(tmp_path / "raw", day)).filter_mode == "server"
        )


def test_a_server_ignoring_the_date_filter_gives_identical_tables(
    server, make_simulator, tmp_path: Path
) -> None:
    run_sync(server, tmp_path / "honest")
    ignoring = make_simulator(
        days=DAYS,
        workflows_per_day=PER_DAY,
        faults=Faults(page_size_clamp=25, ignore_date_filter=True),
    )
    results = run_sync(ignoring, tmp_path / "ignoring")
    assert {r.filter_mode for r in results} == {"client"}
    assert_matches_truth(ignoring, tmp_path / "ignoring", ignoring.account.days)
    days = server.account.days
    assert snapshot(tmp_path / "honest", days) == snapshot(tmp_path / "ignoring", days)


def test_a_second_sync_changes_nothing(server, tmp_path: Path) -> None:
    run_sync(server, tmp_path)
    before = snapshot(tmp_path, server.account.days)
    results = run_sync(server, tmp_path)
    assert [r.status for r in results] == ["complete"] * DAYS
    assert snapshot(tmp_path, server.account.days) == before
    no_leftovers(tmp_path)


def test_a_running_workflow_is_final_after_the_nightly_resync(server, tmp_path: Path) -> None:
    run_sync(server, tmp_path)
    running = {"unassigned", "preparing", "scheduled", "processing"}
    day = server.account.days[-1]
    first = {
        r["workflow_id"]: r["status"] for r in lake_table(tmp_path, "workflows", day).to_pylist()
    }
    unfinished = [wid for wid, status in first.items() if status in running]
    assert unfinished, "the simulator should leave some workflows running"

    server.account.advance()
    run_sync(server, tmp_path)  # the nightly re-sync of the lookback days
    after = {
        r["workflow_id"]: r["status"] for r in lake_table(tmp_path, "workflows", day).to_pylist()
    }
    for wid in unfinished:
        assert after[wid] not in running
        assert after[wid] == server.account.workflow(wid)["status"]
    assert_matches_truth(server, tmp_path, server.account.days)


def test_rebuild_reproduces_identical_tables(server, tmp_path: Path) -> None:
    run_sync(server, tmp_path)
    before = snapshot(tmp_path, server.account.days, drop=())
    settings = settings_for(server, tmp_path)
    requests = server.stats.total
    for day in server.account.days:
        rebuild_window(settings, day)
    assert server.stats.total == requests  # no API call
    assert snapshot(tmp_path, server.account.days, drop=()) == before


def test_an_archive_of_gzip_pages_still_rebuilds(server, tmp_path: Path) -> None:
    # Archives written before pages were zstd hold `.json.gz` pages: rebuild reads them alike.
    run_sync(server, tmp_path)
    before = snapshot(tmp_path, server.account.days, drop=())
    day = server.account.days[0]
    directory = archive.latest_dir(tmp_path / "raw", day)
    for page in archive.page_files(directory):
        legacy = page.with_name(page.name.replace(".json.zst", ".json.gz"))
        legacy.write_bytes(gzip.compress(archive.read_page(page)))
        page.unlink()
    assert {p.suffix for p in archive.page_files(directory)} == {".gz"}
    for table in schemas.WORKFLOW_TABLES:
        # The rebuild must recreate the window from the gzip pages alone.
        lake_of(tmp_path).drop_window(table, day)
        assert lake_table(tmp_path, table, day).num_rows == 0
    rebuild_window(settings_for(server, tmp_path), day)
    assert snapshot(tmp_path, server.account.days, drop=()) == before


def test_429_and_5xx_at_ten_percent_still_give_exact_results(
    make_simulator, tmp_path: Path
) -> None:
    faults = Faults(page_size_clamp=10, rate_429=0.1, rate_5xx=0.1, retry_after="0")
    server = make_simulator(days=DAYS, workflows_per_day=PER_DAY, faults=faults)
    results = run_sync(server, tmp_path)
    assert [r.status for r in results] == ["complete"] * DAYS
    assert server.stats.status_429 + server.stats.status_5xx > 0
    assert sum(r.retries for r in results) == server.stats.status_429 + server.stats.status_5xx
    assert_matches_truth(server, tmp_path, server.account.days)


def test_a_malformed_page_fails_only_its_window_and_keeps_the_previous_data(
    server, tmp_path: Path
) -> None:
    run_sync(server, tmp_path)
    days = server.account.days
    before = snapshot(tmp_path, days, drop=())
    settings = settings_for(server, tmp_path)
    server.faults.malformed_pages = frozenset({2})
    with client_for(server) as client, pytest.raises(WindowError) as failure:
        sync_window(settings, client, days[1])
    message = str(failure.value)
    assert str(days[1]) in message and "page 2" in message
    assert failure.value.page == 2
    assert snapshot(tmp_path, days, drop=()) == before  # this window and the others intact
    no_leftovers(tmp_path)

    row = ledger_of(settings.data_dir).get(days[1])
    assert row.status == "failed" and "page 2" in row.error and row.workflows == PER_DAY
    env = {"CIVITAI_SYNC_DATA_DIR": str(tmp_path)}
    shown = CliRunner().invoke(cli, ["status"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "failed" in shown.output and "page 2" in shown.output

    server.faults.malformed_pages = frozenset()
    with client_for(server) as client:
        assert sync_window(settings, client, days[1]).status == "complete"
    assert ledger_of(settings.data_dir).get(days[1]).error is None


def test_a_reader_holding_the_warehouse_open_never_breaks_a_publish(server, tmp_path: Path) -> None:
    days = server.account.days
    run_sync(server, tmp_path, days[:1])
    settings = settings_for(server, tmp_path)
    publish_warehouse(settings, build_models=False)
    reader = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        assert reader.execute("select count(*) from workflows").fetchall() == [(PER_DAY,)]
        run_sync(server, tmp_path, days)
        published = publish_warehouse(settings, build_models=False)
        assert published.tables["workflows"] == PER_DAY * DAYS
        # The open connection keeps its consistent snapshot of the old file.
        assert reader.execute("select count(*) from workflows").fetchall() == [(PER_DAY,)]
    finally:
        reader.close()
    check = subprocess.run(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True); "
            "print(c.execute('select count(*) from workflows').fetchall()[0][0], "
            "c.execute(\"select count(*) from sync_windows where status = 'complete'\").fetchall()[0][0])",
            str(settings.warehouse_path),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert check.stdout.split() == [str(PER_DAY * DAYS), str(DAYS)]
    assert not list(tmp_path.glob(".warehouse-*"))


def test_a_sync_killed_mid_window_converges_on_the_next_run(make_simulator, tmp_path: Path) -> None:
    server = make_simulator(days=DAYS, workflows_per_day=PER_DAY, faults=Faults(page_size_clamp=5))
    days = server.account.days
    run_sync(server, tmp_path, days[:1])
    good = snapshot(tmp_path, days[:1], drop=())
    server.faults.latency_ms = 80  # 12 pages a window: about a second each

    env = {
        **os.environ,
        "CIVITAI_API_URL": server.url,
        "CIVITAI_API_TOKEN": server.config.token,
        "CIVITAI_SYNC_DATA_DIR": str(tmp_path),
    }
    command = [
        str(Path(sys.executable).with_name("civitai-sync")),
        "sync",
        "--from",
        str(days[0]),
        "--to",
        str(days[-1]),
        "--no-jobs",
    ]
    proc = subprocess.Popen(
        command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    staging = tmp_path / ".tmp" / f"window-{days[0]}"
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            attempts = [p for p in staging.glob("raw-*") if len(archive.page_files(p)) >= 3]
            if attempts:
                break
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.01)
        else:
            pytest.fail("the sync never got mid-window")
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL

    # The killed window's previous data is untouched, and status says what happened.
    assert snapshot(tmp_path, days[:1], drop=()) == good
    shown = CliRunner().invoke(cli, ["status"], env={"CIVITAI_SYNC_DATA_DIR": str(tmp_path)})
    assert "interrupted" in shown.output

    server.faults.latency_ms = 0
    results = run_sync(server, tmp_path)
    assert [r.status for r in results] == ["complete"] * DAYS
    assert_matches_truth(server, tmp_path, days)
    no_leftovers(tmp_path)


def test_sync_and_status_commands(server, tmp_path: Path) -> None:
    env = {
        "CIVITAI_API_URL": server.url,
        "CIVITAI_API_TOKEN": server.config.token,
        "CIVITAI_SYNC_DATA_DIR": str(tmp_path),
    }
    days = server.account.days
    runner = CliRunner()
    synced = runner.invoke(
        cli, ["sync", "--from", str(days[0]), "--to", str(days[0]), "--no-jobs"], env=env
    )
    assert synced.exit_code == 0, synced.output
    assert "Warehouse published" in synced.output and str(days[0]) in synced.output
    synced = runner.invoke(
        cli, ["sync", "--from", str(days[2]), "--to", str(days[2]), "--no-jobs"], env=env
    )
    assert synced.exit_code == 0, synced.output
    shown = runner.invoke(cli, ["status"], env=env)
    assert shown.exit_code == 0
    assert f"gaps: {days[1]}" in shown.output
    rebuilt = runner.invoke(cli, ["rebuild"], env=env)
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "Rebuilt 2 day(s)" in rebuilt.output

    bad = runner.invoke(cli, ["sync", "--from", "2026-13-01"], env=env)
    assert bad.exit_code == 2 and "--from" in bad.output
    backwards = runner.invoke(cli, ["sync", "--from", str(days[2]), "--to", str(days[0])], env=env)
    assert backwards.exit_code == 2 and "after --to" in backwards.output
    missing = runner.invoke(
        cli, ["sync", "--from", str(days[0])], env={**env, "CIVITAI_API_TOKEN": ""}
    )
    assert missing.exit_code == 1 and "CIVITAI_API_TOKEN" in missing.output


@pytest.mark.parametrize("last_page", ["null", "empty", "cursor"])
def test_every_way_of_ending_the_list_gives_the_same_rows(
    make_simulator, tmp_path: Path, last_page: str
) -> None:
    faults = Faults(page_size_clamp=20, last_page_next=last_page)
    server = make_simulator(days=1, workflows_per_day=PER_DAY, faults=faults)
    (result,) = run_sync(server, tmp_path)
    assert result.status == "complete"
    assert_matches_truth(server, tmp_path, server.account.days)


# --------------------------------------------------------------------------- warehouse publish


def test_publish_without_a_lake_creates_typed_empty_tables(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    result = publish_warehouse(settings, build_models=False)
    assert set(result.tables) >= {*TABLES, "sync_windows"}
    assert all(count == 0 for count in result.tables.values())
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        columns = {r[0]: r[1] for r in con.execute("describe workflows").fetchall()}
        assert columns["created_at"] == "TIMESTAMP WITH TIME ZONE"
        assert columns["tags"] == "VARCHAR[]" and columns["window_date"] == "DATE"
        jobs = [r[0] for r in con.execute("describe jobs").fetchall()]
        assert jobs[: len(schemas.JOBS.names)] == schemas.JOBS.names
        assert {"provider", "csam_score_max_pct", "enriched_at", "is_final"} <= set(jobs)
    finally:
        con.close()


def test_jobs_in_the_warehouse_carry_their_enrichment(make_simulator, tmp_path: Path) -> None:
    server = make_simulator(days=1, workflows_per_day=30)
    settings = settings_for(server, tmp_path)
    with client_for(server) as client:
        (result,) = sync_range(settings, client, server.account.days)  # enrichment on
    assert result.status == "complete" and result.error is None
    publish_warehouse(settings, build_models=False)
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        total, enriched, providers = con.execute(
            "select count(*), count(enriched_at), count(provider) from jobs"
        ).fetchall()[0]
        expected = {doc["jobId"]: doc for doc in server.account.jobs(server.account.days[0])}
        assert total == result.jobs
        assert enriched == total  # every job looked up (a 404 is recorded too)
        with_provider = [
            j for j, doc in expected.items() if (doc.get("lastEvent") or {}).get("provider")
        ]
        assert providers == len(with_provider) > 0
        sample_id = with_provider[0]
        (provider,) = con.execute(
            "select provider from jobs where job_id = ?", [sample_id]
        ).fetchall()[0]
        assert provider == expected[sample_id]["lastEvent"]["provider"]
    finally:
        con.close()


def test_a_failing_sql_model_leaves_the_published_warehouse_untouched(
    server, tmp_path: Path
) -> None:
    run_sync(server, tmp_path, server.account.days[:1])
    settings = settings_for(server, tmp_path)
    publish_warehouse(settings)
    before = settings.warehouse_path.read_bytes()
    with pytest.raises(PipelineError, match=r"rpt_|Conversion"):
        publish_warehouse(settings, params={"csam_threshold": "not a number"})
    assert settings.warehouse_path.read_bytes() == before
    assert not list(tmp_path.glob(".warehouse-*"))


def test_demo_command_syncs_the_simulator_and_says_where(tmp_path: Path) -> None:
    env = {"CIVITAI_SYNC_DATA_DIR": str(tmp_path / "demo"), "CIVITAI_API_TOKEN": ""}
    shown = CliRunner().invoke(cli, ["demo", "--days", "2", "--workflows-per-day", "15"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "Warehouse published" in shown.output
    assert (
        "civitai-sync sql --warehouse " + str(tmp_path / "demo" / "warehouse.duckdb")
        in shown.output
    )
    assert "make dev" in shown.output
    rows = ledger_of(tmp_path / "demo").rows()
    assert [r.workflows for r in rows] == [15, 15]
    # The reports name the synced days, and the run ends with the page written and its path.
    assert f"{rows[0].window_date} .. {rows[-1].window_date}" in shown.output
    page = tmp_path / "demo" / "report.html"
    assert page.stat().st_size > 10_000
    assert shown.output.rstrip().endswith(str(page))

    # A data dir that holds a real sync is refused.
    ledger_of(tmp_path / "demo").complete(
        date(2020, 1, 1),
        tables={},
        pages=1,
        workflows=1,
        steps=1,
        jobs=1,
        blobs=0,
        transactions=0,
        filter_mode="server",
        retries=0,
        seconds=0.1,
        run_id="sync-real",
    )
    refused = CliRunner().invoke(cli, ["demo", "--days", "1", "--workflows-per-day", "5"], env=env)
    assert refused.exit_code == 1 and "mix simulated data" in refused.output


# --------------------------------------------------------------------------- busy days


BUSY_PER_DAY = 480  # at <= 20 a page: ~24 pages, worth the 4 parallel sub-window chains


@pytest.fixture
def busy(make_simulator):
    return make_simulator(days=2, workflows_per_day=BUSY_PER_DAY, faults=Faults(page_size_clamp=20))


def test_a_busy_day_is_fetched_as_parallel_chains_and_matches_the_truth(
    busy, tmp_path: Path
) -> None:
    results = run_sync(busy, tmp_path)
    assert [r.status for r in results] == ["complete"] * 2
    assert_matches_truth(busy, tmp_path, busy.account.days)
    for day in busy.account.days:
        manifest = archive.read_manifest(archive.latest_dir(tmp_path / "raw", day))
        assert manifest.chains == 4 and manifest.filter_mode == "server"
        assert len(manifest.page_bounds) == manifest.pages
        assert manifest.items_in_window == BUSY_PER_DAY
        # Four chains of ~120 workflows at 20 a page, plus the probe page (not archived).
        assert 24 <= manifest.pages <= 28
    no_leftovers(tmp_path)
    # The archive alone (with each page's bounds) rebuilds the same rows.
    before = snapshot(tmp_path, busy.account.days)
    for day in busy.account.days:
        rebuild_window(settings_for(busy, tmp_path), day)
    assert snapshot(tmp_path, busy.account.days) == before
    # One chain gives the same tables as four.
    saved = defaults.SYNC_FETCH_CONCURRENCY
    defaults.SYNC_FETCH_CONCURRENCY = 1
    try:
        single = run_sync(busy, tmp_path / "one")
    finally:
        defaults.SYNC_FETCH_CONCURRENCY = saved
    assert all(r.status == "complete" for r in single)
    assert snapshot(tmp_path / "one", busy.account.days) == before
    assert (
        archive.read_manifest(
            archive.latest_dir(tmp_path / "one" / "raw", busy.account.days[0])
        ).chains
        == 1
    )


def test_a_busy_day_falls_back_when_the_filter_is_ignored(make_simulator, tmp_path: Path) -> None:
    ignoring = make_simulator(
        days=2,
        workflows_per_day=BUSY_PER_DAY,
        faults=Faults(page_size_clamp=40, ignore_date_filter=True),
    )
    results = run_sync(ignoring, tmp_path)
    assert {r.filter_mode for r in results} == {"client"}
    assert_matches_truth(ignoring, tmp_path, ignoring.account.days)


def test_a_malformed_page_in_one_chain_fails_the_window_and_names_its_sub_window(
    busy, tmp_path: Path
) -> None:
    run_sync(busy, tmp_path)
    days = busy.account.days
    before = snapshot(tmp_path, days, drop=())
    busy.faults.malformed_pages = frozenset({3})
    settings = settings_for(busy, tmp_path)
    with client_for(busy) as client, pytest.raises(WindowError) as failure:
        sync_window(settings, client, days[0])
    message = str(failure.value)
    # Every chain's third page is cut off; whichever chain met it first names its sub-window.
    assert str(days[0]) in message and re.search(
        r"sub-window [1-4] of 4 \(from \d\d:00 UTC\)", message
    )
    assert "not valid JSON" in message
    assert snapshot(tmp_path, days, drop=()) == before
    no_leftovers(tmp_path)
    busy.faults.malformed_pages = frozenset()


def test_a_full_disk_while_archiving_fails_the_window_and_keeps_the_previous_data(
    busy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_sync(busy, tmp_path)
    days = busy.account.days
    before = snapshot(tmp_path, days, drop=())
    real_write = archive.write_page

    def write_page(directory: Path, number: int, content: bytes) -> Path:
        if number == 5:
            raise OSError(28, "No space left on device")
        return real_write(directory, number, content)

    monkeypatch.setattr(archive, "write_page", write_page)
    settings = settings_for(busy, tmp_path)
    with client_for(busy) as client, pytest.raises(WindowError) as failure:
        sync_window(settings, client, days[0])
    assert str(days[0]) in str(failure.value) and "No space left" in str(failure.value)
    assert snapshot(tmp_path, days, drop=()) == before
    no_leftovers(tmp_path)
    assert ledger_of(settings.data_dir).get(days[0]).status == "failed"

    monkeypatch.setattr(archive, "write_page", real_write)
    with client_for(busy) as client:
        assert sync_window(settings, client, days[0]).status == "complete"
    assert_matches_truth(busy, tmp_path, days)
