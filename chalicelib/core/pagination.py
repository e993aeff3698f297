"""Keyset pagination for API.md lists: newest first, an opaque cursor per page.

Stores fetch `limit + 1` rows after `after_id` (ORDER BY id DESC); `page()` keeps
`limit` of them and makes the cursor from the last one kept, so no page is counted
and no row is skipped or repeated while others are inserted.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import TypeVar

from chalicelib.core.errors import ValidationFailed
from chalicelib.core.validation import is_ascii_number

T = TypeVar("T")
BAD_CURSOR = "This cursor is not valid; start from the first page."


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def after_id(cursor: str | None) -> int | None:
    """The id a cursor points after; None for the first page; 422 for a cursor we never made."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed({"cursor": [BAD_CURSOR]}) from None
    kind, _, value = raw.partition(":")
    if kind != "id" or not is_ascii_number(value):
        raise ValidationFailed({"cursor": [BAD_CURSOR]})
    return int(value)


def page(rows: list[T], limit: int, id_of: Callable[[T], int]) -> tuple[list[T], str | None]:
    """The first `limit` rows and the cursor of the next page (None on the last one)."""
    if len(rows) > limit:
        return rows[:limit], encode_cursor(id_of(rows[limit - 1]))
    return rows, None
