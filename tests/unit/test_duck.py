"""The DuckDB set-up rule of pipeline/core/duck.py: every connection (and each cursor of one)
shows timestamps in UTC, bounds what it is told to, and a read-only open of a missing file
says what to do instead of DuckDB's own error."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from pipeline.core import duck
from pipeline.core.errors import WarehouseNotFoundError

INSTANT = "2026-03-01 23:30:00+00"


@pytest.fixture
def foreign_zone() -> object:
    """The process in a zone where INSTANT falls on another calendar day, as a laptop's is."""
    previous = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Tokyo"
    time.tzset()
    yield
    if previous is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = previous
    time.tzset()


def test_connections_and_cursors_read_timestamps_in_utc(foreign_zone: object) -> None:
    con = duck.connect()
    try:
        for session in (con, duck.session(con.cursor())):
            (text,) = session.execute(f"SELECT (TIMESTAMPTZ '{INSTANT}')::VARCHAR").fetchone()
            (day,) = session.execute(f"SELECT (TIMESTAMPTZ '{INSTANT}')::DATE").fetchone()
            assert text == "2026-03-01 23:30:00+00"
            assert str(day) == "2026-03-01"
    finally:
        con.close()


def test_limits_and_spill_directory_are_set(tmp_path: Path) -> None:
    work = tmp_path / "work"
    con = duck.connect(tmp_path / "w.duckdb", memory_limit="300MB", threads=1, work_dir=work)
    try:
        settings = dict(
            con.execute(
                "SELECT name, value FROM duckdb_settings() WHERE name IN "
                "('threads', 'temp_directory', 'enable_progress_bar', 'TimeZone')"
            ).fetchall()
        )
        (limit,) = con.execute("SELECT current_setting('memory_limit')").fetchone()
    finally:
        con.close()
    assert settings == {
        "threads": "1",
        "temp_directory": str(work),
        "enable_progress_bar": "false",
        "TimeZone": "UTC",
    }
    assert limit.replace(" ", "") in {"286.1MiB", "300.0MB", "300MB"}
    assert work.is_dir()


def test_read_only_open_of_a_missing_file_says_what_to_do(tmp_path: Path) -> None:
    missing = tmp_path / "warehouse.duckdb"
    with pytest.raises(WarehouseNotFoundError, match=r"No warehouse at .*civitai-sync sync"):
        duck.connect(missing, read_only=True)
    assert not missing.exists()


def test_read_only_connection_refuses_writes(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    duck.connect(path).close()
    con = duck.connect(path, read_only=True)
    try:
        with pytest.raises(Exception, match="read-only"):
            con.execute("CREATE TABLE t (x INTEGER)")
    finally:
        con.close()


def test_literal_quotes() -> None:
    con = duck.connect()
    try:
        (value,) = con.execute("SELECT " + duck.literal("it's a 'path'")).fetchone()
    finally:
        con.close()
    assert value == "it's a 'path'"
