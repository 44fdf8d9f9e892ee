"""The adaptive request-rate budget against servers that answer 429.

    .venv/bin/python -m benchmarks.rate_budget [--lookups 2000] [--rate 400] [--cap 150]

Job lookups (`get_job_raw`, `--concurrency` threads sharing one client and one budget of
`--rate` requests/second) against:

* the simulator (its own process) with its 429 fault: a share of requests answered 429
  at random, with `Retry-After: 0` (the client's floor applies) or `1`;
* a server with a real limit (`--cap` requests/second, token bucket, 429 with
  `Retry-After: 1` above it), which is what a 429 usually means.

Each case runs twice: with a fixed budget (429s pause everyone for Retry-After, the rate is
never cut) and with the adaptive one (the rate is also cut on 429 and recovers additively).
Printed per run: wall seconds, requests, 429s, retries, failed lookups, the client's
effective rate, the budget's lowest rate and its pauses. Numbers only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from benchmarks.simproc import SimSpec, SimulatorProcess
from pipeline.api.client import OrchestrationClient
from pipeline.api.ratelimit import RateLimiter
from pipeline.core.errors import ApiError
from simulator import SimulatedAccount, SimulatorConfig

_JOB = b'{"jobId":"j","lastEvent":{"type":"Succeeded","context":{"hive_csam_score":"1.00 %"}}}'


class _CappedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _CappedServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        allowed = self.server.take()
        time.sleep(self.server.latency)
        body = _JOB if allowed else b'{"title":"Too Many Requests","status":429}'
        self.send_response(200 if allowed else 429)
        if not allowed:
            self.send_header("Retry-After", "1")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _CappedServer(ThreadingHTTPServer):
    """Answers every GET with a job, at most `cap` per second (a token bucket with a tenth
    of a second of burst); 429 with Retry-After above that."""

    daemon_threads = True

    def __init__(self, cap: float, latency: float) -> None:
        super().__init__(("127.0.0.1", 0), _CappedHandler)
        self.cap = cap
        self.latency = latency
        self._tokens = cap / 10
        self._at = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.cap / 10, self._tokens + (now - self._at) * self.cap)
            self._at = now
            if self._tokens >= 1:
                self._tokens -= 1
                return True
            return False


def _run(
    url: str, token: str, job_ids: list[str], args: argparse.Namespace, adaptive: bool
) -> dict[str, Any]:
    budget = RateLimiter(args.rate) if adaptive else RateLimiter(args.rate, backoff_factor=1.0)
    failed = 0
    with OrchestrationClient(
        base_url=url, token=token, rate_limiter=budget, max_connections=args.concurrency
    ) as client:

        def lookup(job_id: str) -> bool:
            try:
                client.get_job_raw(job_id)
            except ApiError:
                return False
            return True

        started = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            failed = sum(1 for ok in pool.map(lookup, job_ids) if not ok)
        seconds = time.perf_counter() - started
        figures = client.stats.as_dict()
    figures.update(budget.stats().as_dict())
    return {"seconds": seconds, "failed": failed, **figures}


def _row(case: str, mode: str, r: dict[str, Any]) -> str:
    done = r["requests"] - r["status_429"]
    return (
        f"{case:<34} {mode:<9} {r['seconds']:>7.2f} {r['requests']:>8} {r['status_429']:>6} "
        f"{r['retries']:>7} {r['failed']:>6} {done / r['seconds']:>9.1f} "
        f"{r['lowest_rate']:>8.1f} {r['paused_seconds']:>7.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.rate_budget")
    parser.add_argument("--lookups", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=float, default=400.0, help="the budget's ceiling")
    parser.add_argument("--cap", type=float, default=150.0, help="the capped server's limit")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--share-429", type=float, default=0.02, help="simulator fault share")
    args = parser.parse_args()

    spec = SimSpec(workflows_per_day=max(200, args.lookups // 2))
    account = SimulatedAccount(
        SimulatorConfig(
            seed=spec.seed, start=spec.start, days=spec.days,
            workflows_per_day=spec.workflows_per_day, token=spec.token,
            running_share=spec.running_share,
        )
    )  # fmt: skip
    job_ids = [
        str(doc.get("jobId") or (doc.get("job") or {}).get("id"))
        for day in account.days
        for doc in account.jobs(day)
    ][: args.lookups]

    print(
        f"{len(job_ids)} lookups, {args.concurrency} in flight, budget ceiling {args.rate:g}/s, "
        f"latency {args.latency_ms:g} ms"
    )
    header = (
        f"{'case':<34} {'budget':<9} {'seconds':>7} {'requests':>8} {'429s':>6} {'retries':>7} "
        f"{'failed':>6} {'ok req/s':>9} {'lowest':>8} {'paused':>7}"
    )
    print(header)
    print("-" * len(header))
    with SimulatorProcess(spec) as sim:
        cases = [
            ("simulator, no fault", {"latency_ms": args.latency_ms, "rate_429": 0.0}),
            (
                f"simulator, {args.share_429:.0%} 429, Retry-After 0",
                {"latency_ms": args.latency_ms, "rate_429": args.share_429, "retry_after": "0"},
            ),
            (
                f"simulator, {args.share_429:.0%} 429, Retry-After 1",
                {"latency_ms": args.latency_ms, "rate_429": args.share_429, "retry_after": "1"},
            ),
        ]
        for case, faults in cases:
            sim.set_faults(**faults)
            for adaptive in (False, True):
                result = _run(sim.url, spec.token, job_ids, args, adaptive)
                print(_row(case, "adaptive" if adaptive else "fixed", result), flush=True)
    capped = _CappedServer(args.cap, args.latency_ms / 1000)
    thread = threading.Thread(target=capped.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{capped.server_address[1]}"
        for adaptive in (False, True):
            result = _run(url, "t", job_ids, args, adaptive)
            print(
                _row(
                    f"server capped at {args.cap:g}/s", "adaptive" if adaptive else "fixed", result
                ),
                flush=True,
            )
    finally:
        capped.shutdown()
        capped.server_close()


if __name__ == "__main__":
    main()
