"""The project as a user installs it: a wheel built from the sources, installed into a fresh venv
with the locked versions (constraints.txt), run from a directory far from the checkout.

A simulator served by the installed command, a one-day sync against it, the usage report, the
SQL shell and the HTML page prove that the SQL models and the page's templates ship inside the
package: an install without them would build no report tables and draw no page.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import zipfile
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from simulator import SimulatedAccount, SimulatorConfig

ROOT = Path(__file__).resolve().parents[2]
DAY = date(2026, 11, 1)
CONFIG = SimulatorConfig(seed=7, start=DAY, days=1, workflows_per_day=50, running_share=0.0)


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 600) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{args}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _source_copy(into: Path) -> Path:
    """The checkout's files (tracked and new, not ignored) copied with their symlinks."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source, target = ROOT / name, into / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the work tree, not yet committed
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, target)
    return into


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the simulator exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    pytest.fail("the simulator did not listen within 60 s")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("wheel")
    source = _source_copy(where / "src")
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", "dist", str(source)],
        where,
        env,
    )
    [built] = (where / "dist").glob("civitai_orchestration_sync-*.whl")
    return built


def test_the_wheel_holds_every_sql_model_and_template(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    models = {f"pipeline/sql/{p.relative_to(ROOT / 'sql')}" for p in (ROOT / "sql").rglob("*.sql")}
    assert len(models) > 20
    assert models <= names, sorted(models - names)
    templates = {
        f"pipeline/reports/html/templates/{p.name}"
        for p in (ROOT / "pipeline" / "reports" / "html" / "templates").iterdir()
    }
    assert templates and templates <= names, sorted(templates - names)
    assert {n.split("/")[0] for n in names if not n.startswith("civitai_")} == {
        "pipeline",
        "assets",
        "simulator",
    }


def test_installed_wheel_serves_syncs_and_reports(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], tmp_path, dict(os.environ))
    bin_dir = venv / "bin"
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    }
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    pip = [str(bin_dir / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    _run([*pip, "-c", str(ROOT / "constraints.txt"), str(wheel)], tmp_path, env, timeout=900)

    work = tmp_path / "elsewhere"  # no checkout here: no sql/, no .env, no pipeline/
    work.mkdir()
    where = _run(
        [str(bin_dir / "python"), "-c", "import pipeline; print(pipeline.__file__)"], work, env
    )
    assert Path(where.strip()).is_relative_to(venv), where

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env.update(
        CIVITAI_API_URL=url,
        CIVITAI_API_TOKEN=CONFIG.token,
        CIVITAI_SYNC_DATA_DIR=str(tmp_path / "data"),
    )
    cli = str(bin_dir / "civitai-sync")
    serve = [
        *(cli, "simulator", "serve", "--port", str(port), "--seed", str(CONFIG.seed)),
        *("--start", DAY.isoformat(), "--days", "1", "--running-share", "0"),
        *("--workflows-per-day", str(CONFIG.workflows_per_day), "--token", CONFIG.token),
    ]
    log = tmp_path / "simulator.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            serve,
            cwd=work,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            # stopped with Ctrl-C's signal below, even when this run inherited SIGINT ignored
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
    try:
        _wait_for_port(port, server)
        day = DAY.isoformat()
        _run([cli, "sync", "--from", day, "--to", day], work, env)
        usage = json.loads(
            _run(
                [cli, "report", "usage", "--from", day, "--to", day, "--format", "json"], work, env
            )
        )
        count = _run(
            [cli, "sql", "--format", "csv", "-c", "select count(*) as n from workflows"], work, env
        )
        _run([cli, "report", "html", "--out", str(tmp_path / "page.html")], work, env)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()

    truth = Counter(w["status"] for w in SimulatedAccount(CONFIG).workflows(DAY))
    [row] = usage["sections"]["rpt_usage_daily"]
    assert row["day"] == day
    assert row["workflows"] == CONFIG.workflows_per_day == sum(truth.values())
    assert {s: row[s] for s in truth} == dict(truth)
    assert count.splitlines() == ["n", str(CONFIG.workflows_per_day)]
    page = (tmp_path / "page.html").read_text()  # drawn from the installed templates
    assert 'data-chart="workflows_by_status"' in page and 'data-metric="workflows"' in page
