"""core.validation.Validator.day: the UTC days API.md writes in query strings."""

from __future__ import annotations

from datetime import date

import pytest

from chalicelib.core.validation import Validator


def test_a_day_is_read_and_absence_is_none() -> None:
    v = Validator({"from": "2026-02-28", "to": ""})
    assert v.day("from") == date(2026, 2, 28)
    assert v.day("to") is None and v.day("missing") is None
    assert v.errors == {}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("2026-02-30", "This date does not exist."),
        ("20260228", "Use a date like 2026-01-31."),
        ("\uff12\uff10\uff12\uff16-02-28", "Use a date like 2026-01-31."),  # full-width digits
        (20260228, "Use a date like 2026-01-31."),
        ("0001-01-05", "Use a date between 1970 and 9998."),
        ("9999-12-30", "Use a date between 1970 and 9998."),
    ],
)
def test_a_day_that_is_not_one_is_a_field_error(raw: object, message: str) -> None:
    v = Validator({"to": raw})
    assert v.day("to") is None
    assert v.errors == {"to": [message]}
