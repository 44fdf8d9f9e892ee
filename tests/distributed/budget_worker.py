"""One worker process of the shared-budget test: job lookups as fast as its threads can send
them, from a given wall-clock time for a given number of seconds, through the client the enrichment uses (whose budget is
the shared one when CIVITAI_SYNC_RATE_BUDGET_URL is set, else one of `rate` of its own). Prints how many it sent, and when
(wall clock) it started and stopped."""

from __future__ import annotations

import contextlib
import itertools
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from pipeline.core.errors import PipelineError
from pipeline.core.settings import Settings
from pipeline.runs.enrich import job_client


def main() -> None:
    url, token, jobs_file = sys.argv[1], sys.argv[2], sys.argv[3]
    start, seconds, rate = float(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
    with open(jobs_file) as handle:
        jobs = json.load(handle)
    settings = Settings(api_url=url, token=token)
    sent = 0
    # Every worker starts at the same wall-clock moment, whatever its import time.
    time.sleep(max(0.0, start - time.time()))
    deadline = time.monotonic() + seconds
    ids = itertools.cycle(jobs)

    def lookup(job_id: str) -> None:
        # The simulator answers 404 for some jobs on purpose: a request all the same.
        with contextlib.suppress(PipelineError):
            client.get_job_raw(job_id)

    with job_client(settings, concurrency=8, rate=rate) as client, ThreadPoolExecutor(8) as pool:
        first = time.time()
        while time.monotonic() < deadline:
            list(pool.map(lookup, [next(ids) for _ in range(8)]))
            sent += 8
        last = time.time()
    print(json.dumps({"sent": sent, "first": first, "last": last}))


if __name__ == "__main__":
    main()
