"""The lake, the ledger and both raw archives on an S3 server (moto on loopback)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
from deltalake import DeltaTable

from pipeline.api.client import OrchestrationClient
from pipeline.core.settings import Settings
from pipeline.enrich.archive import JobArchive
from pipeline.fetch import archive
from pipeline.lake import tables
from pipeline.lake.ledger import Ledger
from pipeline.lake.store import Lake
from pipeline.runs.housekeeping import forget, maintain
from pipeline.runs.sync import rebuild_range, sync_range
from pipeline.warehouse.cache import CACHE_DIR, LakeCache
from pipeline.warehouse.publish import publish_warehouse
from simulator import Faults, SimulatorServer
from tests.distributed.truth import assert_warehouse_exact

ROOT = Path(__file__).resolve().parents[2]


def _settings(server: SimulatorServer, data_dir: Path, env: dict[str, str]) -> Settings:
    return Settings(
        api_url=server.url,
        token=server.config.token,
        data_dir=data_dir,
        lake_uri=env["CIVITAI_SYNC_LAKE_URI"],
    )


def _warehouse_rows(settings: Settings, sql: str) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_sync_rebuild_maintain_and_forget_with_everything_on_s3(
    make_simulator, s3_env: dict[str, str], tmp_path: Path
) -> None:
    server = make_simulator(days=3, workflows_per_day=30, faults=Faults(page_size_clamp=10))
    days = server.account.days
    settings = _settings(server, tmp_path / "data", s3_env)
    with OrchestrationClient(base_url=server.url, token=server.config.token) as client:
        results = sync_range(settings, client, days)
    assert [r.status for r in results] == ["complete"] * 3, [r.error for r in results]

    # Nothing of the lake or the archives on the local disk: the data dir holds scratch only.
    assert not (settings.data_dir / "lake").exists() and not (settings.data_dir / "raw").exists()
    lake = Lake.from_settings(settings)
    assert lake.remote
    raw = archive.RawArchive.from_settings(settings)
    rows = {row.window_date: row for row in Ledger(lake).rows()}
    for day in days:
        assert raw.attempts(day) == [rows[day].raw_attempt]
        assert JobArchive.from_settings(settings).exists(day)

    published = publish_warehouse(settings)
    assert_warehouse_exact(settings.warehouse_path, server, days)
    cached = sorted(p for p in (settings.data_dir / CACHE_DIR).rglob("*.parquet"))
    live = sum(len(c.files) for row in rows.values() for c in row.tables.values())
    assert len(cached) == live and published.tables["workflows"] == 90

    # Cached files are immutable: a second fetch of the same ledger downloads nothing.
    again = LakeCache(lake, settings.data_dir / CACHE_DIR)
    again.fetch(Ledger(lake).rows())
    assert again.downloaded == 0

    # The archives on S3 alone rebuild the same tables.
    before = _warehouse_rows(settings, "select * from workflows order by workflow_id")
    requests = server.stats.total
    rebuilt = rebuild_range(settings, days)
    assert [r.status for r in rebuilt] == ["complete"] * 3, [r.error for r in rebuilt]
    assert server.stats.total == requests
    publish_warehouse(settings)
    after = _warehouse_rows(settings, "select * from workflows order by workflow_id")
    assert [r[:-2] for r in after] == [r[:-2] for r in before]  # synced_at & co. aside
    assert_warehouse_exact(settings.warehouse_path, server, days)

    # An attempt nobody names (a run that died after its upload) is swept; the live one stays.
    stray = archive.new_attempt_id()
    staged = archive.staging_dir(tmp_path / "work", stray)
    archive.write_page(staged, 1, b'{"items": [], "next": null}')
    raw.publish(days[0], stray, staged)
    assert stray in raw.attempts(days[0])
    assert maintain(settings, retention_hours=0).swept == 1
    assert raw.attempts(days[0]) == [Ledger(lake).get(days[0]).raw_attempt]

    forget(settings, [days[1]])
    assert raw.attempts(days[1]) == [] and not JobArchive.from_settings(settings).exists(days[1])
    publish_warehouse(settings)
    counted = _warehouse_rows(settings, "select count(*) from workflows")
    assert counted == [(60,)]


def test_two_machines_syncing_one_window_one_wins_the_other_changes_nothing(
    make_simulator, s3_env: dict[str, str], tmp_path: Path
) -> None:
    # ~8 pages a second apart: both runs are fetching when the second one starts.
    server = make_simulator(days=1, workflows_per_day=40, faults=Faults(page_size_clamp=5))
    server.faults.latency_ms = 700
    day = server.account.days[0]
    cli = str(Path(sys.executable).with_name("civitai-sync"))
    procs = []
    for machine in ("a", "b"):
        env = {
            **os.environ,
            **s3_env,
            "CIVITAI_API_URL": server.url,
            "CIVITAI_API_TOKEN": server.config.token,
            # Different data dirs: the file locks of one machine do not see the other.
            "CIVITAI_SYNC_DATA_DIR": str(tmp_path / machine),
        }
        command = [cli, "sync", "--from", str(day), "--to", str(day), "--no-jobs"]
        procs.append(
            subprocess.Popen(
                command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            )
        )
    outputs = [p.communicate(timeout=240)[0].decode() for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 1], outputs
    loser = outputs[[p.returncode for p in procs].index(1)]
    assert "claimed by" in loser or "claimed it at the same moment" in loser, loser

    settings = Settings(data_dir=tmp_path / "check", lake_uri=s3_env["CIVITAI_SYNC_LAKE_URI"])
    lake = Lake.from_settings(settings)
    events = Ledger(lake).events().to_pylist()
    kinds = sorted(e["event"] for e in events if e["window_date"] == day)
    assert kinds == ["complete", "started"]  # the loser wrote nothing, not even `failed`
    assert lake.read("workflows", [day]).num_rows == 40
    row = Ledger(lake).get(day)
    assert archive.RawArchive.from_settings(settings).attempts(day) == [row.raw_attempt]


def _one_row(table: str, day: date, key: str) -> pa.Table:
    schema = tables.schema_for(table)
    row = dict.fromkeys(schema.names)
    row.update(window_date=day, workflow_id=key, txn_index=0)
    return pa.Table.from_pylist([row], schema=schema)


def test_concurrent_commits_of_different_windows_on_s3_all_land(
    s3_env: dict[str, str], tmp_path: Path
) -> None:
    """Four writers replacing their own windows at once, twice each, on one table: every
    commit lands, none overwrites another's log entry. S3 has no atomic rename; delta-rs's
    conditional put (If-None-Match) is what makes the loser of a version retry instead of
    overwriting it."""
    settings = Settings(data_dir=tmp_path, lake_uri=f"{s3_env['CIVITAI_SYNC_LAKE_URI']}-c")
    lake = Lake.from_settings(settings)
    days = [date(2026, 4, d) for d in range(1, 5)]
    lake.replace_window("transactions", days[0], _one_row("transactions", days[0], "seed"))
    barrier = threading.Barrier(len(days))

    def writer(day: date) -> None:
        barrier.wait()
        for round_ in range(2):
            lake.replace_window(
                "transactions", day, _one_row("transactions", day, f"{day}-{round_}")
            )

    with ThreadPoolExecutor(len(days)) as pool:
        list(pool.map(writer, days))
    got = lake.read("transactions").sort_by("workflow_id").column("workflow_id").to_pylist()
    assert got == [f"{day}-1" for day in days]
    table = DeltaTable(lake.table_uri("transactions"), storage_options=lake.storage_options)
    versions = sorted(h["version"] for h in table.history())
    assert versions == list(range(2 + 2 * len(days)))  # create, seed, 8 replacements
