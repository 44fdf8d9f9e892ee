"""The operator's commands against a simulator on 127.0.0.1 and a real data dir: `status
--json`, `sync --dry-run`, the run's figures and progress lines, logging, exit statuses.

Expected figures come from the simulator's own request counters and from the Delta tables'
logs, never from the pipeline's summary code.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from deltalake import DeltaTable

from pipeline.cli.app import cli
from pipeline.core.settings import Settings
from pipeline.fetch.windows import utc_today
from pipeline.lake.ledger import Ledger
from pipeline.lake.store import Lake
from pipeline.runs import guard as window_guard_module
from simulator import Faults, SimulatorServer

PER_DAY = 40
CLI = str(Path(sys.executable).with_name("civitai-sync"))


@pytest.fixture
def recent(make_simulator) -> SimulatorServer:
    """Three simulated days ending yesterday, so that lag and the nightly run mean something."""
    return make_simulator(start=utc_today() - timedelta(days=3), days=3, workflows_per_day=PER_DAY)


@pytest.fixture
def env(recent: SimulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)  # no stray .env
    return {
        "CIVITAI_API_URL": recent.url,
        "CIVITAI_API_TOKEN": recent.config.token,
        "CIVITAI_SYNC_DATA_DIR": str(tmp_path / "data"),
        "CIVITAI_SYNC_LOG_LEVEL": "",
    }


def invoke(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=env)


def status_json(env: dict[str, str]) -> dict[str, Any]:
    shown = invoke(env, "status", "--json")
    assert shown.exit_code == 0, shown.output
    return json.loads(shown.stdout)


def tree(root: Path) -> dict[str, str]:
    """Every file under `root` with a hash of its content."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def logfmt(stderr: str) -> list[dict[str, str]]:
    records = []
    for line in stderr.splitlines():
        assert line.startswith("ts="), f"not a log line: {line!r}"
        records.append(dict(part.partition("=")[::2] for part in shlex.split(line)))
    return records


# --------------------------------------------------------------------------- status --json


def test_status_json_has_windows_versions_lag_failures_and_gaps(
    recent: SimulatorServer, env: dict[str, str]
) -> None:
    first, middle, yesterday = recent.account.days
    synced = invoke(env, "sync", "--from", str(first), "--to", str(first))
    assert synced.exit_code == 0, synced.output
    lists_for_first = recent.stats.snapshot()["requests"]["workflows.list"]

    document = status_json(env)
    assert document["ok"] is False  # yesterday is missing
    assert document["lag_days"] == (yesterday - first).days == 2
    assert document["last_complete_day"] == str(first)
    (window,) = document["windows"]
    assert window["window_date"] == str(first) and window["status"] == "complete"
    assert window["workflows"] == len(list(recent.account.workflows(first)))
    assert window["requests"] == lists_for_first and window["rate_limited"] == 0
    lake = Path(env["CIVITAI_SYNC_DATA_DIR"]) / "lake"
    # The only commits so far are this window's: each table's latest version is the live one.
    expected = {t: DeltaTable(str(lake / t)).version() for t in window["versions"]}
    assert window["versions"] == expected
    assert {"workflows", "steps", "jobs", "blobs", "transactions", "job_details"} <= set(expected)
    assert window["synced_at"].endswith("Z") and window["error"] is None

    # Yesterday fails (a page the server breaks): exit status 1, and status says so.
    recent.faults.malformed_pages = frozenset({1})
    failed = invoke(env, "sync", "--from", str(yesterday), "--to", str(yesterday), "--no-jobs")
    assert failed.exit_code == 1
    assert f"1 window(s) failed: {yesterday}" in failed.output
    document = status_json(env)
    assert document["failed_windows"] == [str(yesterday)]
    assert document["gaps"] == [str(middle)]
    assert document["counts"] == {
        "complete": 1,
        "partial": 0,
        "failed": 1,
        "running": 0,
        "interrupted": 0,
    }
    assert document["lag_days"] == 2 and document["ok"] is False
    failed_window = document["windows"][-1]
    assert failed_window["status"] == "failed" and "page 1" in failed_window["error"]
    assert failed_window["published"] is False and failed_window["versions"] == {}

    recent.faults.malformed_pages = frozenset()
    backfill = invoke(env, "sync", "--from", str(middle), "--no-jobs")  # --to: yesterday
    assert backfill.exit_code == 0, backfill.output
    document = status_json(env)
    assert document["ok"] is True and document["lag_days"] == 0
    assert document["failed_windows"] == [] and document["gaps"] == []

    table = invoke(env, "status")
    assert table.exit_code == 0
    assert f"wf{expected['workflows']} " in table.stdout and "versions:" in table.stdout


def test_status_with_no_data_and_on_a_data_dir_it_may_not_write(
    recent: SimulatorServer, env: dict[str, str], tmp_path: Path
) -> None:
    missing = {**env, "CIVITAI_SYNC_DATA_DIR": str(tmp_path / "never-created")}
    shown = invoke(missing, "status", "--json")
    assert shown.exit_code == 0
    document = json.loads(shown.stdout)
    assert document["windows"] == [] and document["lag_days"] is None and document["ok"] is False
    assert invoke(missing, "status").stdout.startswith("Nothing synced yet")
    assert not (tmp_path / "never-created").exists()

    day = recent.account.days[0]
    assert invoke(env, "sync", "--from", str(day), "--to", str(day), "--no-jobs").exit_code == 0
    # A sync that died: its `started` event and nothing after.
    Ledger(Lake.from_settings(Settings(data_dir=Path(env["CIVITAI_SYNC_DATA_DIR"])))).start(
        recent.account.days[1], run_id="killed"
    )
    # A copy owned by root that the `nobody` user may read but not write.
    shared = Path(tempfile.mkdtemp(prefix="ro-status-"))
    try:
        shared.chmod(0o755)
        data = shared / "data"
        shutil.copytree(env["CIVITAI_SYNC_DATA_DIR"], data)
        before = tree(data)
        as_other_user = os.geteuid() == 0
        if not as_other_user:
            for path in [data, *data.rglob("*")]:
                path.chmod(path.stat().st_mode & ~0o222)
        run_env = {**os.environ, **env, "CIVITAI_SYNC_DATA_DIR": str(data), "HOME": str(shared)}
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        for args in (["status", "--json"], ["status"]):
            proc = subprocess.run(
                [*(prefix if as_other_user else []), CLI, *args],
                cwd=shared,
                env=run_env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert proc.returncode == 0, proc.stderr
            assert "Traceback" not in proc.stderr
        document = json.loads(
            subprocess.run(
                [*(prefix if as_other_user else []), CLI, "status", "--json"],
                cwd=shared,
                env=run_env,
                capture_output=True,
                text=True,
                timeout=120,
                check=True,
            ).stdout
        )
        statuses = [w["status"] for w in document["windows"]]
        assert statuses[0] == "complete" and statuses[1] in ("running", "interrupted")
        assert tree(data) == before
    finally:
        for path in [shared, *shared.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        shutil.rmtree(shared)


# --------------------------------------------------------------------------- dry run


def test_dry_run_says_why_without_a_request_or_a_write(
    recent: SimulatorServer, env: dict[str, str]
) -> None:
    first, middle, yesterday = recent.account.days
    data = Path(env["CIVITAI_SYNC_DATA_DIR"])
    assert invoke(env, "sync", "--from", str(first), "--to", str(first)).exit_code == 0
    recent.faults.malformed_pages = frozenset({1})
    assert invoke(env, "sync", "--from", str(yesterday), "--to", str(yesterday)).exit_code == 1
    recent.faults.malformed_pages = frozenset()
    Ledger(Lake.from_settings(Settings(data_dir=data))).start(middle, run_id="killed")
    requests = recent.stats.total
    before = tree(data)

    nightly = invoke(env, "sync", "--dry-run")
    assert nightly.exit_code == 0, nightly.output
    lines = {
        line.split("│")[1].strip(): line for line in nightly.stdout.splitlines() if "│" in line
    }
    assert "lookback" in lines[str(first)] and "complete" in lines[str(first)]
    assert "interrupted" in lines[str(middle)]
    assert "failed" in lines[str(yesterday)] and "page 1" in lines[str(yesterday)]

    today = utc_today()
    ranged = invoke(
        {**env, "CIVITAI_API_TOKEN": ""},
        "sync",
        "--dry-run",
        "--json",
        "--from",
        str(first - timedelta(days=1)),
        "--to",
        str(today),
    )
    assert ranged.exit_code == 0, ranged.output
    plan = json.loads(ranged.stdout)
    assert plan["form"] == "range" and plan["token_set"] is False
    reasons = {w["window_date"]: w["reason"] for w in plan["windows"]}
    assert reasons == {
        str(first - timedelta(days=1)): "missing",
        str(first): "requested",
        str(middle): "interrupted",
        str(yesterday): "failed",
        str(today): "missing",
    }
    assert recent.stats.total == requests
    assert tree(data) == before
    future = invoke(env, "sync", "--dry-run", "--from", str(today + timedelta(days=1)))
    assert future.exit_code == 2 and "future" in future.output


# --------------------------------------------------------------------------- the run's figures


def test_summary_figures_are_the_servers_and_the_ledger_keeps_them(
    recent: SimulatorServer, env: dict[str, str]
) -> None:
    recent.faults.rate_429 = 0.05
    recent.faults.retry_after = "0"
    recent.faults.routes = frozenset({"jobs.get"})
    first, middle, _ = recent.account.days
    result = invoke(env, "--log-level", "info", "sync", "--from", str(first), "--to", str(middle))
    assert result.exit_code == 0, result.output
    served = recent.stats.snapshot()
    lists, lookups = served["requests"]["workflows.list"], served["requests"]["jobs.get"]
    assert served["status_429"] > 0  # the seed gives some 429s at this rate

    fetch = re.search(
        r"fetch: ([\d,]+) pages, ([\d,]+) workflows, ([\d,]+) requests, "
        r"([\d,]+) answered 429, ([\d.]+) requests/s in ([\d.]+) s",
        result.stdout,
    )
    enrichment = re.search(
        r"enrichment: ([\d,]+) jobs looked up, ([\d,]+) requests, "
        r"([\d,]+) answered 429, ([\d.]+) requests/s in ([\d.]+) s",
        result.stdout,
    )
    assert fetch and enrichment, result.stdout
    number = lambda text: int(text.replace(",", ""))  # noqa: E731
    assert number(fetch[3]) == lists and number(fetch[4]) == 0
    assert number(fetch[2]) == 2 * PER_DAY
    assert number(enrichment[2]) == lookups and number(enrichment[3]) == served["status_429"]
    jobs = {
        job["id"]
        for day in (first, middle)
        for workflow in recent.account.workflows(day)
        for step in workflow.get("steps") or []
        for job in step.get("jobs") or []
    }
    assert number(enrichment[1]) == len(jobs)
    assert float(enrichment[5]) > 0 and float(enrichment[4]) > 0

    ledger = Ledger(Lake.from_settings(Settings(data_dir=Path(env["CIVITAI_SYNC_DATA_DIR"]))))
    rows = ledger.rows([first, middle])
    assert sum(r.requests or 0 for r in rows) == lists
    assert all(r.rate_limited == 0 for r in rows)

    records = logfmt(result.stderr)
    token = env["CIVITAI_API_TOKEN"]
    assert token not in result.stderr and token not in result.stdout
    done = [r for r in records if r["msg"] == "window complete"]
    assert [r["window"] for r in done] == [str(first), str(middle)]
    enriching = [r for r in records if r["msg"] == "enriching"]
    assert enriching and all("eta_s" in r and "total" in r for r in enriching)
    assert {r["done"] for r in enriching if r["done"] == r["total"]}  # the last lookup is logged
    (finished,) = [r for r in records if r["msg"] == "run finished"]
    assert int(finished["requests"]) == lists and int(finished["enrich_requests"]) == lookups


# --------------------------------------------------------------------------- exit statuses


def test_exit_statuses(
    recent: SimulatorServer, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    day = recent.account.days[0]
    assert invoke(env, "sync", "--from", "2026-02-30").exit_code == 2
    assert invoke(env, "sync", "--json").exit_code == 2
    assert invoke(env, "status", "--log-level", "loud").exit_code == 2
    no_token = invoke({**env, "CIVITAI_API_TOKEN": ""}, "sync", "--from", str(day))
    assert no_token.exit_code == 1 and "CIVITAI_API_TOKEN" in no_token.output

    # Another process holds the window: the sync leaves it alone and exits 3.
    settings = Settings(data_dir=Path(env["CIVITAI_SYNC_DATA_DIR"]))
    monkeypatch.setattr(window_guard_module, "LOCK_TIMEOUT_SECONDS", 0.3)
    with window_guard_module.window_lock(settings, day):
        busy = invoke(env, "sync", "--from", str(day), "--to", str(day), "--no-jobs")
    assert busy.exit_code == 3, busy.output
    assert "left to another process" in busy.output and "busy" in busy.stdout
    assert Ledger(Lake.from_settings(settings)).get(day) is None  # nothing recorded for it
    assert invoke(env, "sync", "--from", str(day), "--to", str(day), "--no-jobs").exit_code == 0


def test_ctrl_c_exits_130(make_simulator, tmp_path: Path) -> None:
    server = make_simulator(
        start=utc_today() - timedelta(days=3),
        days=3,
        workflows_per_day=PER_DAY,
        faults=Faults(latency_ms=300, page_size_clamp=5),
    )
    env = {
        **os.environ,
        "CIVITAI_API_URL": server.url,
        "CIVITAI_API_TOKEN": server.config.token,
        "CIVITAI_SYNC_DATA_DIR": str(tmp_path / "data"),
    }
    proc = subprocess.Popen(
        [CLI, "sync", "--no-jobs"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A test run in the background of a script inherits SIGINT ignored; the CLI must not.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 60
        while server.stats.snapshot()["requests"].get("workflows.list", 0) < 2:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Interrupted" in err and "Traceback" not in err


# --------------------------------------------------------------------------- help and options


def _commands(group: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    for name, command in group.commands.items():
        yield (*prefix, name), command
        if hasattr(command, "commands"):
            yield from _commands(command, (*prefix, name))


OPERATOR_COMMANDS = {
    ("sync",),
    ("rebuild",),
    ("status",),
    ("demo",),
    ("forget",),
    ("maintain",),
    ("upgrade",),
    ("report",),
    ("report", "moderation"),
    ("report", "usage"),
    ("report", "flagged"),
    ("report", "models"),
    ("simulator",),
    ("simulator", "serve"),
}


def test_every_command_takes_log_options_and_operator_commands_show_an_example() -> None:
    runner = CliRunner()
    seen = set()
    for path, _ in _commands(cli):
        seen.add(path)
        shown = runner.invoke(cli, [*path, "--help"])
        assert shown.exit_code == 0, path
        assert "--log-level" in shown.stdout and "-v, --verbose" in shown.stdout, path
        if path in OPERATOR_COMMANDS:
            assert "Example" in shown.stdout and "civitai-sync " in shown.stdout, path
    assert seen >= OPERATOR_COMMANDS
    root = runner.invoke(cli, ["--help"]).stdout
    for code in ("0 ", "1 ", "2 ", "3 ", "130"):
        assert f"\n    {code}" in root
    assert "busy" in root


def test_verbosity_before_or_after_the_command(env: dict[str, str]) -> None:
    for args in (["-vv", "status"], ["status", "-v"], ["--log-level", "debug", "status"]):
        result = invoke(env, *args)
        assert result.exit_code == 0, (args, result.output)


# --------------------------------------------------------------------------- small things


def test_report_headings_show_the_days_the_report_covers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.handmade_warehouse import DAY1, DAY2, build_handmade_warehouse

    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    build_handmade_warehouse(tmp_path / "data" / "warehouse.duckdb")
    env = {"CIVITAI_SYNC_DATA_DIR": str(tmp_path / "data")}
    whole = invoke(env, "report", "usage")
    assert whole.exit_code == 0, whole.output
    heading = whole.stdout.splitlines()[0]
    assert f"{DAY1} .. {DAY2}" in heading and "first day" not in heading
    later = invoke(env, "report", "moderation", "--from", str(DAY2))
    assert f"{DAY2} .. {DAY2}" in later.stdout.splitlines()[0]
    empty = invoke(env, "report", "usage", "--from", "2030-01-01")
    assert "2030-01-01 .. (no data)" in empty.stdout.splitlines()[0]


def test_simulator_serve_ends_yesterday_by_default(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [CLI, "simulator", "serve", "--port", "0", "--days", "4", "--workflows-per-day", "5"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(2)]
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    today = utc_today()
    assert f"from {today - timedelta(days=4)} to {today - timedelta(days=1)}" in lines[1], lines
