"""Run one measured path in this (fresh) process and report time, counts and peak RSS.

    python -m benchmarks.worker PATH SPEC_JSON RESULT_JSON

A path runs in a process of its own so that its peak resident memory is its own: the kernel's
high-water mark (`getrusage`) of this process, or of a child it waited for (dlt's normalize
pool), whichever is higher. Import time is not counted in `seconds`: each path times only
its own work.
"""

from __future__ import annotations

import json
import logging
import resource
import sys
import time
from pathlib import Path
from typing import Any


def peak_rss_mib() -> float:
    """Peak RSS in MiB of this process or any child it reaped (ru_maxrss is KiB on Linux)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024.0


def main(argv: list[str]) -> int:
    name, spec_text, out = argv
    spec: dict[str, Any] = json.loads(spec_text)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    from benchmarks import paths

    func = paths.PATHS[name]
    started = time.perf_counter()
    result = func(spec)
    result.setdefault("seconds", time.perf_counter() - started)
    result["peak_rss_mib"] = peak_rss_mib()
    Path(out).write_text(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
