"""Job enrichment throughput against the simulator.

Starts the simulator (in a process of its own, so its CPU and GIL are not charged to the
enrichment) with a per-request latency L, commits a lake `jobs` window of N jobs (one Delta
commit, recorded in the ledger as a sync records it) and runs `enrich_window` with C lookups in flight and a budget of R requests/second. The ideal
rate is min(C / L, R); the script prints what was achieved and the ratio (target >= 0.8).

    .venv/bin/python -m benchmarks.enrich_throughput --jobs 2000 --latency-ms 20 \
        --concurrency 16 --rate 400

Numbers only: it asserts nothing.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date
from pathlib import Path

import pyarrow as pa

from benchmarks.simproc import SimSpec, SimulatorProcess
from pipeline.core.settings import Settings
from pipeline.lake.ledger import Ledger
from pipeline.lake.store import Lake
from pipeline.lake.tables import schema_for
from pipeline.runs.enrich import enrich_window, job_client
from simulator import SimulatedAccount, SimulatorConfig

DAY = date(2026, 11, 1)


def _write_jobs_window(settings: Settings, spec: SimSpec, limit: int) -> int:
    """The window's jobs as the sync would leave them (only the columns enrichment reads; the
    others are NULL): one commit of the lake's `jobs` table, recorded in the ledger."""
    # The account is deterministic from its settings: this copy lists the served jobs.
    account = SimulatedAccount(
        SimulatorConfig(
            seed=spec.seed,
            start=spec.start,
            days=spec.days,
            workflows_per_day=spec.workflows_per_day,
            token=spec.token,
            running_share=spec.running_share,
        )
    )
    rows = []
    for doc in account.jobs(DAY):
        job_id = doc.get("jobId") or (doc.get("job") or {}).get("id")
        workflow_id = ((doc.get("job") or {}).get("properties") or {}).get("workflowId")
        rows.append({"job_id": job_id, "workflow_id": workflow_id, "window_date": DAY})
        if len(rows) >= limit:
            break
    lake = Lake.from_settings(settings)
    schema = schema_for("jobs")
    wanted = pa.schema([schema.field(name) for name in ("job_id", "workflow_id", "window_date")])
    committed = lake.replace_window("jobs", DAY, pa.Table.from_pylist(rows, schema=wanted))
    Ledger(lake).complete(DAY, tables={"jobs": committed}, run_id="benchmark")
    return committed.rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2000, help="N: jobs to enrich")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="L: simulator latency")
    parser.add_argument("--concurrency", type=int, default=16, help="C: lookups in flight")
    parser.add_argument("--rate", type=float, default=400.0, help="R: requests/second budget")
    args = parser.parse_args()

    # At least one job per workflow: N workflows give N jobs or more.
    spec = SimSpec(workflows_per_day=max(10, args.jobs), start=DAY)
    with tempfile.TemporaryDirectory() as tmp, SimulatorProcess(spec) as server:
        server.set_faults(latency_ms=args.latency_ms)
        settings = Settings(api_url=server.url, token=spec.token, data_dir=Path(tmp))
        jobs = _write_jobs_window(settings, spec, args.jobs)
        cpu_before = time.process_time()
        with job_client(settings, concurrency=args.concurrency, rate=args.rate) as client:
            result = enrich_window(settings, DAY, client=client, concurrency=args.concurrency)
        # CPU of this process (event loop included): near `seconds` means the client side,
        # not the API, is what limits the rate.
        cpu = time.process_time() - cpu_before
        stats = client.stats.as_dict()

    achieved = result.looked_up / result.seconds if result.seconds else 0.0
    ideal = min(args.concurrency / (args.latency_ms / 1000.0), args.rate)
    print(f"jobs              {jobs}")
    print(f"latency_ms        {args.latency_ms:g}")
    print(f"concurrency       {args.concurrency}")
    print(f"rate_budget       {args.rate:g}")
    print(f"looked_up         {result.looked_up}")
    print(f"failed            {result.failed}")
    print(f"requests          {stats['requests']}")
    print(f"retries           {stats['retries']}")
    print(f"seconds           {result.seconds:.3f}")
    print(f"client_cpu_s      {cpu:.3f}")
    print(f"achieved_req_s    {achieved:.1f}")
    print(f"ideal_req_s       {ideal:.1f}")
    print(f"ratio             {achieved / ideal:.3f}")


if __name__ == "__main__":
    main()
