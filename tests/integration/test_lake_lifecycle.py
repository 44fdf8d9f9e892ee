"""The lake over time: upgrading an old data dir, forgetting windows, maintenance, the shrink
guard, today's and future windows, and the warehouse kept up to date day by day."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from pipeline.api.client import OrchestrationClient
from pipeline.cli.app import cli
from pipeline.core.errors import PipelineError, WindowError
from pipeline.core.settings import Settings
from pipeline.fetch import archive
from pipeline.fetch.windows import utc_today
from pipeline.lake import tables
from pipeline.lake.ledger import Ledger
from pipeline.lake.store import Lake
from pipeline.runs import housekeeping
from pipeline.runs.sync import sync_range, sync_window
from pipeline.warehouse.publish import publish_warehouse
from simulator import SimulatorServer

LEGACY = Path(__file__).resolve().parents[1] / "fixtures" / "legacy-data-dir"


def settings_for(server: SimulatorServer, data_dir: Path) -> Settings:
    return Settings(api_url=server.url, token=server.config.token, data_dir=data_dir)


def sync(server: SimulatorServer, data_dir: Path, days: list[date], **options: object):
    settings = settings_for(server, data_dir)
    with OrchestrationClient(base_url=server.url, token=server.config.token) as client:
        return sync_range(settings, client, days, **options)  # type: ignore[arg-type]


def warehouse_rows(data_dir: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _sorted_rows(rows: list[dict], key: tuple[str, ...]) -> list[dict]:
    return sorted(rows, key=lambda r: tuple(str(r[k]) for k in key))


# --------------------------------------------------------------------------- upgrade


def test_a_data_dir_of_the_previous_release_is_upgraded_without_losing_a_row(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(LEGACY, data_dir)
    # What the old release wrote, read straight from its files.
    old: dict[tuple[str, str], list[dict]] = {}
    for path in sorted((data_dir / "lake").glob("*/date=*/data.parquet")):
        table, day = path.parent.parent.name, path.parent.name.removeprefix("date=")
        old[(table, day)] = pq.read_table(path).to_pylist()
    assert {t for t, _ in old} == set(tables.all_schemas()) - {"moderation_verdicts"}

    env = {"CIVITAI_SYNC_DATA_DIR": str(data_dir)}
    shown = CliRunner().invoke(cli, ["upgrade"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "Upgraded 2 window(s)" in shown.output

    lake = Lake.from_settings(Settings(data_dir=data_dir))
    for (table, day), rows in old.items():
        new = lake.read(table, [date.fromisoformat(day)]).to_pylist()
        key = tables.KEYS[table]
        # A column renamed since (csam_score_max -> csam_score_max_pct, ...) keeps its values.
        renamed = tables.RENAMED.get(table, {})
        expected = [{k: r[k] if k in r else r.get(renamed.get(k, k)) for k in new[0]} for r in rows]
        assert _sorted_rows(new, key) == _sorted_rows(expected, key), (table, day)
    old_scores = [
        r["csam_score_max"] for (t, _), rs in old.items() if t == "job_details" for r in rs
    ]
    new_scores = lake.read("job_details").column("csam_score_max_pct").to_pylist()
    assert any(old_scores) and sorted(map(str, new_scores)) == sorted(map(str, old_scores))
    assert not list((data_dir / "lake").glob("*/date=*"))
    assert (data_dir / "ledger.sqlite.upgraded").is_file()
    assert not (data_dir / "ledger.sqlite").exists()
    rows = Ledger(lake).rows()
    assert [(r.window_date.isoformat(), r.status, r.workflows) for r in rows] == [
        ("2026-10-01", "complete", 20),
        ("2026-10-02", "complete", 20),
    ]
    assert all(r.jobs_enriched for r in rows)
    assert warehouse_rows(data_dir, "select count(*) from workflows") == [(40,)]
    assert warehouse_rows(data_dir, "select count(*) from jobs where provider is not null")[0][0]
    # A second upgrade (or the first sync after it) finds nothing to do.
    again = CliRunner().invoke(cli, ["upgrade"], env=env)
    assert "already in the current layout" in again.output
    # The raw archive kept its layout: a rebuild without the API gives the same tables.
    rebuilt = CliRunner().invoke(cli, ["rebuild"], env=env)
    assert rebuilt.exit_code == 0, rebuilt.output
    assert lake.read("workflows").num_rows == 40


def test_the_first_sync_upgrades_by_itself(make_simulator, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(LEGACY, data_dir)
    server = make_simulator(days=1, workflows_per_day=5)
    (result,) = sync(server, data_dir, server.account.days, enrich=False)
    assert result.status == "complete"
    days = [r.window_date for r in Ledger(Lake.from_settings(Settings(data_dir=data_dir))).rows()]
    assert days == [date(2026, 10, 1), date(2026, 10, 2), server.account.days[0]]


# --------------------------------------------------------------------------- forget


def test_forget_drops_days_everywhere_and_the_next_sync_fetches_them_again(
    make_simulator, tmp_path: Path
) -> None:
    server = make_simulator(days=3, workflows_per_day=20)
    days = server.account.days
    sync(server, tmp_path, days)
    env = {"CIVITAI_SYNC_DATA_DIR": str(tmp_path)}

    refused = CliRunner().invoke(cli, ["forget", "--from", str(days[1])], env=env)
    assert refused.exit_code == 2 and "--yes" in refused.output

    shown = CliRunner().invoke(cli, ["forget", "--from", str(days[1]), "--yes"], env=env)
    assert shown.exit_code == 0, shown.output
    lake = Lake.from_settings(Settings(data_dir=tmp_path))
    assert [r.window_date for r in Ledger(lake).rows()] == [days[0], days[2]]
    for table in tables.all_schemas():
        assert lake.read(table, [days[1]]).num_rows == 0, table
    assert not archive.archive_dir(tmp_path / "raw", days[1]).exists()
    assert warehouse_rows(
        tmp_path, f"select count(*) from workflows where window_date = '{days[1]}'"
    ) == [(0,)]
    assert warehouse_rows(tmp_path, "select count(*) from workflows") == [(40,)]

    requests = server.stats.total
    sync(server, tmp_path, [days[1]])
    assert server.stats.total > requests
    assert lake.read("workflows", [days[1]]).num_rows == 20
    assert lake.read("job_details", [days[1]]).num_rows > 0


# --------------------------------------------------------------------------- maintain


def test_maintain_removes_replaced_files_but_never_those_the_ledger_uses(
    make_simulator, tmp_path: Path
) -> None:
    server = make_simulator(days=1, workflows_per_day=20)
    day = server.account.days[0]
    sync(server, tmp_path, [day], enrich=False)
    sync(server, tmp_path, [day], enrich=False)
    lake = Lake.from_settings(Settings(data_dir=tmp_path))
    live = lake.window_files("workflows", day)
    on_disk = list((tmp_path / "lake" / "workflows").glob("window_date=*/*.parquet"))
    assert len(on_disk) == 2 and len(live) == 1

    env = {"CIVITAI_SYNC_DATA_DIR": str(tmp_path)}
    dry = CliRunner().invoke(cli, ["maintain", "--dry-run"], env=env)
    assert dry.exit_code == 0 and "would remove 0" in dry.output  # replaced a moment ago
    refused = CliRunner().invoke(cli, ["maintain", "--retention-hours", "0"], env=env)
    assert refused.exit_code == 2  # could remove the files a running sync is about to commit
    assert len(list((tmp_path / "lake" / "workflows").glob("window_date=*/*.parquet"))) == 2

    # No sync is running here, so the library may vacuum at once.
    housekeeping.maintain(Settings(data_dir=tmp_path), retention_hours=0)
    left = list((tmp_path / "lake" / "workflows").glob("window_date=*/*.parquet"))
    assert [p.name for p in left] == [Path(live[0]).name]
    publish_warehouse(Settings(data_dir=tmp_path))
    assert warehouse_rows(tmp_path, "select count(*) from workflows") == [(20,)]


# --------------------------------------------------------------------------- shrink guard


def test_a_day_that_comes_back_much_smaller_is_refused_unless_allowed(
    make_simulator, tmp_path: Path
) -> None:
    full = make_simulator(days=1, workflows_per_day=40)
    day = full.account.days[0]
    sync(full, tmp_path, [day])
    lake = Lake.from_settings(Settings(data_dir=tmp_path))
    before = {t: lake.read(t, [day]).num_rows for t in tables.all_schemas()}
    pages_before = archive.page_files(archive.latest_dir(tmp_path / "raw", day))

    shrunk = make_simulator(days=1, workflows_per_day=8)  # same day, a fifth of it
    (result,) = sync(shrunk, tmp_path, [day])
    assert result.status == "failed"
    assert str(day) in result.error and "8 workflows" in result.error and "40" in result.error
    assert "--allow-shrink" in result.error
    assert {t: lake.read(t, [day]).num_rows for t in tables.all_schemas()} == before
    assert archive.page_files(archive.latest_dir(tmp_path / "raw", day)) == pages_before
    row = Ledger(lake).get(day)
    assert row.status == "failed" and row.workflows == 40

    (result,) = sync(shrunk, tmp_path, [day], allow_shrink=True)
    assert result.status == "complete" and result.workflows == 8
    # Every row derived from the vanished workflows went with them: no orphans anywhere.
    jobs = set(lake.read("jobs", [day]).column("job_id").to_pylist())
    for table in ("job_details", "scan_scores"):
        assert set(lake.read(table, [day]).column("job_id").to_pylist()) <= jobs, table


# --------------------------------------------------------------------------- time rules


def test_todays_window_is_partial_and_a_future_one_is_refused(
    make_simulator, tmp_path: Path
) -> None:
    today = utc_today()
    server = make_simulator(start=today - timedelta(days=1), days=2, workflows_per_day=10)
    results = sync(server, tmp_path, [today - timedelta(days=1), today], enrich=False)
    assert [r.status for r in results] == ["complete", "partial"]
    lake = Lake.from_settings(Settings(data_dir=tmp_path))
    assert Ledger(lake).get(today).status == "partial"
    publish_warehouse(Settings(data_dir=tmp_path))
    assert warehouse_rows(tmp_path, "select count(*) from workflows") == [(20,)]

    tomorrow = today + timedelta(days=1)
    with pytest.raises(WindowError, match="in the future"):
        sync(server, tmp_path, [tomorrow])
    settings = settings_for(server, tmp_path)
    with (
        OrchestrationClient(base_url=server.url, token=server.config.token) as client,
        pytest.raises(WindowError, match="in the future"),
    ):
        sync_window(settings, client, tomorrow)
    env = {
        "CIVITAI_SYNC_DATA_DIR": str(tmp_path),
        "CIVITAI_API_URL": server.url,
        "CIVITAI_API_TOKEN": server.config.token,
    }
    shown = CliRunner().invoke(
        cli, ["sync", "--from", str(tomorrow), "--to", str(tomorrow)], env=env
    )
    assert shown.exit_code == 2 and "in the future" in shown.output


# --------------------------------------------------------------------------- the warehouse


def _report_tables(data_dir: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        names = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'main' and table_type = 'BASE TABLE' "
                "and table_name like 'rpt_%' order by 1"
            ).fetchall()
        ]
        return {n: sorted(con.execute(f"select * from {n}").fetchall(), key=str) for n in names}
    finally:
        con.close()


def test_an_incremental_publish_equals_a_full_one(make_simulator, tmp_path: Path) -> None:
    server = make_simulator(days=3, workflows_per_day=30)
    days = server.account.days
    sync(server, tmp_path, days)
    settings = settings_for(server, tmp_path)
    first = publish_warehouse(settings)
    assert first.changed_days == [] or first.rebuilt
    server.account.advance()  # the running workflows finish
    sync(server, tmp_path, [days[-1]])
    incremental = publish_warehouse(settings)
    assert incremental.changed_days == [days[-1]] and not incremental.rebuilt
    recomputed = {m.name: m.days for m in incremental.models if m.days is not None}
    assert recomputed and set(recomputed.values()) == {1}
    after_incremental = _report_tables(tmp_path)
    assert after_incremental
    full = publish_warehouse(settings, full=True)
    assert full.rebuilt
    assert _report_tables(tmp_path) == after_incremental
    # Nothing changed since: nothing is recomputed.
    assert publish_warehouse(settings).changed_days == []


def test_the_dagster_maintenance_job_vacuums_the_lake(make_simulator, tmp_path: Path) -> None:
    from assets.definitions import defs
    from assets.resources import DataDirResource

    server = make_simulator(days=1, workflows_per_day=10)
    day = server.account.days[0]
    sync(server, tmp_path, [day], enrich=False)
    sync(server, tmp_path, [day], enrich=False)
    assert len(list((tmp_path / "lake" / "workflows").glob("window_date=*/*.parquet"))) == 2
    job = defs.get_job_def("maintain_job")
    result = job.execute_in_process(
        resources={"data": DataDirResource(data_dir=str(tmp_path))},
        run_config={"ops": {"maintain_lake": {"config": {"retention_hours": 0}}}},
    )
    assert result.success
    assert len(list((tmp_path / "lake" / "workflows").glob("window_date=*/*.parquet"))) == 1
    assert "maintain_job" in {s.job_name for s in defs.schedules}


# --------------------------------------------------------------------------- a damaged warehouse


def test_a_stale_wal_or_a_damaged_warehouse_never_stops_the_next_publish(
    make_simulator, tmp_path: Path
) -> None:
    server = make_simulator(days=1, workflows_per_day=10)
    sync(server, tmp_path, server.account.days, enrich=False)
    settings = Settings(data_dir=tmp_path)
    publish_warehouse(settings)
    path = settings.warehouse_path

    # A reader that held the old file read-write leaves its WAL beside the published name.
    holder = duckdb.connect(str(path))
    holder.execute("create table analyst_scratch as select 1 as x")
    holder.close()
    shutil.copyfile(path, tmp_path / "other.duckdb")
    other = duckdb.connect(str(tmp_path / "other.duckdb"))
    other.execute("create table t as select 1")
    wal = path.with_name(path.name + ".wal")
    other.close()
    wal.write_bytes(b"\x00" * 64 + (tmp_path / "other.duckdb").read_bytes()[:1024])
    publish_warehouse(settings)
    assert not wal.exists()
    assert warehouse_rows(tmp_path, "select count(*) from workflows") == [(10,)]

    # A truncated file and a file that is not a database at all are rebuilt from the lake.
    for damage in (path.read_bytes()[:5000], b"not a duckdb file at all" * 100):
        path.write_bytes(damage)
        result = publish_warehouse(settings)
        assert result.rebuilt
        assert warehouse_rows(tmp_path, "select count(*) from workflows") == [(10,)]


def test_a_lake_file_gone_missing_fails_the_publish_and_keeps_the_old_warehouse(
    make_simulator, tmp_path: Path
) -> None:
    server = make_simulator(days=2, workflows_per_day=10)
    days = server.account.days
    sync(server, tmp_path, days[:1], enrich=False)
    settings = Settings(data_dir=tmp_path)
    publish_warehouse(settings)
    before = settings.warehouse_path.read_bytes()
    sync(server, tmp_path, days[1:], enrich=False)
    lake = Lake.from_settings(settings)
    (name,) = lake.window_files("workflows", days[1])
    (tmp_path / "lake" / "workflows" / name).unlink()
    with pytest.raises(PipelineError, match="nothing was published"):
        publish_warehouse(settings)
    assert settings.warehouse_path.read_bytes() == before
    assert not list(tmp_path.glob(".warehouse-*"))
