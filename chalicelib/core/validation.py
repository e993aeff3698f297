"""Input validation with messages a person can act on, collected per field.

v = Validator(data)
name = v.text("name", max_len=255)
email = v.email("email")
v.done()  # raises ValidationFailed (422, API.md "fields") if anything was wrong
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from chalicelib.core.errors import ValidationFailed

# Pragmatic address check: one @, a dotted domain, no spaces or control characters.
EMAIL_PATTERN = r"^[^@\s\x00-\x1f]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
_EMAIL = re.compile(EMAIL_PATTERN)


class Validator:
    def __init__(self, data: dict[str, Any] | None) -> None:
        self.data = data or {}
        self.errors: dict[str, list[str]] = {}

    def error(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def _raw(self, field: str, required: bool) -> Any:
        value = self.data.get(field)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.error(field, "This field is required.")
            return None
        return value

    def text(
        self, field: str, *, required: bool = True, min_len: int = 1, max_len: int = 255, strip: bool = True
    ) -> str | None:
        value = self._raw(field, required)
        if value is None:
            return None
        if not isinstance(value, str):
            self.error(field, "Must be a string.")
            return None
        if strip:
            value = value.strip()
        if "\x00" in value:
            self.error(field, "Must not contain NUL characters.")
            return None
        if len(value) < min_len:
            self.error(field, f"Must be at least {min_len} characters.")
        elif len(value) > max_len:
            self.error(field, f"Must be at most {max_len} characters.")
        return value

    def email(self, field: str = "email", *, required: bool = True) -> str | None:
        value = self.text(field, required=required, max_len=255)
        if value is None or field in self.errors:
            return None
        if not _EMAIL.match(value):
            self.error(field, "Enter a valid email address, like name@example.com.")
            return None
        return value.lower()

    def password(self, field: str = "password", *, required: bool = True) -> str | None:
        # Not stripped: spaces are legitimate password characters.
        return self.text(field, required=required, min_len=1, max_len=1024, strip=False)

    def choice(self, field: str, options: Iterable[str], *, required: bool = True) -> str | None:
        allowed = list(options)
        value = self._raw(field, required)
        if value is None:
            return None
        if not isinstance(value, str) or value not in allowed:
            self.error(field, f"Must be one of: {', '.join(allowed)}.")
            return None
        return value

    def choices(self, field: str, options: Iterable[str], *, required: bool = False) -> list[str] | None:
        allowed = list(options)
        value = self._raw(field, required)
        if value is None:
            return None
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            self.error(field, "Must be a non-empty list of strings.")
            return None
        unknown = [v for v in value if v not in allowed]
        if unknown:
            self.error(field, f"Unknown: {', '.join(unknown[:5])}. Allowed: {', '.join(allowed)}.")
            return None
        return list(dict.fromkeys(value))

    def unknown_fields(self, allowed: Iterable[str]) -> None:
        for key in self.data:
            if key not in set(allowed):
                self.error(str(key)[:64], "Unknown field.")

    def done(self) -> None:
        if self.errors:
            raise ValidationFailed(self.errors)
