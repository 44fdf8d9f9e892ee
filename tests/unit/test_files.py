"""The atomic-write rule of pipeline/core/files.py: a reader sees the old file or the new one,
never half, and a write that fails leaves the old file and no stray temporary behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core.files import atomic_write, atomic_writer


@pytest.mark.parametrize("durable", [True, False])
def test_new_bytes_replace_the_file_only_when_the_write_ends(tmp_path: Path, durable: bool) -> None:
    target = tmp_path / "report.html"
    target.write_bytes(b"old")
    with atomic_writer(target, durable=durable) as handle:
        handle.write(b"new, ")
        assert target.read_bytes() == b"old"  # a reader meanwhile still sees the old file
        handle.write(b"whole")
    assert target.read_bytes() == b"new, whole"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "blob.jpeg"
    target.write_bytes(b"old")
    with pytest.raises(ConnectionResetError), atomic_writer(target, prefix=".part-") as handle:
        handle.write(b"half of")
        raise ConnectionResetError("the download broke off")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["blob.jpeg"]


def test_atomic_write_creates_a_missing_file(tmp_path: Path) -> None:
    target = tmp_path / "new.json"
    atomic_write(target, b"{}")
    assert target.read_bytes() == b"{}"
    assert [p.name for p in tmp_path.iterdir()] == ["new.json"]
