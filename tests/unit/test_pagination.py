from __future__ import annotations

import pytest

from chalicelib.core import pagination
from chalicelib.core.errors import ValidationFailed


def test_cursor_round_trip_and_first_page() -> None:
    assert pagination.after_id(None) is None
    assert pagination.after_id("") is None
    assert pagination.after_id(pagination.encode_cursor(42)) == 42


@pytest.mark.parametrize("bad", ["%%%", "aWQ6eA", "bm9wZToxMg", "\u00e9t\u00e9", "a"])
def test_cursors_we_never_made_are_a_422_on_the_cursor_field(bad: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        pagination.after_id(bad)
    assert list(info.value.fields) == ["cursor"]


def test_page_keeps_limit_rows_and_points_after_the_last_kept() -> None:
    rows = [5, 4, 3]
    assert pagination.page(rows, 2, lambda r: r) == ([5, 4], pagination.encode_cursor(4))
    assert pagination.page(rows[:2], 2, lambda r: r) == ([5, 4], None)
    assert pagination.page([], 2, lambda r: r) == ([], None)
