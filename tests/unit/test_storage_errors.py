"""A failing disk said in one line: the path, the OS's words, what to do; anything that is not
a failure of the disk is left alone (a bug must surface as one)."""

from __future__ import annotations

import errno
import os

import pytest
from deltalake.exceptions import DeltaError

from pipeline.core.errors import storage_failure


@pytest.mark.parametrize(
    ("code", "advice"),
    [
        (errno.ENOSPC, "free some space"),
        (errno.EACCES, "owns the data dir"),
        (errno.EROFS, "writable directory"),
        (errno.ENOTDIR, "must name a directory"),
    ],
)
def test_an_os_error_names_the_path_the_os_words_and_what_to_do(code: int, advice: str) -> None:
    said = storage_failure(OSError(code, os.strerror(code), "/data/lake/x.parquet"))
    assert said is not None and "\n" not in said
    assert "/data/lake/x.parquet" in said and os.strerror(code) in said and advice in said
    assert "previous data is unchanged" in said


def test_an_errno_without_advice_is_said_as_the_os_says_it() -> None:
    said = storage_failure(OSError(errno.EIO, "Input/output error", "/data/warehouse.duckdb"))
    assert said == (
        "cannot write or read /data/warehouse.duckdb: Input/output error. "
        "The previous data is unchanged."
    )


def test_delta_lakes_own_report_of_an_os_error_gets_the_same_advice() -> None:
    text = "Generic LocalFileSystem error: Unable to open file /d/lake/_delta_log/2.json:\n"
    said = storage_failure(DeltaError(text + " Permission denied (os error 13)"))
    assert said is not None and "\n" not in said
    assert "Permission denied; run as the user that owns the data dir" in said
    assert "/d/lake/_delta_log/2.json" in said


@pytest.mark.parametrize("exc", [ValueError("x"), KeyError("k"), RuntimeError("boom")])
def test_anything_else_is_left_to_surface(exc: Exception) -> None:
    assert storage_failure(exc) is None
