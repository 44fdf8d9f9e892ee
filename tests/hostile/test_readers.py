"""An analyst holds warehouse.duckdb open in another process (read-only, or read-write) while a
sync publishes: the sync succeeds, the reader keeps its snapshot, and nothing it leaves behind
(a write-ahead log of the replaced file, even after it crashed) breaks the next open."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipeline.core.settings import Settings
from tests.hostile.conftest import DAYS, PER_DAY, Synced, run_cli, sync_args

# A reader in its own process: opens the warehouse, answers "count" with its count of
# workflows, "write" with a change of its own (a read-write holder), and waits.
READER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "ro")
for line in sys.stdin:
    if line.strip() == "count":
        print(con.execute("select count(*) from workflows").fetchone()[0], flush=True)
    elif line.strip() == "write":
        con.execute("create table analyst_notes as select 1 as n")
        print("written", flush=True)
"""

# Slow (subprocesses, mounts, Dagster runs): the e2e tier, `make test-e2e`.
pytestmark = pytest.mark.e2e


class Reader:
    def __init__(self, path: Path, mode: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", READER, str(path), mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def ask(self, what: str) -> str:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(what + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        assert answer, self.proc.stderr.read() if self.proc.stderr else ""
        return answer

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.communicate("", timeout=30)

    def crash(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)


def fresh_count(path: Path) -> int:
    """The workflows a new process finds in the published warehouse."""
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; print(duckdb.connect(sys.argv[1], read_only=True)"
            ".execute('select count(*) from workflows').fetchone()[0])",
            str(path),
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    return int(out.stdout)


def test_readers_holding_the_warehouse_never_break_a_sync(synced: Synced) -> None:
    warehouse = Settings(data_dir=synced.data_dir).warehouse_path
    # The warehouse holds the first day only; the sync adds the other two.
    run_cli(["forget", "--from", str(synced.days[1]), "--to", str(synced.days[-1]), "--yes"],
            synced.env)  # fmt: skip
    assert fresh_count(warehouse) == PER_DAY
    ro, rw = Reader(warehouse, "ro"), None
    try:
        assert ro.ask("count") == str(PER_DAY)
        # DuckDB lets one process hold a file read-write: the analyst's second session.
        ro.close()
        rw = Reader(warehouse, "rw")
        assert rw.ask("count") == str(PER_DAY)
        result = run_cli(sync_args(synced.days), synced.env)
        assert result.exit_code == 0, result.output
        assert rw.ask("count") == str(PER_DAY)  # its snapshot of the replaced file
        assert rw.ask("write") == "written"  # and it may still write to it
    finally:
        ro.close()
        if rw is not None:
            rw.close()
    assert fresh_count(warehouse) == DAYS * PER_DAY
    assert not warehouse.with_name(warehouse.name + ".wal").exists()
    synced.assert_intact()


def test_a_crashed_read_write_holder_leaves_nothing_that_breaks_the_next_open(
    synced: Synced,
) -> None:

    synced.publish()
    warehouse = Settings(data_dir=synced.data_dir).warehouse_path
    holder = Reader(warehouse, "rw")
    try:
        assert holder.ask("count") == str(DAYS * PER_DAY)
        result = run_cli(sync_args(synced.days), synced.env)
        assert result.exit_code == 0, result.output
        # The holder writes to the file that was replaced, then dies before a checkpoint:
        # its log is left under the published name.
        assert holder.ask("write") == "written"
    finally:
        holder.crash()
    shown = run_cli(["sql", "--format", "csv", "-c", "select count(*) from workflows"], synced.env)
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.split()[-1] == str(DAYS * PER_DAY)
    again = run_cli(sync_args(synced.days), synced.env)
    assert again.exit_code == 0, again.output
    assert fresh_count(warehouse) == DAYS * PER_DAY
    with duckdb.connect(str(warehouse)) as con:  # read-write too
        assert con.execute("select count(*) from workflows").fetchone() == (DAYS * PER_DAY,)
    assert not list(synced.data_dir.glob(".warehouse-*"))
