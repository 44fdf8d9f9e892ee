"""Durable and atomic file writes on a local disk: the one place that fsyncs and renames.

A reader (or a crash) sees either the old file or the new one, never half of either: the new
bytes go to a temporary name in the same directory, are fsynced, then `os.replace`d over the
target, and the directory entry is synced too.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


def fsync_dir(directory: Path) -> None:
    """Make a rename in `directory` durable (a no-op where directories cannot be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_durably(path: Path, data: bytes) -> None:
    """Write `data` to `path` and fsync it (the caller publishes it, usually by a rename)."""
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def temp_beside(path: Path, prefix: str = ".tmp-") -> Path:
    """A fresh name in `path`'s own directory, so that the final rename is atomic."""
    return path.parent / f"{prefix}{path.name}.{uuid.uuid4().hex}"


def replace(temp: Path, final: Path) -> None:
    """Atomically put `temp` (already fsynced) in place of `final`."""
    os.replace(temp, final)
    fsync_dir(final.parent)


@contextlib.contextmanager
def atomic_writer(path: Path, *, durable: bool = True, prefix: str = ".tmp-") -> Iterator[BinaryIO]:
    """A file for `path`'s new bytes, streamed: it takes `path`'s place when the block ends
    without an error, and is deleted otherwise. `durable=False` skips the fsyncs, for copies
    that can be fetched again (a cache, a download)."""
    temp = temp_beside(path, prefix)
    try:
        with open(temp, "wb") as handle:
            yield handle
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        if durable:
            replace(temp, path)
        else:
            os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace `path` with `data` in one step."""
    with atomic_writer(path) as handle:
        handle.write(data)
