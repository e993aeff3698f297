from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from chalicelib.core.timeutil import iso_utc, now_iso, parse_aware


def test_naive_values_are_utc_already() -> None:
    assert iso_utc(datetime(2026, 1, 31, 12, 0, 5, 999_999)) == "2026-01-31T12:00:05Z"


def test_aware_values_are_converted_to_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert iso_utc(datetime(2026, 1, 31, 14, 0, 5, tzinfo=plus_two)) == "2026-01-31T12:00:05Z"
    assert iso_utc(datetime(2026, 1, 31, 12, 0, 5, tzinfo=UTC)) == "2026-01-31T12:00:05Z"


def test_none_stays_none_and_now_has_the_api_shape() -> None:
    assert iso_utc(None) is None
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", now_iso())


def test_parse_aware_gives_naive_utc_for_zoned_times() -> None:
    assert parse_aware("2026-03-01T10:30:00+02:00") == datetime(2026, 3, 1, 8, 30)
    assert parse_aware("2026-03-01T10:30:00Z") == datetime(2026, 3, 1, 10, 30)
    assert parse_aware("2026-03-01T10:30:00z") == datetime(2026, 3, 1, 10, 30)


@pytest.mark.parametrize(
    "raw",
    [
        "0001-01-01T00:00:00+01:00",  # before datetime.min once in UTC
        "9999-12-31T23:59:59-01:00",  # after datetime.max once in UTC
        "2026-03-01T10:30:00",  # no zone: ambiguous
        "2026-02-30T10:30:00Z",
        "not a time at all",
        20260301,
        None,
    ],
)
def test_parse_aware_refuses_what_is_not_a_zoned_moment(raw: object) -> None:
    assert parse_aware(raw) is None
