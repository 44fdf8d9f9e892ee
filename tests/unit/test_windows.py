"""UTC day windows: half-open bounds, ranges, the nightly days, gaps."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from pipeline.fetch.windows import Window, day_range, iter_gaps, nightly_dates, parse_day, window_of


def test_a_window_is_the_half_open_utc_day() -> None:
    w = Window(date(2026, 3, 28))
    assert w.start == datetime(2026, 3, 28, tzinfo=UTC)
    assert w.end == datetime(2026, 3, 29, tzinfo=UTC)
    assert w.contains(w.start)
    assert w.contains(datetime(2026, 3, 28, 23, 59, 59, 999999, tzinfo=UTC))
    assert not w.contains(w.end)
    assert not w.contains(w.start - timedelta(microseconds=1))
    assert str(w) == w.key == "2026-03-28"


def test_window_of_uses_utc_not_the_local_offset() -> None:
    # 01:30 at +02:00 is 23:30 UTC the previous day.
    moment = datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    assert window_of(moment) == Window(date(2026, 3, 28))
    assert window_of(datetime(2026, 3, 29, 0, 0)) == Window(date(2026, 3, 29))  # naive = UTC


def test_day_range_includes_both_ends_and_rejects_backwards_ranges() -> None:
    assert day_range(date(2026, 2, 27), date(2026, 3, 1)) == [
        date(2026, 2, 27),
        date(2026, 2, 28),
        date(2026, 3, 1),
    ]
    assert day_range(date(2026, 1, 1), date(2026, 1, 1)) == [date(2026, 1, 1)]
    with pytest.raises(ValueError, match="before it starts"):
        day_range(date(2026, 1, 2), date(2026, 1, 1))


def test_nightly_dates_are_yesterday_and_the_lookback_days_oldest_first() -> None:
    assert nightly_dates(date(2026, 1, 1), 2) == [
        date(2025, 12, 29),
        date(2025, 12, 30),
        date(2025, 12, 31),
    ]
    assert nightly_dates(date(2026, 1, 1), 0) == [date(2025, 12, 31)]
    with pytest.raises(ValueError):
        nightly_dates(date(2026, 1, 1), -1)


def test_parse_day_names_the_expected_format() -> None:
    assert parse_day(" 2026-05-01 ") == date(2026, 5, 1)
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_day("05/01/2026")


def test_gaps_are_the_missing_days_between_first_and_last() -> None:
    days = [date(2026, 1, 5), date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 2)]
    assert list(iter_gaps(days)) == [date(2026, 1, 3), date(2026, 1, 4)]
    assert list(iter_gaps([])) == []
