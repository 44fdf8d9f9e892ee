"""A year of history: `python -m benchmarks.history [--quick]` (part of `make bench`).

Measures what keeping history costs, each path in a fresh interpreter against the simulator
in a process of its own:

* nightly: one new day (jobs off) synced and the warehouse published, on top of a long history
  (365 days by default) and on top of one day; the ratio is the nightly cost of history. The
  whole-warehouse rebuild on the long history is the reference of what every publish cost
  before the warehouse was updated day by day;
* disk: the lake and the warehouse of a 30-day history (the warehouse holds views and
  day-by-day report tables, not a copy of the lake);
* reads: report queries and an analyst's typical queries on the published warehouse against a
  copy where every table and model is materialized (how it was built before).

The long history is built once and kept under --cache-dir (it takes a while: the build time is
printed and stored beside it); later runs reuse it and undo their nightly day afterwards.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.run import ROOT, PathFailed, Row, machine, render_markdown, render_text, run_path
from benchmarks.simproc import SimSpec, SimulatorProcess

# Fixed dates in the past so that a cached history stays valid: history days end the day
# before NEW_DAY.
NEW_DAY = date(2026, 11, 1)
# Bumped when the lake's layout changes, so that an old cached history is built again.
FIXTURE_VERSION = 1
TOKEN = "bench-token"


@dataclass
class Sizes:
    history_days: int
    per_day: int
    disk_days: int
    disk_per_day: int


DEFAULT = Sizes(history_days=365, per_day=10_000, disk_days=30, disk_per_day=2_000)
QUICK = Sizes(history_days=10, per_day=300, disk_days=5, disk_per_day=200)


def _days(first: date, count: int) -> list[str]:
    return [(first + timedelta(days=i)).isoformat() for i in range(count)]


def _log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def _path(name: str, spec: dict[str, Any], timeout: float = 7200.0) -> dict[str, Any]:
    _log(f"{name} ...")
    result = run_path(name, spec, timeout=timeout)
    if result.get("errors"):
        raise PathFailed(f"{name}: {result['errors'][0]}")
    _log(f"{name}: {result.get('seconds', 0):.2f} s")
    return result


def _history(sim_url: str, cache: Path, days: int, per_day: int) -> tuple[Path, float]:
    """The cached data dir holding `days` days before NEW_DAY; (path, build seconds)."""
    key = f"history-v{FIXTURE_VERSION}-{days}x{per_day}"
    data_dir = cache / key
    marker = data_dir / "READY.json"
    if marker.is_file():
        return data_dir, float(json.loads(marker.read_text())["build_seconds"])
    shutil.rmtree(data_dir, ignore_errors=True)
    first = NEW_DAY - timedelta(days=days)
    started = time.perf_counter()
    _path(
        "history_build",
        {"url": sim_url, "token": TOKEN, "days": _days(first, days), "data_dir": str(data_dir)},
    )
    seconds = time.perf_counter() - started
    marker.write_text(
        json.dumps({"build_seconds": seconds, "built": datetime.now(UTC).isoformat()})
    )
    return data_dir, seconds


def _nightly(sim_url: str, data_dir: Path, repeat: int) -> dict[str, Any]:
    """The median of `repeat` nightly runs on `data_dir`, each undone afterwards."""
    spec = {
        "url": sim_url,
        "token": TOKEN,
        "days": [NEW_DAY.isoformat()],
        "data_dir": str(data_dir),
    }
    runs = []
    for _ in range(repeat):
        runs.append(_path("nightly", spec))
        _path("unsync", spec)
    runs.sort(key=lambda r: r["seconds"])
    median = dict(runs[len(runs) // 2])
    median["spread"] = (runs[0]["seconds"], runs[-1]["seconds"])
    median["runs"] = len(runs)
    return median


def _queries(last_day: date) -> dict[str, str]:
    month = last_day - timedelta(days=29)
    return {
        "report: moderation by day": "select * from rpt_moderation_daily order by day, provider",
        "report: usage by day": "select * from rpt_usage_daily order by day",
        "report: Buzz by day": "select * from rpt_buzz_daily order by day",
        "a day's flagged jobs": f"select * from rpt_flagged_jobs where day = DATE '{last_day}'",
        "a month's Buzz by user": (
            "select user_id, sum(buzz_net) as buzz_net, count(*) as workflows from fct_workflows "
            f"where window_date between DATE '{month}' and DATE '{last_day}' "
            "group by user_id order by buzz_net desc limit 20"
        ),
        "a day's jobs by provider": (
            "select provider, count(*) from jobs "
            f"where window_date = DATE '{last_day}' group by provider order by 2 desc"
        ),
    }


def run(args: argparse.Namespace) -> tuple[list[Row], list[str]]:
    sizes = QUICK if args.quick else DEFAULT
    history_days = args.history_days or sizes.history_days
    per_day = args.workflows_per_day or sizes.per_day
    cache = args.cache_dir
    cache.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []
    notes: list[str] = []
    first = NEW_DAY - timedelta(days=history_days)
    with SimulatorProcess(
        SimSpec(workflows_per_day=per_day, days=history_days + 1, start=first, warm=False)
    ) as sim:
        long_dir, build_seconds = _history(sim.url, cache, history_days, per_day)
        notes.append(
            f"the {history_days}-day history ({history_days * per_day:,} workflows) took "
            f"{build_seconds / 60:.1f} min to build, once; it is kept in {long_dir}"
        )
        short_dir = args.work_dir / "history-1"
        shutil.rmtree(short_dir, ignore_errors=True)
        _path(
            "history_build",
            {"url": sim.url, "token": TOKEN, "days": _days(NEW_DAY - timedelta(days=1), 1),
             "data_dir": str(short_dir)},
        )  # fmt: skip
        short = _nightly(sim.url, short_dir, args.repeat)
        long = _nightly(sim.url, long_dir, args.repeat)
        full = _path("publish_full", {"data_dir": str(long_dir)})
    setting = f"1 new day x {per_day:,} wf, jobs off"
    for label, result in (("on 1 day of history", short), (f"on {history_days} days", long)):
        row = Row(f"nightly: sync + publish {label}", setting, items=result["workflows"],
                  seconds=result["seconds"], pages=result.get("pages"))  # fmt: skip
        row.note = (
            f"sync {result['sync_seconds']:.2f} s + publish {result['publish_seconds']:.2f} s; "
            f"median of {result['runs']} ({result['spread'][0]:.2f}-{result['spread'][1]:.2f} s)"
        )
        rows.append(row)
    long_row = rows[-1]
    long_row.reference, long_row.ref_value = "on 1 day of history", None
    long_row.ratio = long["seconds"] / short["seconds"]
    long_row.target, long_row.met = "<= 1.2x", long_row.ratio <= 1.2
    rows.append(
        Row(
            f"warehouse rebuilt whole, {history_days} days",
            "every table and model from the whole lake",
            seconds=full["seconds"],
            reference="incremental publish",
            ratio=full["seconds"] / max(long["publish_seconds"], 1e-9),
            note="what each nightly publish cost before; ratio = how much more than the incremental one",
        )
    )

    disk_days = sizes.disk_days
    disk_first = NEW_DAY - timedelta(days=disk_days)
    disk_dir = args.work_dir / f"history-{disk_days}"
    shutil.rmtree(disk_dir, ignore_errors=True)
    with SimulatorProcess(
        SimSpec(workflows_per_day=sizes.disk_per_day, days=disk_days, start=disk_first, warm=False)
    ) as sim:
        _path(
            "history_build",
            {"url": sim.url, "token": TOKEN, "days": _days(disk_first, disk_days),
             "data_dir": str(disk_dir)},
        )  # fmt: skip
    reads = _path(
        "reads",
        {"data_dir": str(disk_dir), "queries": _queries(NEW_DAY - timedelta(days=1))},
    )
    disk = reads["disk"]
    mib = 1024 * 1024
    ratio = (disk["lake"] + disk["warehouse"]) / disk["lake"]
    rows.append(
        Row(
            f"disk: lake + warehouse, {disk_days} days x {sizes.disk_per_day:,} wf",
            f"lake {disk['lake'] / mib:.1f} MiB + warehouse {disk['warehouse'] / mib:.1f} MiB",
            reference="the lake alone",
            ratio=ratio,
            target="<= 1.3x",
            met=ratio <= 1.3,
            note=f"a fully materialized warehouse would be {disk['materialized'] / mib:.1f} MiB",
        )
    )
    for name, timing in reads["queries"].items():
        ratio = timing["views"] / max(timing["materialized"], 1e-9)
        rows.append(
            Row(
                f"read: {name}",
                f"{disk_days} days x {sizes.disk_per_day:,} wf",
                seconds=timing["views"],
                reference=f"materialized: {timing['materialized'] * 1000:.1f} ms",
                ratio=ratio,
                target="<= 1.5x",
                met=ratio <= 1.5,
                note="median of 5, warm",
            )
        )
    return rows, notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.history", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes (used by the tests)")
    parser.add_argument("--history-days", type=int, help="days of history (default 365)")
    parser.add_argument("--workflows-per-day", type=int, help="workflows a day (default 10,000)")
    parser.add_argument("--repeat", type=int, default=3, help="nightly runs, median reported")
    parser.add_argument(
        "--cache-dir", type=Path, default=ROOT / ".bench-cache", help="where the history is kept"
    )
    parser.add_argument("--work-dir", type=Path, help="scratch space (default: a temp dir)")
    parser.add_argument("--markdown", type=Path, help="also write the table as Markdown here")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    temp = None
    if args.work_dir is None:
        import tempfile

        temp = tempfile.TemporaryDirectory(prefix="civitai-history-")
        args.work_dir = Path(temp.name)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    try:
        rows, notes = run(args)
    except PathFailed as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        if temp is not None:
            temp.cleanup()
    lines = [
        "Benchmark: a year of history",
        f"machine:  {machine()}",
        f"date:     {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; total {time.perf_counter() - started:.0f} s",
        "",
        render_text(rows),
        "",
        *(f"note: {n}" for n in notes),
    ]
    print("\n".join(lines), flush=True)
    if args.markdown:
        args.markdown.write_text(render_markdown(rows) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
