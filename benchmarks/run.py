"""The benchmark suite: `python -m benchmarks.run [--quick]` (`make bench`).

Starts the API simulator in a process of its own, runs the real code paths each in a fresh
subprocess (so each has its own peak RSS), measures the reference points in the same run on
the same data, and prints one table: workflows/s, pages/s and peak RSS of each path, and each
figure as a ratio to its reference point, with the target it is held to.

Reference points:
* API-bound limit: (page size / latency) x windows fetched in parallel for the workflow
  list; min(in flight / latency, rate budget) for job lookups;
* bare client: `http.client` loops paging the same simulator without parsing, one at 0 ms and
  at the latency, and with the latency also the sync's own pattern (a probe, then parallel
  sub-window chains);
* columnar ceiling: DuckDB alone, archived pages -> the same five tables -> Parquet;
* dlt: its REST API source loading the same days into DuckDB (benchmarks/dlt_reference.py);
* DuckDB bare load: the lake's Parquet copied into a new DuckDB file (for the publish).

Only numbers: nothing here asserts a target; the last column says whether it was met.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.simproc import SimSpec, SimulatorProcess

ROOT = Path(__file__).resolve().parent.parent
START = date(2026, 11, 1)
MIB = 1024 * 1024


@dataclass
class Sizes:
    workflows_per_day: int
    big_workflows_per_day: int
    days: int
    latency_ms: float


DEFAULT = Sizes(workflows_per_day=10_000, big_workflows_per_day=100_000, days=1, latency_ms=20)
QUICK = Sizes(workflows_per_day=300, big_workflows_per_day=1_000, days=1, latency_ms=20)


# --------------------------------------------------------------------------- running a path


class PathFailed(RuntimeError):
    pass


def run_path(name: str, spec: dict[str, Any], *, timeout: float) -> dict[str, Any]:
    """Run benchmarks.worker for one path in a fresh interpreter; its JSON result."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = Path(handle.name)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "benchmarks.worker", name, json.dumps(spec), str(out)]
    try:
        proc = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
        )
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
            raise PathFailed(f"{name} exited {proc.returncode}:\n{tail}")
        return json.loads(out.read_text())  # type: ignore[no-any-return]
    except subprocess.TimeoutExpired:
        raise PathFailed(f"{name} did not finish within {timeout:.0f} s") from None
    finally:
        out.unlink(missing_ok=True)


# --------------------------------------------------------------------------- the table


@dataclass
class Row:
    path: str
    setting: str
    items: int | None = None  # workflows (or jobs, for enrichment)
    unit: str = "wf"
    seconds: float | None = None
    pages: int | None = None
    rss_mib: float | None = None
    reference: str = ""
    ref_value: float | None = None
    ratio: float | None = None
    ratio_kind: str = "x"  # how the ratio reads: "x" (times) or "%" (share of the reference)
    target: str = ""
    met: bool | None = None
    note: str = ""

    @property
    def rate(self) -> float | None:
        if self.items is None or not self.seconds:
            return None
        return self.items / self.seconds

    @property
    def pages_rate(self) -> float | None:
        if self.pages is None or not self.seconds:
            return None
        return self.pages / self.seconds


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    references: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def _num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def _ratio(row: Row) -> str:
    if row.ratio is None:
        return "—"
    if row.ratio_kind == "%":
        return f"{row.ratio * 100:.0f}%"
    return f"{row.ratio:.2f}x"


def _met(row: Row) -> str:
    if row.met is None:
        return ""
    return "yes" if row.met else "NO"


HEADERS = ("path", "setting", "items", "s", "items/s", "pages/s", "peak RSS MiB",
           "reference", "ref items/s", "ratio", "target", "met", "note")  # fmt: skip


def _cells(row: Row) -> list[str]:
    items = "—" if row.items is None else f"{row.items:,} {row.unit}"
    return [
        row.path,
        row.setting,
        items,
        _num(row.seconds, 2),
        _num(row.rate),
        _num(row.pages_rate, 1),
        _num(row.rss_mib),
        row.reference,
        _num(row.ref_value),
        _ratio(row),
        row.target,
        _met(row),
        row.note,
    ]


def render_text(rows: list[Row]) -> str:
    table = [list(HEADERS), *(_cells(r) for r in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADERS))]
    out = []
    for n, line in enumerate(table):
        out.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def render_markdown(rows: list[Row]) -> str:
    out = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    for row in rows:
        out.append("| " + " | ".join(c.replace("|", "/") for c in _cells(row)) + " |")
    return "\n".join(out)


# --------------------------------------------------------------------------- the plan


def _days(sizes: Sizes) -> list[str]:
    return [(START + timedelta(days=i)).isoformat() for i in range(sizes.days)]


def _fetch_parallelism() -> int:
    """Windows (or sub-windows) of the workflow list the sync has in flight at once."""
    from pipeline.core import settings

    return int(getattr(settings, "SYNC_FETCH_CONCURRENCY", 1))


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        import psutil

        memory = f", {psutil.virtual_memory().total / 2**30:.0f} GiB RAM"
    except ImportError:
        pass
    return f"{cpu}, {os.cpu_count()} cores{memory}, Linux {platform.release()}, Python {platform.python_version()}"


def versions() -> str:
    parts = []
    for name in ("duckdb", "pyarrow", "httpx", "dlt"):
        try:
            module = __import__(name)
            parts.append(f"{name} {getattr(module, '__version__', '?')}")
        except ImportError:
            parts.append(f"{name} (not installed)")
    return ", ".join(parts)


class Bench:
    def __init__(self, args: argparse.Namespace, sizes: Sizes, work: Path) -> None:
        self.args = args
        self.sizes = sizes
        self.work = work
        self.report = Report()
        self.results: dict[str, dict[str, Any]] = {}
        from pipeline.core import settings

        self.page_size = settings.PAGE_SIZE
        self.job_concurrency = args.job_concurrency or settings.JOB_CONCURRENCY
        self.job_rate = args.job_rate
        self.token = SimSpec(workflows_per_day=1).token
        self.repeat = args.repeat if args.repeat is not None else (1 if args.quick else 3)

    def log(self, message: str) -> None:
        if not self.args.quiet:
            print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)

    def measure(
        self,
        key: str,
        name: str,
        spec: dict[str, Any],
        *,
        repeat: int = 1,
        fresh: tuple[str, ...] = (),
    ) -> dict[str, Any] | None:
        """Run a path `repeat` times, each in a fresh interpreter; the run of median time,
        with the highest peak RSS of all runs. `fresh` names the spec's directories that
        are emptied before each run, so that every run does the same work."""
        self.log(f"{key} ...")
        started = time.perf_counter()
        runs = []
        for _ in range(max(1, repeat)):
            for name_of_dir in fresh:
                shutil.rmtree(spec[name_of_dir], ignore_errors=True)
            try:
                runs.append(run_path(name, spec, timeout=self.args.path_timeout))
            except PathFailed as exc:
                self.report.failures.append(f"{key}: {exc}")
                self.log(f"{key} FAILED: {exc}")
                return None
        runs.sort(key=lambda run: float(run.get("seconds", 0.0)))
        result = dict(runs[len(runs) // 2])
        result["peak_rss_mib"] = max(run.get("peak_rss_mib", 0.0) for run in runs)
        if len(runs) > 1:
            result["runs"] = len(runs)
            result["spread"] = (runs[0].get("seconds"), runs[-1].get("seconds"))
        errors = [error for run in runs for error in run.get("errors") or []]
        if errors:
            self.report.failures.append(f"{key}: {errors[0]}")
        self.log(
            f"{key}: {result.get('seconds', 0):.2f} s ({time.perf_counter() - started:.1f} s wall)"
        )
        self.results[key] = result
        return result

    def data_dir(self, name: str) -> str:
        path = self.work / name
        if path.exists():
            shutil.rmtree(path)
        return str(path)

    # ------------------------------------------------------------------ the run

    def run(self) -> Report:
        sizes = self.sizes
        days = _days(sizes)
        latency = sizes.latency_ms
        with SimulatorProcess(
            SimSpec(workflows_per_day=sizes.workflows_per_day, days=sizes.days, start=START)
        ) as sim:
            base = {"url": sim.url, "token": self.token, "days": days}
            # 0 ms: our sync against the bare client and dlt, then the offline paths.
            self.measure("warm-up", "bare", base)
            bare0 = self.measure("bare client, 0 ms", "bare", base, repeat=self.repeat)
            d0 = self.data_dir("sync0")
            sync0 = self.measure(
                "sync, jobs off, 0 ms",
                "sync",
                {**base, "data_dir": d0},
                repeat=self.repeat,
                fresh=("data_dir",),
            )
            dlt0 = None
            if self.args.no_dlt:
                self.report.notes.append("dlt skipped (--no-dlt).")
            elif importlib.util.find_spec("dlt") is None:
                self.report.notes.append(
                    "dlt is not installed, so its row is skipped; "
                    "`pip install -e '.[bench]'` (or `make bench`) installs it."
                )
            else:
                dlt0 = self.measure(
                    "dlt, 0 ms", "dlt", {**base, "work_dir": self.data_dir("dlt")},
                    repeat=self.repeat, fresh=("work_dir",),
                )  # fmt: skip
            rebuild = ceiling = publish = bareload = models = None
            if sync0 is not None:
                offline = {**base, "data_dir": d0}
                rebuild = self.measure("rebuild", "rebuild", offline, repeat=self.repeat)
                ceiling = self.measure(
                    "DuckDB columnar ceiling", "ceiling",
                    {**offline, "out_dir": self.data_dir("ceiling")}, repeat=self.repeat, fresh=("out_dir",),
                )  # fmt: skip
                publish = self.measure("warehouse publish", "publish", offline, repeat=self.repeat)
                bareload = self.measure("DuckDB bare load", "bareload", offline, repeat=self.repeat)
                if publish is not None:
                    models = self.measure("SQL models", "models", offline, repeat=self.repeat)

            # With latency: the API-bound paths.
            sim.set_faults(latency_ms=latency)
            bare_l = self.measure(f"bare client, {latency:g} ms", "bare", base, repeat=self.repeat)
            d_l = self.data_dir("sync_latency")
            sync_l = self.measure(
                f"sync, jobs off, {latency:g} ms", "sync", {**base, "data_dir": d_l},
                repeat=self.repeat, fresh=("data_dir",),
            )  # fmt: skip
            # The same request pattern with nothing but the requests: what this server allows.
            chains_l = int(sync_l.get("chains", 1)) if sync_l else _fetch_parallelism()
            bare_lc = self.measure(
                f"bare client, {latency:g} ms, {chains_l} chains", "bare",
                {**base, "chains": chains_l}, repeat=self.repeat,
            )  # fmt: skip
            sync_l1 = self.measure(
                f"sync, jobs off, {latency:g} ms, one chain", "sync",
                {**base, "data_dir": self.data_dir("sync_latency_1"), "chains": 1},
                repeat=self.repeat, fresh=("data_dir",),
            )  # fmt: skip
            jobs = {"job_concurrency": self.job_concurrency, "job_rate": self.job_rate}
            enrich_l = None
            if sync_l is not None:
                enrich_l = self.measure(
                    f"job enrichment, {latency:g} ms", "enrich", {**base, "data_dir": d_l, **jobs}
                )
            sync_jobs = self.measure(
                f"sync, jobs on, {latency:g} ms", "sync",
                {**base, "data_dir": self.data_dir("sync_jobs"), "enrich": True, **jobs},
            )  # fmt: skip
            sim.set_faults(latency_ms=0)

        big = None
        big_rebuild = None
        with SimulatorProcess(
            # Only memory is compared on the big day: no need to pre-build 100,000 answers.
            SimSpec(workflows_per_day=sizes.big_workflows_per_day, days=1, start=START, warm=False)
        ) as sim:
            d_big = self.data_dir("sync_big")
            big_base = {"url": sim.url, "token": self.token, "days": [START.isoformat()]}
            big = self.measure("sync, jobs off, big day", "sync", {**big_base, "data_dir": d_big})
            if big is not None:
                big_rebuild = self.measure(
                    "rebuild, big day", "rebuild", {**big_base, "data_dir": d_big}
                )
        small_rebuild = rebuild
        self._table(
            sync0=sync0, bare0=bare0, dlt0=dlt0, rebuild=rebuild, ceiling=ceiling,
            publish=publish, bareload=bareload, models=models, bare_l=bare_l, sync_l=sync_l,
            sync_l1=sync_l1, bare_lc=bare_lc,
            enrich_l=enrich_l, sync_jobs=sync_jobs, big=big, big_rebuild=big_rebuild,
            small_rebuild=small_rebuild,
        )  # fmt: skip
        return self.report

    # ------------------------------------------------------------------ the rows

    def _table(self, **r: dict[str, Any] | None) -> None:
        sizes = self.sizes
        latency = sizes.latency_ms
        lat_s = latency / 1000.0
        parallel = _fetch_parallelism()
        rows = self.report.rows
        refs = self.report.references

        def row_of(result: dict[str, Any] | None, path: str, setting: str, **kw: Any) -> Row:
            if result is None:
                return Row(path, setting, note="failed", **kw)
            items = kw.pop("items", result.get("workflows"))
            row = Row(
                path, setting, items=items, seconds=result.get("seconds"),
                pages=kw.pop("pages", result.get("pages")), rss_mib=result.get("peak_rss_mib"), **kw,
            )  # fmt: skip
            if result.get("runs"):
                low, high = result["spread"]
                row.note = f"median of {result['runs']} ({low:.2f}-{high:.2f} s)"
            return row

        def ref_rate(result: dict[str, Any] | None, items: int | None) -> float | None:
            if result is None or not result.get("seconds") or not items:
                return None
            return items / result["seconds"]

        small = sizes.workflows_per_day
        per_day = f"{sizes.days} day(s) x {small:,} wf"

        # References first (their rates feed the ratios).
        sync0 = r["sync0"]
        workflows0 = sync0["workflows"] if sync0 else small * sizes.days
        bare0 = r["bare0"]
        bare0_rate = ref_rate(bare0, workflows0)
        refs.append(
            row_of(bare0, "bare client (http.client loop)", f"0 ms, {per_day}", items=workflows0)
        )
        bare_l = r["bare_l"]
        refs.append(
            row_of(
                bare_l,
                "bare client (http.client loop)",
                f"{latency:g} ms, {per_day}",
                items=workflows0,
            )
        )
        bare_lc = r["bare_lc"]
        lc_chains = int(bare_lc.get("chains", parallel)) if bare_lc else parallel
        refs.append(
            row_of(
                bare_lc,
                "bare client (http.client loops)",
                f"{latency:g} ms, probe + {lc_chains} chains, {per_day}",
                items=workflows0,
            )
        )
        dlt0 = r["dlt0"]
        dlt_rate = ref_rate(dlt0, dlt0.get("workflows") if dlt0 else None)
        if dlt0 is not None:
            refs.append(
                row_of(
                    dlt0,
                    f"dlt {dlt0.get('dlt_version', '')} rest_api -> DuckDB",
                    f"0 ms, {per_day}",
                )
            )
        elif self.args.no_dlt or importlib.util.find_spec("dlt") is None:
            refs.append(Row("dlt rest_api -> DuckDB", "skipped", note="not installed"))
        else:
            refs.append(Row("dlt rest_api -> DuckDB", "failed", note="failed"))
        ceiling = r["ceiling"]
        ceiling_rate = ref_rate(ceiling, ceiling.get("workflows") if ceiling else None)
        refs.append(row_of(ceiling, "DuckDB columnar ceiling", "archive -> 5 tables -> Parquet"))
        bareload = r["bareload"]
        bareload_rate = ref_rate(bareload, workflows0)
        refs.append(
            row_of(
                bareload,
                "DuckDB bare load",
                "lake Parquet -> new .duckdb",
                items=workflows0,
                pages=None,
            )
        )
        api_limit = self.page_size / lat_s * parallel if lat_s else None
        job_limit = min(self.job_concurrency / lat_s, self.job_rate) if lat_s else self.job_rate
        refs.append(Row("API-bound limit, workflow list", f"{self.page_size}/{latency:g} ms x {parallel} in parallel",
                        reference="", ref_value=api_limit))  # fmt: skip
        refs.append(Row("API-bound limit, job lookups",
                        f"min({self.job_concurrency}/{latency:g} ms, {self.job_rate:g}/s)",
                        unit="jobs", ref_value=job_limit))  # fmt: skip

        # Ours.
        row = row_of(sync0, "sync, jobs off", f"0 ms, {per_day}")
        if dlt_rate and row.rate:
            row.reference, row.ref_value, row.ratio = "dlt", dlt_rate, row.rate / dlt_rate
            row.target, row.met = ">= 10x", row.ratio >= 10
        elif dlt0 is None:
            row.reference, row.note = "dlt (skipped)", "dlt not measured"
        rows.append(row)
        row = row_of(sync0, "sync, jobs off", f"0 ms, {per_day}")
        row.reference, row.ref_value = "bare client 0 ms", bare0_rate
        if bare0_rate and row.rate:
            row.ratio, row.ratio_kind = row.rate / bare0_rate, "%"
            row.target, row.met = ">= 50%", row.ratio >= 0.5
        rows.append(row)

        for key, label in (("sync_l", ""), ("sync_l1", ", one chain")):
            result = r[key]
            chains = int(result.get("chains", parallel)) if result else parallel
            limit = self.page_size / lat_s * chains if lat_s else None
            row = row_of(result, "sync, jobs off", f"{latency:g} ms{label}, {per_day}")
            row.reference = f"API-bound limit, {chains} chain(s)"
            row.ref_value = limit
            if limit and row.rate:
                row.ratio, row.ratio_kind = row.rate / limit, "%"
                row.target, row.met = ">= 90%", row.ratio >= 0.9
            rows.append(row)
            # The same figure against what a bare client gets from this server with the same
            # requests: the formula above leaves out each page's transfer and the probe.
            bare = bare_lc if chains > 1 else bare_l
            bare_rate = ref_rate(bare, workflows0)
            row = row_of(result, "sync, jobs off", f"{latency:g} ms{label}, {per_day}")
            row.reference = f"bare client, {chains} chain(s)"
            row.ref_value = bare_rate
            if bare_rate and row.rate:
                row.ratio, row.ratio_kind = row.rate / bare_rate, "%"
            rows.append(row)

        enrich_l = r["enrich_l"]
        row = row_of(enrich_l, "job enrichment", f"{latency:g} ms, {self.job_concurrency} in flight",
                     items=enrich_l.get("looked_up") if enrich_l else None, unit="jobs", pages=None)  # fmt: skip
        row.reference, row.ref_value = "API-bound limit", job_limit
        if job_limit and row.rate:
            row.ratio, row.ratio_kind = row.rate / job_limit, "%"
            row.target, row.met = ">= 80%", row.ratio >= 0.8
        rows.append(row)

        sync_jobs = r["sync_jobs"]
        row = row_of(sync_jobs, "sync, jobs on", f"{latency:g} ms, {per_day}")
        if sync_jobs and api_limit and job_limit:
            bound_s = sync_jobs["workflows"] / api_limit + sync_jobs.get("looked_up", 0) / job_limit
            row.reference, row.ref_value = "API-bound limit", sync_jobs["workflows"] / bound_s
            if row.rate:
                row.ratio, row.ratio_kind = row.rate / row.ref_value, "%"
        rows.append(row)

        row = row_of(r["rebuild"], "rebuild", f"from archive, {per_day}")
        row.reference, row.ref_value = "DuckDB ceiling", ceiling_rate
        if ceiling_rate and row.rate:
            row.ratio, row.ratio_kind = row.rate / ceiling_rate, "%"
            row.target, row.met = ">= 50%", row.ratio >= 0.5
        rows.append(row)

        row = row_of(
            r["publish"],
            "warehouse publish",
            "lake -> warehouse.duckdb",
            items=workflows0,
            pages=None,
        )
        row.reference, row.ref_value = "DuckDB bare load", bareload_rate
        if bareload_rate and row.rate:
            row.ratio, row.ratio_kind = row.rate / bareload_rate, "%"
        rows.append(row)

        models = r["models"]
        row = row_of(models, "SQL models", f"{models.get('models', 0) if models else '?'} models",
                     items=workflows0, pages=None)  # fmt: skip
        rows.append(row)

        big = r["big"]
        big_day = f"0 ms, 1 day x {sizes.big_workflows_per_day:,} wf"
        row = row_of(big, "sync, jobs off", big_day)
        if big and sync0 and sync0.get("peak_rss_mib"):
            small_rss = sync0["peak_rss_mib"]
            row.reference = f"RSS of {small:,}-wf day"
            row.ratio = big["peak_rss_mib"] / small_rss
            row.target = "RSS <= 1.2x, < 500 MiB"
            row.met = row.ratio <= 1.2 and big["peak_rss_mib"] < 500
            row.note = f"{small_rss:.0f} MiB -> {big['peak_rss_mib']:.0f} MiB"
        rows.append(row)
        big_rebuild, small_rebuild = r["big_rebuild"], r["small_rebuild"]
        row = row_of(big_rebuild, "rebuild", f"1 day x {sizes.big_workflows_per_day:,} wf")
        if big_rebuild and small_rebuild and small_rebuild.get("peak_rss_mib"):
            row.reference = f"RSS of {small:,}-wf day"
            row.ratio = big_rebuild["peak_rss_mib"] / small_rebuild["peak_rss_mib"]
            row.target = "RSS <= 1.2x, < 500 MiB"
            row.met = row.ratio <= 1.2 and big_rebuild["peak_rss_mib"] < 500
        rows.append(row)


def _print_report(bench: Bench, report: Report, command: str, seconds: float) -> str:
    lines = [
        "Benchmark: civitai-orchestration-sync",
        f"command:  {command}",
        f"machine:  {machine()}",
        f"versions: {versions()}",
        f"date:     {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; total {seconds:.0f} s",
        f"sizes:    {bench.sizes.days} day(s) x {bench.sizes.workflows_per_day:,} workflows; "
        f"big day {bench.sizes.big_workflows_per_day:,}; latency {bench.sizes.latency_ms:g} ms; "
        f"page size {bench.page_size}; jobs: {bench.job_concurrency} in flight, "
        f"rate budget {bench.job_rate:g}/s",
        "",
        "Our paths:",
        render_text(report.rows),
        "",
        "Reference points (same run, same simulator, same data):",
        render_text(report.references),
    ]
    if report.notes:
        lines += ["", *(f"note: {n}" for n in report.notes)]
    if report.failures:
        lines += ["", "FAILED:", *(f"  {f}" for f in report.failures)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes (used by `make test`)")
    parser.add_argument("--workflows-per-day", type=int, help="workflows per day (default 10,000)")
    parser.add_argument(
        "--big-workflows-per-day", type=int, help="the memory-check day (default 100,000)"
    )
    parser.add_argument("--days", type=int, help="days synced (default 1)")
    parser.add_argument("--latency-ms", type=float, help="simulated API latency (default 20)")
    parser.add_argument(
        "--job-concurrency",
        type=int,
        default=None,
        help="job lookups in flight (default settings.JOB_CONCURRENCY)",
    )
    parser.add_argument(
        "--job-rate",
        type=float,
        default=1000.0,
        help="job lookup rate budget, requests/s (default 1000)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="runs of each short path and reference, median reported (default 3; 1 with --quick)",
    )
    parser.add_argument("--no-dlt", action="store_true", help="skip the dlt reference")
    parser.add_argument("--path-timeout", type=float, default=900.0, help="seconds per path")
    parser.add_argument("--markdown", type=Path, help="also write the tables as Markdown here")
    parser.add_argument("--json", type=Path, help="also write the raw results as JSON here")
    parser.add_argument("--work-dir", type=Path, help="keep the data here (default: a temp dir)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)  # fmt: skip

    base = QUICK if args.quick else DEFAULT
    sizes = Sizes(
        workflows_per_day=args.workflows_per_day or base.workflows_per_day,
        big_workflows_per_day=args.big_workflows_per_day or base.big_workflows_per_day,
        days=args.days or base.days,
        latency_ms=base.latency_ms if args.latency_ms is None else args.latency_ms,
    )
    command = "python -m benchmarks.run" + (
        " " + shlex.join(argv if argv is not None else sys.argv[1:])
        if (argv if argv is not None else sys.argv[1:])
        else ""
    )
    started = time.perf_counter()
    cleanup: Callable[[], None] = lambda: None  # noqa: E731
    if args.work_dir:
        work = args.work_dir
        work.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="civitai-bench-")
        work = Path(tmp.name)
        cleanup = tmp.cleanup
    try:
        bench = Bench(args, sizes, work)
        report = bench.run()
    finally:
        cleanup()
    text = _print_report(bench, report, command, time.perf_counter() - started)
    print(text, flush=True)
    if args.markdown:
        args.markdown.write_text(
            "Our paths:\n\n" + render_markdown(report.rows)
            + "\n\nReference points:\n\n" + render_markdown(report.references) + "\n"
        )  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(bench.results, indent=2, default=str))
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
