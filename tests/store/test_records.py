"""Plain records of the store: the one text form of times."""

from __future__ import annotations

from datetime import UTC, datetime

from explorer.store.records import format_time


def test_format_time_is_iso_8601_with_a_four_digit_year() -> None:
    assert format_time(datetime(2026, 10, 5, 14, 0, 1, 25, tzinfo=UTC)) == "2026-10-05T14:00:01.000025Z"
    assert format_time(datetime(1, 1, 1, tzinfo=UTC)) == "0001-01-01T00:00:00.000000Z"  # glibc's %Y gave "1"
    assert format_time(datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)) == "0999-12-31T23:59:59.999999Z"
    assert format_time(datetime(9999, 12, 31, tzinfo=UTC)) == "9999-12-31T00:00:00.000000Z"
