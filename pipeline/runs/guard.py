"""The right to write a window: its lock on this machine and, for a lake on object storage,
its claim in the lake; the window's scratch space, swept when the right is taken.

One process at a time per window, so everything a sync leaves under the window's work dir or
in its staging area when the right is taken was left by a killed run.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from pipeline.core import locks
from pipeline.core.errors import WindowBusyError
from pipeline.core.settings import Settings
from pipeline.fetch import archive
from pipeline.flatten import schemas
from pipeline.lake import claims
from pipeline.lake.store import Lake

# How long a sync waits for another process that holds the same window before giving up.
LOCK_TIMEOUT_SECONDS = 120.0


def _window_lock_path(settings: Settings, day: date) -> Path:
    return locks.lock_path(settings.data_dir, f"window-{day.isoformat()}")


@contextlib.contextmanager
def window_lock(settings: Settings, day: date, timeout: float | None = None) -> Iterator[None]:
    """One process at a time per window (different windows may run in parallel); waits up to
    `timeout` (default LOCK_TIMEOUT_SECONDS, read when called) for another holder."""
    path = _window_lock_path(settings, day)
    wait = LOCK_TIMEOUT_SECONDS if timeout is None else timeout
    with locks.file_lock(path, wait) as held:
        if not held:
            raise WindowBusyError(
                f"window {day}: another process is syncing this window (lock {path}); "
                "wait for it to finish, then run again.",
                window=day.isoformat(),
            )
        yield


@contextlib.contextmanager
def window_guard(
    settings: Settings,
    day: date,
    *,
    timeout: float | None = None,
    run_id: str | None = None,
) -> Iterator[claims.Held | None]:
    """The right to write the window: its lock on this machine and, when the lake is on
    object storage (shared by machines), its claim in the lake (`pipeline.lake.claims`).
    Yields the claim (None for a local lake); check it before publishing."""
    with window_lock(settings, day, timeout):
        if not settings.shared_lake:
            yield None
            return
        lake = Lake.from_settings(settings)
        with claims.hold(lake, f"sync/{day.isoformat()}", run_id=run_id) as held:
            yield held


def window_locked(settings: Settings, day: date) -> bool:
    """Whether a live process is syncing the window right now (on this machine, or, for a lake
    on object storage, anywhere: its claim is live)."""
    if locks.is_locked(_window_lock_path(settings, day)):
        return True
    if settings.shared_lake:
        return claims.Claims(Lake.from_settings(settings)).live(f"sync/{day.isoformat()}")
    return False


def window_work_dir(settings: Settings, day: date) -> Path:
    """Scratch space of the window's sync (staged tables, DuckDB spill). Only the holder of the
    window's lock uses it, so whatever is there when the lock is taken was left by a killed
    run and is swept."""
    return settings.work_dir / f"window-{day.isoformat()}"


def sweep(settings: Settings, day: date) -> None:
    """Delete what a killed run of the window left (call holding the window)."""
    if not settings.shared_lake:
        archive.recover(settings.raw_dir, day)
    shutil.rmtree(window_work_dir(settings, day), ignore_errors=True)
    Lake.from_settings(settings).sweep_staging(day, schemas.WORKFLOW_TABLES)
