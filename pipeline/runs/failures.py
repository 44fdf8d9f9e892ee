"""A window's failure as the one error users see: a `WindowError` naming the window (and the
page, where one is to blame), recorded in the ledger; the window's data is left as it was."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import duckdb

from pipeline.core.errors import AuthenticationError, PipelineError, WindowError, storage_failure
from pipeline.core.settings import Settings
from pipeline.fetch import archive
from pipeline.fetch.paging import PageError
from pipeline.flatten import window as flatten
from pipeline.lake import claims
from pipeline.lake.ledger import Ledger
from pipeline.lake.store import Lake
from pipeline.runs.guard import window_work_dir


class Cancelled(Exception):
    """The sync run stopped (an error elsewhere, Ctrl-C) while this window was fetched."""


def short(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def record_failure(
    settings: Settings, day: date, exc: BaseException, started: float, run_id: str | None
) -> WindowError:
    """The WindowError for `exc`, recorded in the ledger (the window's data is untouched)."""
    if isinstance(exc, claims.ClaimError):
        # Another run owns the window: its ledger row is that run's to write.
        return exc
    if isinstance(exc, WindowError):
        error = exc
    elif isinstance(exc, Cancelled):
        error = WindowError(
            f"window {day}: not fetched to the end: the sync run stopped", window=day.isoformat()
        )
    elif isinstance(exc, PageError):
        error = WindowError(
            f"window {day}: page {exc.page} failed: {exc}", window=day.isoformat(), page=exc.page
        )
    elif isinstance(exc, PipelineError):
        error = WindowError(f"window {day}: {exc}", window=day.isoformat())
    elif (disk := storage_failure(exc)) is not None:
        error = WindowError(f"window {day}: {disk}", window=day.isoformat())
    else:
        error = WindowError(
            f"window {day} failed: {type(exc).__name__}: {short(exc)}", window=day.isoformat()
        )
    with contextlib.suppress(Exception):  # the original failure is the one to report
        Ledger(Lake.from_settings(settings)).fail(
            day, str(error), seconds=time.monotonic() - started, run_id=run_id
        )
    return error


def unflattenable(
    settings: Settings, day: date, pages: Sequence[Path], exc: duckdb.Error
) -> WindowError:
    page = _find_bad_page(settings, day, pages)
    where = f"page {page}" if page else "its pages"
    return WindowError(
        f"window {day}: {where} could not be flattened ({short(exc)}); the window keeps "
        "its previous data.",
        window=day.isoformat(),
        page=page,
    )


def _find_bad_page(settings: Settings, day: date, pages: Sequence[Path]) -> int | None:
    """The first page DuckDB cannot read on its own (only runs after a failure)."""
    con = flatten.connect(window_work_dir(settings, day) / "duckdb")
    try:
        for path in pages:
            try:
                con.execute(
                    "SELECT count(*) FROM read_json(?, columns = {'next': 'VARCHAR', "
                    "'items': 'JSON[]'}, format = 'unstructured', maximum_object_size = ?)",
                    [str(path), archive.uncompressed_size(path) + 2**20],
                ).fetchall()
            except duckdb.Error:
                return archive.page_number(path)
    finally:
        con.close()
    return None


def is_auth_failure(exc: BaseException) -> bool:
    """Whether a 401 is behind `exc` (then every other window would fail the same way)."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 5:
        if isinstance(current, AuthenticationError):
            return True
        current = current.__cause__
        seen += 1
    return False
