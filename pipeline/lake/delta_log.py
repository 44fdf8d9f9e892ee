"""A Delta table's commit log, read directly: `_delta_log/<version>.json`, one JSON action per
line (the Delta protocol). Read here rather than through delta-rs's history, whose version
numbers are computed from the snapshot it loaded and go wrong while other writers commit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

import pyarrow.fs as pafs

from pipeline.core import storage
from pipeline.core.errors import LakeError

_COMMIT_FILE = re.compile(r"^(\d{20})\.json$")


class DeltaLog:
    def __init__(self, table_uri: str, storage_options: Mapping[str, str] | None = None) -> None:
        # Configured like delta-rs: the endpoint and credentials of any S3-compatible store.
        self.filesystem, self.root = storage.filesystem(f"{table_uri}/_delta_log", storage_options)

    def commits(self) -> list[tuple[int, str]]:
        """(version, file name) of every commit file still in the log, oldest first."""
        entries = self.filesystem.get_file_info(pafs.FileSelector(self.root))
        return sorted(
            (int(match.group(1)), info.base_name)
            for info in entries
            if (match := _COMMIT_FILE.match(info.base_name))
        )

    def actions(self, name: str) -> Iterator[dict[str, Any]]:
        with self.filesystem.open_input_stream(f"{self.root}/{name}", compression=None) as stream:
            for line in stream.read().splitlines():
                if line.strip():
                    yield json.loads(line)

    def find_commit(self, key: str, value: str, lookback: int) -> int:
        """The version of the newest commit whose commit info has `key` = `value`, among the
        last `lookback` commits."""
        for version, name in reversed(self.commits()[-lookback:]):
            for action in self.actions(name):
                info = action.get("commitInfo")
                if info is not None and info.get(key) == value:
                    return version
        raise LakeError(f"commit {key}={value} not found in {self.root}")

    def added_to(self, prefix: str, after: int, before: int) -> bool:
        """Whether a commit between versions `after` and `before` (both excluded) added a
        file under `prefix` (a partition's directory)."""
        for version, name in self.commits():
            if after < version < before:
                for action in self.actions(name):
                    add = action.get("add")
                    if add is not None and str(add.get("path", "")).startswith(prefix):
                        return True
        return False
