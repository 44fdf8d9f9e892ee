"""Timestamps and durations as the .NET service writes them.

Timestamps are ISO-8601 with 0 to 7 fractional digits; durations are TimeSpan text
(`"00:20:00"`, `"1.02:03:04.5"`) or, where the docs describe them, ISO-8601 durations
(`"PT20M"`). Both are parsed by hand because `datetime.fromisoformat` stops at 6 fractional
digits and Python has no TimeSpan parser.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import NamedTuple

_DATETIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
    r"\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$"
)


def parse_datetime(value: str | datetime) -> datetime:
    """Parse an API timestamp into an aware UTC datetime.

    .NET writes 0 to 7 fractional digits (`2027-08-11T20:24:40.3423514Z`); Python keeps
    microseconds, so digits past the sixth are truncated. A timestamp without an offset is
    taken as UTC, which is what the service means by it.
    """
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO-8601 timestamp string, got {type(value).__name__}")
    match = _DATETIME.match(value.strip())
    if not match:
        raise ValueError(f"not an ISO-8601 timestamp: {value!r}")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    tz: timezone = UTC
    if offset and offset not in ("Z", "z"):
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        tz = timezone(sign * delta)
    try:
        parsed = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micro, tz
        )
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"not a valid timestamp: {value!r} ({exc})") from None


def format_datetime(value: datetime) -> str:
    """Write a datetime the way the API does: UTC, `Z`, no trailing fractional zeros.

    A naive datetime is taken as UTC.
    """
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    text = (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
        f"T{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    )
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + "Z"


# .NET TimeSpan text: [-][d.]hh:mm:ss[.fffffff] (the "c" format) or [-][d:]h:mm:ss[.FFFFFFF].
_TIMESPAN = re.compile(r"^(-)?(?:(\d+)[.:])?(\d+):(\d{1,2}):(\d{1,2})(?:[.,](\d+))?$")
# ISO-8601 durations (`PT20M`, `P1DT2H`, `P2W`), the form the developer docs describe for step
# timeouts. Years and months have no fixed length and are not accepted.
_ISO_DURATION = re.compile(
    r"^(-)?P(?:(\d+(?:[.,]\d+)?)W)?(?:(\d+(?:[.,]\d+)?)D)?"
    r"(?:T(?:(\d+(?:[.,]\d+)?)H)?(?:(\d+(?:[.,]\d+)?)M)?(?:(\d+(?:[.,]\d+)?)S)?)?$",
    re.IGNORECASE,
)
_TICKS_PER_SECOND = 10_000_000


class Duration(NamedTuple):
    """A duration as the API wrote it: `seconds`, and `text`, the value as given (a TimeSpan,
    an ISO-8601 duration, or the JSON of a number or object)."""

    seconds: float
    text: str


def _timespan(text: str) -> float | None:
    match = _TIMESPAN.match(text)
    if not match:
        return None
    sign, days, hours, minutes, seconds, fraction = match.groups()
    if int(minutes) > 59 or int(seconds) > 59:
        return None
    total = (
        int(days or 0) * 86400
        + int(hours) * 3600
        + int(minutes) * 60
        + int(seconds)
        + (int(fraction) / 10 ** len(fraction) if fraction else 0.0)
    )
    return -total if sign else float(total)


def _iso_duration(text: str) -> float | None:
    match = _ISO_DURATION.match(text)
    if not match or text.upper().rstrip("T").lstrip("-") == "P" or text.upper().endswith("T"):
        return None
    sign, *parts = match.groups()
    factors = (604800, 86400, 3600, 60, 1)
    total = sum(
        float((part or "0").replace(",", ".")) * f for part, f in zip(parts, factors, strict=True)
    )
    return -total if sign else total


def parse_duration(value: object, *, strict: bool = False) -> Duration | None:
    """The one reader of API durations: a .NET TimeSpan (`"00:20:00"`, `"1.02:03:04.5"`), an
    ISO-8601 duration (`"PT20M"`), a number of seconds, or the object form older SDKs wrote
    (`{"ticks": ...}` / `{"totalSeconds": ...}`).

    Returns None for None, and for anything unrecognised unless `strict` (ValueError).
    """
    if value is None:
        return None
    seconds: float | None = None
    text = ""
    if isinstance(value, bool):
        pass
    elif isinstance(value, int | float):
        seconds, text = float(value), repr(value)
    elif isinstance(value, Mapping):
        if isinstance(value.get("totalSeconds"), int | float):
            seconds = float(value["totalSeconds"])
        elif isinstance(value.get("ticks"), int | float):
            seconds = value["ticks"] / _TICKS_PER_SECOND
        text = json.dumps(dict(value), default=str)
    elif isinstance(value, str):
        text = value
        stripped = value.strip()
        seconds = _timespan(stripped)
        if seconds is None:
            seconds = _iso_duration(stripped)
    if seconds is not None and seconds == seconds and abs(seconds) != float("inf"):
        return Duration(seconds, text)
    if strict:
        raise ValueError(f"not a TimeSpan or ISO-8601 duration: {value!r}")
    return None


def timespan_seconds(value: object, *, strict: bool = False) -> float | None:
    """Seconds of a duration in any form `parse_duration` reads (None when unreadable)."""
    duration = parse_duration(value, strict=strict)
    return None if duration is None else duration.seconds
