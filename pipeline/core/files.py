"""Durable and atomic file writes on a local disk: the one place that fsyncs and renames.

A reader (or a crash) sees either the old file or the new one, never half of either: the new
bytes go to a temporary name in the same directory, are fsynced, then `os.replace`d over the
target, and the directory entry is synced too.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path


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


def atomic_write(path: Path, data: bytes) -> None:
    """Replace `path` with `data` in one step."""
    temp = temp_beside(path)
    try:
        write_durably(temp, data)
        replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
