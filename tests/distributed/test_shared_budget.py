"""One request budget in Redis for four worker processes, measured at the simulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from pipeline.api.shared_budget import RedisRateBudget, budget_key
from simulator import Faults, SimulatorConfig, SimulatorServer
from tests.distributed.servers import Server

ROOT = Path(__file__).resolve().parents[2]
RATE = 15.0
WORKERS = 4
SECONDS = 8.0
# Time for the worker processes to import and connect before the common start.
STARTUP_SECONDS = 8.0


def _run_workers(
    server: SimulatorServer, redis: Server, tmp_path: Path, *, shared: bool = True
) -> tuple[float, dict]:
    """Start the workers at once; the rate the simulator saw while all of them sent."""
    jobs = [
        j
        for d in server.account.days
        for w in server.account.workflows(d)
        for s in w.get("steps") or []
        for j in (x["id"] for x in s.get("jobs") or [])
    ]
    jobs_file = tmp_path / "jobs.json"
    jobs_file.write_text(json.dumps(jobs))
    budget_url = redis.extra["url"]
    RedisRateBudget(budget_url, budget_key(server.url, server.config.token), RATE).reset()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "CIVITAI_SYNC_RATE_LIMIT": str(RATE),
    }
    if shared:
        env["CIVITAI_SYNC_RATE_BUDGET_URL"] = budget_url
    start = time.time() + STARTUP_SECONDS
    stats_url = f"{server.url}/_simulator/stats"
    command = [
        sys.executable,
        "-m",
        "tests.distributed.budget_worker",
        server.url,
        server.config.token,
        str(jobs_file),
        str(start),
        str(SECONDS),
        str(RATE),
    ]
    procs = [
        subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(WORKERS)
    ]
    samples: list[tuple[float, int]] = []
    with httpx.Client(timeout=5) as client:
        while any(p.poll() is None for p in procs):
            samples.append((time.time(), int(client.get(stats_url).json()["total"])))
            time.sleep(0.2)
    outs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    ran = [json.loads(o[0]) for o in outs]
    assert all(r["sent"] > 0 for r in ran), ran  # every worker got a share
    # The rate the simulator saw while all four workers were sending.
    begin, end = max(r["first"] for r in ran), min(r["last"] for r in ran)
    inside = [(t, n) for t, n in samples if begin <= t <= end]
    assert len(inside) >= 10 and inside[-1][0] - inside[0][0] >= 3.0, (begin, end)
    (t0, n0), (t1, n1) = inside[0], inside[-1]
    stats = RedisRateBudget(budget_url, budget_key(server.url, server.config.token), RATE).stats()
    sent = [r["sent"] for r in ran]
    return (n1 - n0) / (t1 - t0), {
        "sent": sent,
        "seconds": round(t1 - t0, 1),
        "budget": stats.as_dict(),
    }


def test_four_workers_share_one_rate(redis_server: Server, tmp_path: Path) -> None:
    config = SimulatorConfig(days=1, workflows_per_day=60)
    with SimulatorServer(config) as server:
        alone, _ = _run_workers(server, redis_server, tmp_path, shared=False)
    with SimulatorServer(config) as server:
        rate, info = _run_workers(server, redis_server, tmp_path)
    print(f"\n{WORKERS} workers with a budget of {RATE:.0f}/s each: {alone:.1f} requests/s")
    # Budgets per process add up: what the shared one is for.
    assert alone > RATE * 1.3
    print(f"\n{WORKERS} workers, no 429: {rate:.1f} requests/s for a budget of {RATE:.0f}/s {info}")
    # Each worker alone could send several hundred a second: the budget is what holds them.
    assert RATE * 0.9 <= rate <= RATE * 1.1, info


def test_four_workers_under_429_stay_within_the_rate(redis_server: Server, tmp_path: Path) -> None:
    config = SimulatorConfig(
        days=1, workflows_per_day=60, faults=Faults(rate_429=0.05, retry_after="0")
    )
    with SimulatorServer(config) as server:
        rate, info = _run_workers(server, redis_server, tmp_path)
        limited = server.stats.snapshot()["statuses"].get("429", 0)
    print(
        f"\n{WORKERS} workers, 5% 429: {rate:.1f} requests/s for {RATE:.0f}/s, {limited} 429s {info}"
    )
    assert limited > 0 and info["budget"]["throttles"] == limited
    # A 429 seen by one worker slows all of them: the rate comes down, never above the budget.
    assert info["budget"]["backoffs"] > 0
    assert rate <= RATE * 1.1, info


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CIVITAI_SYNC_RATE_BUDGET_URL", raising=False)
