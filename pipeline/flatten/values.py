"""Lenient JSON value -> column value conversions for rows built in Python (blobs, verdicts).

They mirror DuckDB's `from_json` on the SQL side: a value of the wrong type becomes NULL
(text columns keep any non-string value as its JSON text), never an error. Timestamps go
through one vectorised Arrow cast with the `pipeline.core.timefmt` parser as the fallback.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import pyarrow as pa

from pipeline.core.timefmt import parse_datetime

_INT32 = 2**31


def text(value: Any) -> str | None:
    if value is None or value.__class__ is str:
        return value
    return value if isinstance(value, str) else json_text(value)


def json_text(value: Any) -> str:
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:  # integers beyond 64 bits
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def boolean(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def int32(value: Any) -> int | None:
    if type(value) is int:  # the common case, first
        return value if -_INT32 <= value < _INT32 else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not value.is_integer():
        return None
    return int(value) if -_INT32 <= value < _INT32 else None


def number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        result = float(value)
    except OverflowError:
        return None
    return result if math.isfinite(result) else None


def strings(value: Any) -> list[str] | None:
    """A list of strings (other items as JSON text); None for anything but a list."""
    if not isinstance(value, list):
        return None
    return [item if isinstance(item, str) else json_text(item) for item in value]


def rest(obj: Mapping[str, Any], typed: frozenset[str]) -> str | None:
    """The object's members without a column of their own, as JSON text (None when none)."""
    if obj.keys() <= typed:  # the common case, checked without building anything
        return None
    others = {k: v for k, v in obj.items() if k not in typed}
    return json_text(others) if others else None


def timestamps(values: Sequence[Any], type_: pa.DataType) -> pa.Array:
    """ISO-8601 texts -> a timestamp column; anything unreadable becomes NULL."""
    texts = [v if isinstance(v, str) else None for v in values]
    try:
        # Nanoseconds first: .NET writes 7 fractional digits; the cast to microseconds then
        # truncates, as `parse_datetime` does.
        parsed = pa.array(texts, pa.string()).cast(pa.timestamp("ns", tz="UTC"))
        return parsed.cast(type_, safe=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.array([_timestamp(v) for v in texts], type_)


def _timestamp(value: str | None) -> Any:
    if value is None:
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        return None
