"""The production deployment on one machine: a 6-day backfill spread over Celery workers.

PostgreSQL holds Dagster's runs and event log, Redis is the Celery broker and the shared rate
budget, moto is the S3 store of the lake, and the simulator answers 429 to some requests.
The Dagster daemon takes the backfill's queued runs and launches them; every step runs on one
of two Celery workers (two processes each: four workers' worth of concurrency), each with a
data dir of its own, as on separate machines. Checked: every partition succeeded, each day
was fetched once, steps ran on both workers, the warehouse an analyst publishes from the
shared lake is exact, and the request rate stayed within the budget.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from pipeline.core.settings import Settings
from pipeline.fetch import archive
from pipeline.lake.ledger import Ledger
from pipeline.lake.store import Lake
from simulator import Faults, SimulatorConfig, SimulatorServer
from tests.distributed.servers import Server
from tests.distributed.truth import assert_warehouse_exact

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
RUN = ROOT / "deploy" / "run"
DAYS = 6
# About 170 requests a day (pages and job lookups): the API budget, not Dagster, sets the pace
# while the windows' lookups overlap.
WORKFLOWS_PER_DAY = 120
RATE = 20.0  # requests/second for the whole deployment
DEADLINE_SECONDS = 480
SAMPLE_SECONDS = 0.2
WINDOW_SECONDS = 2.0


class Sampler(threading.Thread):
    """Polls the simulator's request counter: (monotonic time, requests served so far)."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.samples: list[tuple[float, int]] = []
        self.stop_event = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self.stop_event.wait(SAMPLE_SECONDS):
                total = int(client.get(f"{self.url}/_simulator/stats").json()["total"])
                self.samples.append((time.monotonic(), total))


def rates(samples: list[tuple[float, int]]) -> tuple[float, float, float]:
    """(mean rate while requests flowed, highest rate over any WINDOW_SECONDS, seconds)."""
    active = [(t, n) for t, n in samples if n > 0]
    first = active[0]
    last = next(s for s in reversed(active) if s[1] == active[-1][1])
    # The first request came after the sample before `first`; the window starts there.
    start = max((t for t, n in samples if t < first[0] and n == 0), default=first[0])
    mean = last[1] / (last[0] - start)
    peak = 0.0
    for i, (t0, n0) in enumerate(samples):
        for t1, n1 in samples[i + 1 :]:
            if t1 - t0 >= WINDOW_SECONDS:
                peak = max(peak, (n1 - n0) / (t1 - t0))
                break
    return mean, peak, last[0] - start


def _spawn(command: list[str], env: dict[str, str], log: Path, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        command,
        env=env,
        cwd=cwd,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopped whole at the end
    )


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


@pytest.mark.timeout(DEADLINE_SECONDS + 240)
def test_a_six_day_backfill_on_celery_workers_with_one_rate_budget(
    moto: Server,
    redis_server: Server,
    postgres: Server,
    s3_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    faults = Faults(page_size_clamp=10, rate_429=0.02, retry_after="0")
    config = SimulatorConfig(
        days=DAYS, workflows_per_day=WORKFLOWS_PER_DAY, running_share=0.0, faults=faults
    )
    days = [config.start + timedelta(days=n) for n in range(DAYS)]
    home = tmp_path / "dagster_home"
    home.mkdir()
    # deploy/run copies it too; the backfill command below may run before it did.
    (home / "dagster.yaml").write_text((ROOT / "deploy" / "dagster.yaml").read_text())
    redis_url = redis_server.extra["url"]
    procs: list[subprocess.Popen] = []
    with SimulatorServer(config) as server:
        base = {
            **os.environ,
            **s3_env,
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONPATH": str(ROOT),
            "DAGSTER_HOME": str(home),
            "CIVITAI_SYNC_DAGSTER_PG_URL": postgres.extra["url"],
            "CIVITAI_SYNC_EXECUTOR": "celery",
            "CIVITAI_SYNC_CELERY_BROKER": redis_url,
            "CIVITAI_SYNC_RATE_BUDGET_URL": redis_url.replace("/0", "/1"),
            "CIVITAI_SYNC_RATE_LIMIT": str(RATE),
            "CIVITAI_API_URL": server.url,
            "CIVITAI_API_TOKEN": config.token,
            "CIVITAI_SYNC_START_DATE": days[0].isoformat(),
            "CIVITAI_SYNC_DATA_DIR": str(tmp_path / "daemon"),
        }
        sampler = Sampler(server.url)
        try:
            # The commands deploy/README.md gives, one per "machine".
            for name in ("a", "b"):
                env = {
                    **base,
                    "CIVITAI_SYNC_DATA_DIR": str(tmp_path / f"worker-{name}"),
                    "WORKER_PROCESSES": "2",
                }
                procs.append(
                    _spawn(
                        [str(RUN), "worker", "-n", f"worker-{name}"],
                        env,
                        tmp_path / f"worker-{name}.log",
                        tmp_path,
                    )
                )
            procs.append(_spawn([str(RUN), "daemon"], base, tmp_path / "daemon.log", tmp_path))
            sampler.start()
            launched = subprocess.run(
                [
                    str(BIN / "dagster"),
                    "job",
                    "backfill",
                    "-m",
                    "assets.definitions",
                    "--working-directory",
                    str(ROOT),
                    "-j",
                    "sync_windows_job",
                    "--partitions",
                    ",".join(d.isoformat() for d in days),
                    "--noprompt",
                ],
                env=base,
                cwd=home,
                capture_output=True,
                text=True,
                timeout=180,
            )
            assert launched.returncode == 0, launched.stdout + launched.stderr

            monkeypatch.setenv("DAGSTER_HOME", str(home))
            monkeypatch.setenv("CIVITAI_SYNC_DAGSTER_PG_URL", postgres.extra["url"])
            runs = _wait_for_runs(home, tmp_path)
        finally:
            sampler.stop_event.set()
            for proc in reversed(procs):
                _stop(proc)
        stats = server.stats.snapshot()

    # Every partition ran once, to success.
    assert sorted(r.tags.get("dagster/partition") for r in runs) == [d.isoformat() for d in days]

    # Steps ran on both Celery workers.
    assert _celery_workers(home, runs) == {"worker-a", "worker-b"}

    # Each day was fetched once: one `started` and one `complete` in the shared ledger, one
    # raw archive attempt on S3.
    analyst = Settings(data_dir=tmp_path / "analyst", lake_uri=s3_env["CIVITAI_SYNC_LAKE_URI"])
    lake = Lake.from_settings(analyst)
    events = Ledger(lake).events().to_pylist()
    raw = archive.RawArchive.from_settings(analyst)
    for day in days:
        kinds = sorted(e["event"] for e in events if e["window_date"] == day)
        assert kinds == ["complete", "enriched", "started"], (day, kinds)
        assert len(raw.attempts(day)) == 1

    # The analyst's warehouse, published from the shared lake (no token, no API), is exact.
    env = {**os.environ, **s3_env, "CIVITAI_SYNC_DATA_DIR": str(analyst.data_dir)}
    env.pop("CIVITAI_API_TOKEN", None)
    shown = subprocess.run(
        [str(BIN / "civitai-sync"), "warehouse"], env=env, capture_output=True, text=True
    )
    assert shown.returncode == 0 and f"{DAYS} window(s)" in shown.stdout, shown
    assert_warehouse_exact(analyst.warehouse_path, server, days)

    # The 429 fault was hit, and the rate stayed within the budget.
    assert stats["statuses"].get("429", 0) > 0
    mean, peak, seconds = rates(sampler.samples)
    print(
        f"\nbackfill: {stats['total']} requests in {seconds:.1f}s, mean {mean:.1f}/s, "
        f"peak {peak:.1f}/s over {WINDOW_SECONDS:.0f}s windows, budget {RATE:.0f}/s, "
        f"{stats['statuses'].get('429', 0)} answers 429"
    )
    assert peak <= RATE * 1.1, (peak, sampler.samples)
    assert mean <= RATE * 1.1


def _instance(home: Path):
    import dagster as dg

    return dg.DagsterInstance.from_config(str(home))


def _wait_for_runs(home: Path, tmp_path: Path) -> list:
    import dagster as dg

    instance = _instance(home)
    deadline = time.monotonic() + DEADLINE_SECONDS
    try:
        while time.monotonic() < deadline:
            runs = instance.get_runs(filters=dg.RunsFilter(job_name="sync_windows_job"))
            done = [r for r in runs if r.is_finished]
            if len(runs) == DAYS and len(done) == DAYS:
                failed = [r.run_id for r in runs if r.status != dg.DagsterRunStatus.SUCCESS]
                assert not failed, (failed, _logs(tmp_path))
                return list(runs)
            time.sleep(2)
        pytest.fail(f"the backfill did not finish in {DEADLINE_SECONDS}s:\n{_logs(tmp_path)}")
    finally:
        instance.dispose()
    return []


def _celery_workers(home: Path, runs: list) -> set[str]:
    import dagster as dg

    instance = _instance(home)
    seen: set[str] = set()
    try:
        for run in runs:
            for record in instance.get_records_for_run(
                run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT
            ).records:
                event = record.event_log_entry.dagster_event
                data = event.event_specific_data if event is not None else None
                for entry in getattr(data, "metadata", {}).items():
                    if entry[0] == "Celery worker":
                        seen.add(str(entry[1].value).split("@")[0])
    finally:
        instance.dispose()
    return seen


def _logs(tmp_path: Path) -> str:
    parts = []
    for log in sorted(tmp_path.glob("*.log")):
        parts.append(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}")
    return "\n".join(parts)
