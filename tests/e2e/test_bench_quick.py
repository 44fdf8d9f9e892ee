"""`python -m benchmarks.run --quick` runs end to end and prints every row of its table.

No timing is asserted: the machine running the tests is not the one the targets are for. What
must hold is that every path and reference point still runs against the current code (a
renamed function or a broken path fails here, not on the next `make bench`).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

OUR_ROWS = (
    "sync, jobs off     0 ms",
    "sync, jobs off     20 ms",
    "job enrichment",
    "sync, jobs on",
    "rebuild            from archive",
    "warehouse publish",
    "SQL models",
    "sync, jobs off     0 ms, 1 day x 1,000 wf",
    "rebuild            1 day x 1,000 wf",
)
REFERENCE_ROWS = (
    "bare client (http.client loop)  0 ms",
    "bare client (http.client loop)  20 ms",
    "bare client (http.client loops) 20 ms, probe + ",
    "DuckDB columnar ceiling",
    "DuckDB bare load",
    "API-bound limit, workflow list",
    "API-bound limit, job lookups",
)


def test_quick_benchmark_prints_every_row(tmp_path: Path) -> None:
    markdown = tmp_path / "bench.md"
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "benchmarks.run", "--quick", "--quiet"),
            *("--repeat", "2", "--markdown", str(markdown)),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = proc.stdout
    assert proc.returncode == 0, f"stdout:\n{out}\nstderr:\n{proc.stderr[-3000:]}"
    assert "FAILED" not in out
    # Cells are padded to their column's width: compare with runs of spaces folded.
    lines = [" ".join(line.split()) for line in out.splitlines()]
    for prefix in (" ".join(row.split()) for row in OUR_ROWS + REFERENCE_ROWS):
        assert any(line.startswith(prefix) for line in lines), f"no row {prefix!r} in:\n{out}"
    assert not any(line.rstrip().endswith("failed") for line in lines), out
    # Short paths ran twice and report their median with the spread.
    assert any(line.startswith("sync, jobs off") and "median of 2" in line for line in lines), out
    if importlib.util.find_spec("dlt") is None:
        assert "dlt is not installed, so its row is skipped" in out
    else:
        assert any(line.startswith("dlt ") and "rest_api -> DuckDB" in line for line in lines), out
    assert markdown.read_text().count("\n| ") >= len(OUR_ROWS) + len(REFERENCE_ROWS)


def test_quick_history_benchmark_prints_every_row(tmp_path: Path) -> None:
    markdown = tmp_path / "history.md"
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "benchmarks.history", "--quick", "--repeat", "1"),
            *("--cache-dir", str(tmp_path / "cache"), "--markdown", str(markdown)),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    out = proc.stdout
    assert proc.returncode == 0, f"stdout:\n{out}\nstderr:\n{proc.stderr[-3000:]}"
    lines = [" ".join(line.split()) for line in out.splitlines()]
    for prefix in (
        "nightly: sync + publish on 1 day of history",
        "nightly: sync + publish on 10 days",
        "warehouse rebuilt whole, 10 days",
        "disk: lake + warehouse, 5 days",
        "read: a day's flagged jobs",
        "read: a month's Buzz by user",
    ):
        assert any(line.startswith(prefix) for line in lines), f"no row {prefix!r} in:\n{out}"
    assert "took" in out and "to build, once" in out
    # The history is kept: a second run reuses it instead of building it again.
    assert (tmp_path / "cache" / "history-v1-10x300" / "READY.json").is_file()
    assert markdown.read_text().count("\n") >= 10
