"""The disk under the data dir misbehaves: full, read-only, not ours, a file where the data dir
should be, a truncated or foreign warehouse, a window held by another process. Each command
ends with one line saying what to do (exit status per pipeline/cli/exits.py), never a traceback,
and the previous data stays exactly as it was. The read-only commands work on a read-only dir.

Root is needed for two of them (a small tmpfs to fill, a read-only bind mount); as root, file
modes do not stop anything, so "permission denied" runs the CLI as `nobody` (setpriv).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from pipeline.cli import exits
from pipeline.core.settings import Settings
from pipeline.runs import guard
from tests.hostile.conftest import (
    DAYS,
    PER_DAY,
    Synced,
    assert_clean_failure,
    run_cli,
    sync_args,
)
from tests.integration.test_sync import no_leftovers, snapshot

CLI = str(Path(sys.executable).with_name("civitai-sync"))
IS_ROOT = os.geteuid() == 0
AS_NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
WRITERS = [
    ["sync", "--no-jobs"],
    ["rebuild"],
    ["forget", "--yes"],
    ["maintain"],
    ["warehouse"],
]

# Slow (subprocesses, mounts, Dagster runs): the e2e tier, `make test-e2e`.
pytestmark = pytest.mark.e2e


def with_days(args: list[str], synced: Synced) -> list[str]:
    if args[0] in ("sync", "rebuild", "forget"):
        return [args[0], "--from", str(synced.days[0]), "--to", str(synced.days[-1]), *args[1:]]
    return args


def run_process(
    args: list[str], env: dict[str, str], prefix: list[str] = ()
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, CLI, *args],
        env={"PATH": os.environ["PATH"], "HOME": "/tmp", **env},
        cwd="/tmp",
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_one_line(proc: subprocess.CompletedProcess[str], code: int, *words: str) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, proc.stderr
    for word in words:
        assert word.lower() in errors[0].lower(), (word, errors[0])
    return errors[0]


def read_commands_work(synced: Synced, env: dict[str, str], prefix: list[str] = ()) -> None:
    """status, a report and sql answer from the data dir as it is."""
    status = run_process(["status", "--json"], env, prefix)
    assert status.returncode == 0, status.stderr
    assert status.stdout.count('"complete"') >= DAYS
    usage = run_process(["report", "usage", "--format", "csv"], env, prefix)
    assert usage.returncode == 0, usage.stderr
    assert len(usage.stdout.splitlines()) > 1
    sql = run_process(
        ["sql", "--format", "csv", "-c", "select count(*) from workflows"], env, prefix
    )
    assert sql.returncode == 0, sql.stderr
    assert sql.stdout.split() == ["count_star()", str(DAYS * PER_DAY)]


# --------------------------------------------------------------------------- not ours / read-only


@contextlib.contextmanager
def world_readable_copy(synced: Synced) -> Iterator[Path]:
    """The synced data dir copied where `nobody` can read it (pytest's own temp dirs are
    private to root), owned by root and writable by no one else."""
    synced.publish()
    parent = Path(tempfile.mkdtemp(prefix="hostile-ro-", dir="/tmp"))
    try:
        parent.chmod(0o755)
        data_dir = parent / "data"
        shutil.copytree(synced.data_dir, data_dir, symlinks=True)
        Synced(synced.server, data_dir, synced.days, synced.before).publish()
        for path in [data_dir, *data_dir.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        yield data_dir
    finally:
        shutil.rmtree(parent, ignore_errors=True)


@pytest.mark.skipif(not IS_ROOT or not shutil.which("setpriv"), reason="needs root and setpriv")
def test_a_data_dir_this_user_may_not_write_fails_each_writer_with_one_line(
    synced: Synced,
) -> None:
    with world_readable_copy(synced) as data_dir:
        before = snapshot(data_dir, synced.days, drop=())
        env = {**synced.env, "CIVITAI_SYNC_DATA_DIR": str(data_dir)}
        for args in WRITERS:
            proc = run_process(with_days(args, synced), env, AS_NOBODY)
            assert_one_line(proc, exits.FAILED, "permission denied", "CIVITAI_SYNC_DATA_DIR")
        assert snapshot(data_dir, synced.days, drop=()) == before
        read_commands_work(synced, env, AS_NOBODY)


@pytest.fixture
def read_only_mount(synced: Synced) -> Iterator[Path]:
    """The synced data dir seen through a read-only bind mount (EROFS, whoever writes)."""
    if not IS_ROOT:
        pytest.skip("a bind mount needs root")
    synced.publish()
    target = synced.data_dir.parent / "ro"
    target.mkdir()
    mounted = subprocess.run(
        ["mount", "--bind", "-o", "ro", str(synced.data_dir), str(target)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {mounted.stderr.decode().strip()}")
    try:
        yield target
    finally:
        subprocess.run(["umount", str(target)], check=False)


def test_a_read_only_data_dir_serves_reads_and_refuses_a_sync_with_one_line(
    synced: Synced, read_only_mount: Path
) -> None:
    env = {**synced.env, "CIVITAI_SYNC_DATA_DIR": str(read_only_mount)}
    read_commands_work(synced, env)
    before = snapshot(read_only_mount, synced.days, drop=())
    proc = run_process(with_days(["sync", "--no-jobs"], synced), env)
    assert_one_line(proc, exits.FAILED, "read-only", "CIVITAI_SYNC_DATA_DIR")
    assert snapshot(read_only_mount, synced.days, drop=()) == before


# --------------------------------------------------------------------------- a full disk


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if not IS_ROOT:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "small-disk"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], capture_output=True
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path, leave: int) -> Path:
    filler = disk / "filler"
    free = shutil.disk_usage(disk).free
    with filler.open("wb") as out:
        out.truncate(0)
    subprocess.run(["fallocate", "-l", str(max(0, free - leave)), str(filler)], check=True)
    return filler


@pytest.mark.parametrize("leave_kib", [0, 64, 512])
def test_a_full_disk_fails_the_sync_with_one_line_and_the_next_run_repairs(
    synced: Synced, small_disk: Path, leave_kib: int
) -> None:
    data_dir = small_disk / "data"
    shutil.copytree(synced.data_dir, data_dir, symlinks=True)
    on_disk = Synced(synced.server, data_dir, synced.days, synced.before)
    on_disk.publish()
    env = {**synced.env, "CIVITAI_SYNC_DATA_DIR": str(data_dir)}
    filler = fill(small_disk, leave_kib * 1024)

    result = run_cli(sync_args(synced.days), env)
    stderr = assert_clean_failure(result, exits.FAILED)
    assert "no space left" in stderr.lower(), stderr
    on_disk.assert_intact()  # a day may have been re-synced before the disk filled
    reader = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    assert reader.execute("select count(*) from workflows").fetchone() == (DAYS * PER_DAY,)
    reader.close()

    filler.unlink()
    again = run_cli(sync_args(synced.days), env)
    assert again.exit_code == 0, again.output
    on_disk.assert_intact()
    no_leftovers(data_dir)


# --------------------------------------------------------------------------- wrong things in place


def test_a_data_dir_that_is_a_file_fails_with_one_line(synced: Synced, tmp_path: Path) -> None:
    a_file = tmp_path / "not-a-dir"
    a_file.write_text("x")
    env = {**synced.env, "CIVITAI_SYNC_DATA_DIR": str(a_file)}
    for args in (sync_args(synced.days), ["warehouse"], ["report", "usage"], ["status"]):
        result = run_cli(args, env)
        stderr = assert_clean_failure(result, exits.FAILED)
        assert str(a_file) in stderr, stderr
    assert a_file.read_text() == "x"


@pytest.mark.parametrize("damage", ["truncated", "foreign-duckdb", "not-duckdb", "empty"])
def test_a_damaged_warehouse_is_said_by_reads_and_rebuilt_by_the_next_sync(
    synced: Synced, damage: str
) -> None:
    synced.publish()
    path = Settings(data_dir=synced.data_dir).warehouse_path
    good = path.read_bytes()
    path.unlink()
    if damage == "truncated":
        path.write_bytes(good[: len(good) // 3])
    elif damage == "foreign-duckdb":
        with duckdb.connect(str(path)) as con:
            con.execute("create table ledger_of_someone_else (x int)")
    elif damage == "not-duckdb":
        path.write_bytes(b"PK\x03\x04 a zip file, say" * 100)
    else:
        path.write_bytes(b"")
    report = assert_clean_failure(run_cli(["report", "usage"], synced.env), exits.FAILED)
    assert str(path) in report or "has no table" in report, report
    sql = run_cli(["sql", "-c", "select count(*) from workflows"], synced.env)
    said = assert_clean_failure(sql, exits.FAILED)
    assert str(path) in said or "workflows does not exist" in said, said

    result = run_cli(sync_args(synced.days), synced.env)
    assert result.exit_code == 0, result.output
    synced.assert_intact()
    counted = run_cli(
        ["sql", "--format", "csv", "-c", "select count(*) from workflows"], synced.env
    )
    assert counted.exit_code == 0 and counted.stdout.split()[-1] == str(DAYS * PER_DAY)


def test_a_window_held_by_another_process_is_left_alone_with_exit_3(
    synced: Synced, monkeypatch: pytest.MonkeyPatch
) -> None:

    held = synced.days[1]
    lock = guard._window_lock_path(Settings(data_dir=synced.data_dir), held)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from filelock import FileLock; l = FileLock(sys.argv[1]); "
            "l.acquire(); print('held', flush=True); sys.stdin.read()",
            str(lock),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout and holder.stdout.readline().strip() == "held"
        monkeypatch.setattr(guard, "LOCK_TIMEOUT_SECONDS", 0.3)
        result = run_cli(sync_args(synced.days), synced.env)
    finally:
        holder.communicate("", timeout=30)
    stderr = assert_clean_failure(result, exits.BUSY)
    assert str(held) in stderr and "another process" in stderr
    status = synced.ledger_status()
    assert {d: s for d, (s, _) in status.items()} == {d: "complete" for d in synced.days}
    synced.assert_intact(untouched=[held])
