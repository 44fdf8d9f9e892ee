"""SIGKILL during the job enrichment of a sync, at several points (the existing kill test of
tests/integration/test_sync.py kills the fetch of a window): the next run converges to the
exact truth, the workflows synced before are untouched, and the killed run's temp files are
swept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipeline.api.client import OrchestrationClient
from pipeline.core.settings import Settings
from pipeline.enrich.archive import ATTEMPT_PREFIX
from pipeline.runs.sync import sync_range
from simulator import Faults, SimulatorServer
from tests.hostile.conftest import DAYS, PAGE, PER_DAY, TOKEN, Synced, assert_no_secret_at_rest
from tests.integration.test_enrich import lake_flagged, read_all, truth_flagged, window_job_ids
from tests.integration.test_sync import no_leftovers

CLI = str(Path(sys.executable).with_name("civitai-sync"))

# Slow (subprocesses, mounts, Dagster runs): the e2e tier, `make test-e2e`.
pytestmark = pytest.mark.e2e


def delta_versions(data_dir: Path, table: str) -> int:
    return len(list((data_dir / "lake" / table / "_delta_log").glob("*.json")))


def lookups(server: SimulatorServer) -> int:
    return server.stats.requests["jobs.get"]


# When to kill, seen from outside the process: (what it waits for, a description).
POINTS: dict[str, Callable[[SimulatorServer, Path, dict[str, int]], bool]] = {
    # The first job answers are in flight: the attempt archive has just been opened.
    "first-lookups": lambda server, data_dir, start: lookups(server) >= 1,
    # Well into the lookups of the second day.
    "mid-run": lambda server, data_dir, start: lookups(server) >= 60,
    # Right after the first day's job_details were committed to the lake, before the ledger
    # records the enrichment (or just after: either way the next run must converge).
    "after-a-commit": lambda server, data_dir, start: (
        delta_versions(data_dir, "job_details") > start["job_details"]
    ),
}


@pytest.fixture
def slow_jobs(make_simulator: Any) -> SimulatorServer:
    # The same account as the suite's simulator (same seed and size), with slow job answers so
    # that a kill lands inside the enrichment.
    return make_simulator(
        days=DAYS,
        workflows_per_day=PER_DAY,
        token=TOKEN,
        faults=Faults(page_size_clamp=PAGE, latency_ms=150, routes=frozenset({"jobs.get"})),
    )


@pytest.mark.parametrize("point", list(POINTS))
def test_a_sync_killed_during_enrichment_converges_on_the_next_run(
    synced: Synced, slow_jobs: SimulatorServer, point: str
) -> None:

    data_dir = synced.data_dir
    start = {"job_details": delta_versions(data_dir, "job_details")}
    env = {
        **os.environ,
        "CIVITAI_API_URL": slow_jobs.url,
        "CIVITAI_API_TOKEN": TOKEN,
        "CIVITAI_SYNC_DATA_DIR": str(data_dir),
    }
    command = [CLI, "sync", "--from", str(synced.days[0]), "--to", str(synced.days[-1])]
    proc = subprocess.Popen(
        command, env=env, cwd=data_dir.parent, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    reached = POINTS[point]
    deadline = time.monotonic() + 120
    try:
        while not reached(slow_jobs, data_dir, start):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, f"the sync never reached {point}"
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    if point != "after-a-commit":  # the killed pass left its half-written archive behind
        assert list((data_dir / "raw" / "jobs").rglob(f"{ATTEMPT_PREFIX}*"))
    synced.assert_intact()  # the workflows of every day are as the good sync left them

    slow_jobs.faults.latency_ms = 0
    settings = Settings(api_url=slow_jobs.url, token=TOKEN, data_dir=data_dir)
    with OrchestrationClient(base_url=slow_jobs.url, token=TOKEN) as client:
        results = sync_range(settings, client, synced.days, enrich=True)
    assert [r.status for r in results] == ["complete"] * DAYS

    synced.assert_intact()
    for day in synced.days:
        got = {row["job_id"] for row in read_all(settings, "job_details", [day])}
        assert got == window_job_ids(slow_jobs, day), day
    assert lake_flagged(settings, synced.days) == truth_flagged(slow_jobs, synced.days)
    no_leftovers(data_dir)
    assert not list((data_dir / "raw" / "jobs").rglob(f"{ATTEMPT_PREFIX}*"))
    assert not list(data_dir.glob(".warehouse-*"))
    assert_no_secret_at_rest(data_dir)
