"""Inter-process file locks under DATA_DIR/.locks/.

OS advisory locks (flock): the kernel releases them when the holder dies, even by SIGKILL, so
a killed sync never leaves a window locked.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

LOCK_DIR = ".locks"

try:
    import fcntl

    def _try_lock(handle: IO[Any]) -> bool:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(handle: IO[Any]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

except ImportError:  # pragma: no cover - no flock (Windows): one process at a time by convention

    def _try_lock(handle: IO[Any]) -> bool:
        return True

    def _unlock(handle: IO[Any]) -> None:
        return None


def lock_path(data_dir: Path, name: str) -> Path:
    return data_dir / LOCK_DIR / f"{name}.lock"


@contextlib.contextmanager
def file_lock(path: Path, timeout: float) -> Iterator[bool]:
    """Hold an exclusive lock on `path`; yields False (without the lock) after `timeout`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        deadline = time.monotonic() + timeout
        while not _try_lock(handle):
            if time.monotonic() >= deadline:
                yield False
                return
            time.sleep(0.1)
        try:
            yield True
        finally:
            _unlock(handle)


def is_locked(path: Path) -> bool:
    """Whether a live process holds the lock on `path` right now."""
    if not path.exists():
        return False
    with open(path, "a+") as handle:
        if _try_lock(handle):
            _unlock(handle)
            return False
        return True
