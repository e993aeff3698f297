from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from chalicelib.core.timeutil import iso_utc, now_iso


def test_naive_values_are_utc_already() -> None:
    assert iso_utc(datetime(2026, 1, 31, 12, 0, 5, 999_999)) == "2026-01-31T12:00:05Z"


def test_aware_values_are_converted_to_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert iso_utc(datetime(2026, 1, 31, 14, 0, 5, tzinfo=plus_two)) == "2026-01-31T12:00:05Z"
    assert iso_utc(datetime(2026, 1, 31, 12, 0, 5, tzinfo=UTC)) == "2026-01-31T12:00:05Z"


def test_none_stays_none_and_now_has_the_api_shape() -> None:
    assert iso_utc(None) is None
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", now_iso())
