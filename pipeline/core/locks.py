"""Inter-process file locks under DATA_DIR/.locks/, through `filelock`.

On Linux and macOS these are OS advisory locks (flock): the kernel releases them when the
holder dies, even by SIGKILL, so a killed sync never leaves a window locked. Each call opens
its own lock object, so two holders in one process exclude each other as two processes do.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

LOCK_DIR = ".locks"
_POLL_SECONDS = 0.1


def lock_path(data_dir: Path, name: str) -> Path:
    return data_dir / LOCK_DIR / f"{name}.lock"


@contextlib.contextmanager
def file_lock(path: Path, timeout: float) -> Iterator[bool]:
    """Hold an exclusive lock on `path`; yields False (without the lock) after `timeout`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path, timeout=max(0.0, timeout))
    try:
        lock.acquire(poll_interval=_POLL_SECONDS)
    except Timeout:
        yield False
        return
    try:
        yield True
    finally:
        lock.release()


def is_locked(path: Path) -> bool:
    """Whether a live process (or another holder in this one) holds the lock on `path`."""
    if not path.exists():
        return False
    lock = FileLock(path, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        return True
    lock.release()
    return False
