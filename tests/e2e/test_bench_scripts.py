"""The stand-alone benchmark scripts run on the current layout and print sane figures.

`benchmarks.enrich_throughput` and `benchmarks.html_report` are not part of `benchmarks.run`,
so nothing else would notice when a rename or a layout change breaks them. Tiny sizes; no
timing is asserted, only that every figure is printed and the counts are the ones asked for.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.chromium import find_chromium

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> dict[str, str]:
    proc = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr[-3000:]}"
    figures = {}
    for line in proc.stdout.splitlines():
        name, _, value = line.partition(" ")
        if name and value.strip():
            figures[name] = value.strip()
    return figures


def _number(figures: dict[str, str], name: str) -> float:
    assert name in figures, f"no {name!r} figure in {figures}"
    return float(figures[name].split()[0].replace(",", ""))


def test_enrich_throughput_looks_up_every_job() -> None:
    figures = _run(
        "benchmarks.enrich_throughput",
        *("--jobs", "50", "--latency-ms", "2", "--concurrency", "4", "--rate", "500"),
    )
    assert _number(figures, "jobs") == 50
    assert _number(figures, "looked_up") == 50
    assert _number(figures, "failed") == 0
    assert _number(figures, "requests") >= 50
    assert _number(figures, "seconds") > 0
    assert _number(figures, "achieved_req_s") > 0
    assert _number(figures, "ideal_req_s") == 500  # min(4 / 0.002 s, 500)
    assert 0 < _number(figures, "ratio") <= 2


def test_html_report_builds_the_asked_warehouse(tmp_path: Path) -> None:
    browser = find_chromium() is not None
    figures = _run(
        "benchmarks.html_report",
        *("--days", "2", "--workflows-per-day", "50", "--keep", str(tmp_path / "data")),
        *(() if browser else ("--no-browser",)),
    )
    assert _number(figures, "days") == 2
    assert _number(figures, "workflows_per_day") == 50
    assert _number(figures, "workflows") == 100
    # What the warehouse serves after the rebuild from the raw archive, not what was written.
    assert _number(figures, "warehouse_workflows") == 100
    jobs = _number(figures, "jobs")
    assert jobs >= 100  # every simulated workflow has at least one job
    assert 0 <= _number(figures, "flagged_jobs") <= jobs
    assert _number(figures, "file_size_mb") > 0
    assert (tmp_path / "data" / "report.html").is_file()
    if browser:
        assert _number(figures, "load_ms_cold") > 0
        assert _number(figures, "load_ms_warm_median") > 0
        assert figures["browser_problems"] == "none"
    else:
        assert "not measured" in figures["browser_problems"]
