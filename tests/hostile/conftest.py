"""What every hostile test shares: a small simulator of three days, a first good sync of them
(the "previous data" a hostile run must leave intact), the CLI run against a proxy, and the
checks each test ends with.

The expected rows are the simulator's ground truth (tests/integration/test_sync.py computes
them from the simulator's account, never with the pipeline's own flattening).
"""

from __future__ import annotations

import bz2
import gzip
import os
import shutil
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from pipeline.cli import exits
from pipeline.cli.app import cli
from pipeline.core.settings import Settings
from pipeline.lake.ledger import Ledger
from pipeline.lake.store import Lake
from pipeline.warehouse.publish import publish_warehouse
from simulator import Faults, SimulatorConfig, SimulatorServer
from tests.integration.test_sync import assert_matches_truth, run_sync, snapshot

TOKEN = "sk-hostile-0123456789abcdef"
DAYS = 3
PER_DAY = 30
PAGE = 10  # three list pages a day, so that a fault can sit on the second one


@dataclass
class Synced:
    """A data dir that already holds a good sync of every day of `server`."""

    server: SimulatorServer
    data_dir: Path
    days: list[date]
    before: dict[Any, Any]  # the lake's rows of every day after the good sync

    @property
    def env(self) -> dict[str, str]:
        return cli_env(self.server.url, self.data_dir)

    def publish(self) -> None:
        """Publish the warehouse of this copy (its views name the lake files by their
        absolute paths, so the template's warehouse reads the template's lake)."""
        publish_warehouse(Settings(data_dir=self.data_dir), build_models=False)

    def ledger_status(self) -> dict[date, tuple[str, str | None]]:
        rows = Ledger(Lake.from_settings(Settings(data_dir=self.data_dir))).rows()
        return {r.window_date: (r.status, r.error) for r in rows}

    def assert_intact(self, untouched: Iterable[date] = ()) -> None:
        """Every day's lake rows are those of the good sync and the truth; the `untouched`
        days' rows are the very same (their sync time too: nothing rewrote them)."""
        now = snapshot(self.data_dir, self.days, drop=())
        for key, rows in now.items():
            if key[1] in untouched:
                assert rows == self.before[key], key
            else:
                assert _without_sync_time(rows) == _without_sync_time(self.before[key]), key
        assert_matches_truth(self.server, self.data_dir, self.days)


def _without_sync_time(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k != "synced_at"} for row in rows]


def cli_env(url: str, data_dir: Path, token: str = TOKEN) -> dict[str, str]:
    return {
        "CIVITAI_API_URL": url,
        "CIVITAI_API_TOKEN": token,
        "CIVITAI_SYNC_DATA_DIR": str(data_dir),
    }


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # No .env of the developer's, no shared rate budget, no log level from outside.
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("CIVITAI_", "DAGSTER_")):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def sim() -> Iterator[SimulatorServer]:
    """One simulator for the module's tests: its answers never change (a test's faults live
    in its own proxy), so each test can start from a copy of one good sync."""
    config = SimulatorConfig(
        days=DAYS, workflows_per_day=PER_DAY, token=TOKEN, faults=Faults(page_size_clamp=PAGE)
    )
    server = SimulatorServer(config).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def _good_sync(sim: SimulatorServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("good") / "data"
    results = run_sync(sim, data_dir, sim.account.days)
    assert [r.status for r in results] == ["complete"] * DAYS
    publish_warehouse(Settings(data_dir=data_dir))
    return data_dir


@pytest.fixture
def synced(sim: SimulatorServer, _good_sync: Path, tmp_path: Path) -> Synced:
    """A data dir of this test's own holding the good sync of every day."""
    data_dir = tmp_path / "data"
    shutil.copytree(_good_sync, data_dir, symlinks=True)
    days = list(sim.account.days)
    return Synced(sim, data_dir, days, snapshot(data_dir, days, drop=()))


def run_cli(args: Sequence[str], env: dict[str, str]) -> Result:
    """The command in this process, as a user runs it; stderr apart from stdout."""
    return CliRunner().invoke(cli, list(args), env=env)


def sync_args(days: Sequence[date], *more: str) -> list[str]:
    return ["sync", "--from", str(days[0]), "--to", str(days[-1]), "--no-jobs", *more]


def assert_clean_failure(result: Result, code: int = exits.FAILED) -> str:
    """The command ended with `code` and said why on stderr in clear lines, no traceback.
    Returns stderr."""
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    # click's runner turns an escaped exception into exit 1 with `exception` set: a traceback.
    assert isinstance(result.exception, SystemExit | None), repr(result.exception)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    assert result.stderr.strip(), "no message on stderr"
    return result.stderr


def assert_window_failed_alone(synced: Synced, result: Result, bad: date, *words: str) -> str:
    """`bad` failed with a message holding `words` (in the ledger and on stderr, on one line),
    the other days are complete, and every day's data is that of the good sync."""
    stderr = assert_clean_failure(result)
    status = synced.ledger_status()
    assert status[bad][0] == "failed", status
    error = status[bad][1] or ""
    assert "\n" not in error and str(bad) in error, error
    for word in words:
        assert word.lower() in error.lower(), (word, error)
    lines = [line for line in stderr.splitlines() if str(bad) in line]
    assert lines, stderr
    assert {d: s for d, (s, _) in status.items() if d != bad} == {
        d: "complete" for d in synced.days if d != bad
    }
    synced.assert_intact(untouched=[bad])
    assert_no_secret_at_rest(synced.data_dir, result.stdout + result.stderr)
    return error


# --------------------------------------------------------------------------- secrets at rest


def _text_of(path: Path) -> bytes:
    """What a file holds once decoded: Parquet and DuckDB files are compressed on disk, so a
    secret in them is looked for in their rows, not in their bytes."""
    if path.suffix == ".parquet":
        return orjson.dumps(pq.read_table(path).to_pylist(), default=str)
    if path.suffix == ".duckdb":
        out = []
        with duckdb.connect(str(path), read_only=True) as con:
            tables = con.execute(
                "select table_schema, table_name from information_schema.tables "
                "where table_type = 'BASE TABLE'"
            ).fetchall()
            for schema, name in tables:
                rows = con.execute(f'select * from "{schema}"."{name}"').fetchall()
                out.append(repr(rows).encode())
            sql = con.execute("select sql from duckdb_views() where sql is not null").fetchall()
            out.append(repr(sql).encode())
        return b"\n".join(out)
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)
    if data[:3] == b"BZh":
        return bz2.decompress(data)
    if data[:4] == b"\x28\xb5\x2f\xfd":
        with pa.input_stream(str(path), compression="zstd") as stream:
            return stream.read()
    return data


def written_files(roots: Iterable[Path]) -> list[Path]:
    return [p for root in roots if root.exists() for p in sorted(root.rglob("*")) if p.is_file()]


def assert_no_secret_at_rest(
    data_dir: Path, output: str = "", *, token: str = TOKEN, more: Iterable[Path] = ()
) -> None:
    """Neither the token nor a signed-URL query string (`sig=`) is in any file under the data
    dir (and `more`: Dagster storage, logs), nor in what the command printed."""
    files = written_files([data_dir, *more])
    assert files, f"nothing written under {data_dir}"
    for path in files:
        text = _text_of(path)
        assert token.encode() not in text, f"the token is stored in {path}"
        assert b"sig=" not in text, f"a signed URL is stored in {path}"
    assert token not in output and "sig=" not in output
