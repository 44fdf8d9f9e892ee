"""Which user a workflow belongs to: the one rule the lake and the CLI share.

The API has no user field. Workflow ids look like `{userId}-{yyyyMMddHHmmssfff}`
(`8484131-20260121222126332`), and civitai.com also tags workflows `user:N`; ids of the form
`0-<uuid>` (API keys without a user) and redacted ids carry no user in the prefix. So this is
a reading of conventions, not an account lookup.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pyarrow as pa

_USER_TAG = re.compile(r"^user:(\d+)$")
_INT64_MAX = 2**63 - 1


def workflow_user_id(workflow_id: str | None, tags: Iterable[object] | None = ()) -> int | None:
    """The id's prefix before the first `-` when it is a positive integer, else the first
    `user:N` tag with a positive N, else None."""
    if workflow_id:
        prefix, dash, _ = workflow_id.partition("-")
        if dash and prefix.isascii() and prefix.isdigit() and 0 < int(prefix) <= _INT64_MAX:
            return int(prefix)
    for tag in tags or ():
        match = _USER_TAG.match(tag) if isinstance(tag, str) else None
        if match and 0 < int(match.group(1)) <= _INT64_MAX:
            return int(match.group(1))
    return None


def user_id_column(ids: pa.Array | pa.ChunkedArray, tags: pa.Array | pa.ChunkedArray) -> pa.Array:
    """`workflow_user_id` of each row, as an int64 column."""
    # Tags are only read where the prefix does not decide (`0-<uuid>` ids), which is rare.
    values = [workflow_user_id(wid, None) for wid in ids.to_pylist()]
    missing = [i for i, value in enumerate(values) if value is None]
    if missing:
        pick = pa.array(missing, pa.int64())
        some_ids = ids.take(pick).to_pylist()
        some_tags = tags.take(pick).to_pylist()
        for i, wid, tag_list in zip(missing, some_ids, some_tags, strict=True):
            values[i] = workflow_user_id(wid, tag_list)
    return pa.array(values, pa.int64())
