"""Inter-process locks (filelock): timeout, and `is_locked` seeing a live holder in another
process, never a dead one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from pipeline.core.locks import file_lock, is_locked, lock_path

HOLD = """
import sys, time
from pathlib import Path
from pipeline.core.locks import file_lock
with file_lock(Path(sys.argv[1]), 5) as held:
    print("held" if held else "not held", flush=True)
    time.sleep(60)
"""


def _holder(path: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_lock_is_exclusive_across_processes_and_released_when_its_holder_dies(
    tmp_path: Path,
) -> None:
    path = lock_path(tmp_path, "window-2026-11-01")
    assert not is_locked(path)
    proc = _holder(path)
    try:
        assert is_locked(path)
        with file_lock(path, 0.2) as held:
            assert held is False
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        assert not is_locked(path)
        with file_lock(path, 1.0) as held:
            assert held is True
            assert is_locked(path)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_two_holders_in_one_process_exclude_each_other(tmp_path: Path) -> None:
    path = tmp_path / ".locks" / "x.lock"
    seen: list[bool] = []
    with file_lock(path, 1.0) as first:
        assert first
        thread = threading.Thread(target=lambda: seen.append(is_locked(path)))
        thread.start()
        thread.join()
        with file_lock(path, 0.1) as second:
            assert second is False
    assert seen == [True]
    assert not is_locked(path)


def test_a_missing_lock_file_is_not_locked(tmp_path: Path) -> None:
    assert not is_locked(tmp_path / "nothing.lock")
