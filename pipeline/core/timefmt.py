"""Timestamps and durations as the .NET service writes them.

Timestamps are ISO-8601 with 0 to 7 fractional digits; durations are TimeSpan text
(`"00:20:00"`, `"1.02:03:04.5"`). Both are parsed by hand because `datetime.fromisoformat`
stops at 6 fractional digits and Python has no TimeSpan parser.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone

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
# The docs describe step timeouts as ISO-8601 durations even though the service sends TimeSpans.
_ISO_DURATION = re.compile(
    r"^(-)?P(?:(\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$"
)
_TICKS_PER_SECOND = 10_000_000


def timespan_seconds(value: object, *, strict: bool = False) -> float | None:
    """Convert a .NET TimeSpan to seconds.

    Accepts `"00:20:00"`, `"1.02:03:04.5"`, an ISO-8601 duration (`"PT20M"`), a number of
    seconds, or the object form older SDKs produced (`{"ticks": ...}` / `{"totalSeconds": ...}`).
    Returns None for None, and for anything unrecognised unless `strict`, which raises ValueError.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        pass
    elif isinstance(value, int | float):
        return float(value)
    elif isinstance(value, Mapping):
        if isinstance(value.get("totalSeconds"), int | float):
            return float(value["totalSeconds"])
        if isinstance(value.get("ticks"), int | float):
            return value["ticks"] / _TICKS_PER_SECOND
    elif isinstance(value, str):
        text = value.strip()
        if match := _TIMESPAN.match(text):
            sign, days, hours, minutes, seconds, fraction = match.groups()
            total = (
                int(days or 0) * 86400
                + int(hours) * 3600
                + int(minutes) * 60
                + int(seconds)
                + (int(fraction) / 10 ** len(fraction) if fraction else 0.0)
            )
            return -total if sign else float(total)
        if (
            (match := _ISO_DURATION.match(text))
            and text not in ("P", "-P")
            and not text.endswith("T")
        ):
            sign, days, hours, minutes, seconds = match.groups()
            total = sum(
                float(part or 0) * factor
                for part, factor in ((days, 86400), (hours, 3600), (minutes, 60), (seconds, 1))
            )
            return -total if sign else total
    if strict:
        raise ValueError(f"not a TimeSpan: {value!r}")
    return None
