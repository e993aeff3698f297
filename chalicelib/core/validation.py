"""Input validation with messages a person can act on, collected per field.

v = Validator(data)
name = v.text("name", max_len=255)
email = v.email("email")
v.done()  # raises ValidationFailed (422, API.md "fields") if anything was wrong
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import date
from functools import cache
from typing import Any

from chalicelib.core.errors import ValidationFailed

_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

# Pragmatic address check: one @, a dotted domain, no spaces or control characters.
_EMAIL = re.compile(
    r"^[^@\s\x00-\x1f]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
EMAIL_MAX_LEN = 255
UNSAFE_EMAIL = "This address contains characters we cannot accept."

# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt): invisible characters
# (zero-width space, soft hyphen, joiners, bidi controls, variation selectors, tags …).
_DEFAULT_IGNORABLE = (
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)
# After ignorables are gone, none of these may remain in an address: controls, other
# format characters, surrogates, private use, unassigned (NFKC is only stable for
# assigned code points) and separators.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})
# In names: one line, nothing that moves or hides text (bidi overrides and isolates).
_NAME_REFUSED = "[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]"


@cache
def _pattern(source: str) -> re.Pattern[str]:
    """Compiled on first use: the wide character classes cost ~10 ms at cold start."""
    return re.compile(source)


def is_ascii_number(value: str, max_digits: int = 18) -> bool:
    """0-9 only: str.isdigit() also accepts "²" or "٣", which int() then refuses or misreads."""
    return 0 < len(value) <= max_digits and value.isascii() and value.isdigit()


class EmailNotCanonical(ValueError):
    """An address with no safe canonical form (unassigned, private-use or control characters,
    or one that changes shape when normalised). `characters`: the reason is a character,
    not the address's shape."""

    def __init__(self, message: str, *, characters: bool = False) -> None:
        super().__init__(message)
        self.characters = characters


# In ASCII, the only characters of _REFUSED_CATEGORIES are the controls and the space.
_ASCII_REFUSED = re.compile(r"[\x00-\x20\x7f]")


def _fold(value: str, *, casefold: bool) -> str:
    """NFKC, default-ignorables removed, case folded (or lower-cased), to a fixed point."""
    if value.isascii():
        # The same result without the Unicode work (CSV imports fold thousands of
        # addresses): ASCII is NFKC-stable, has no ignorables, and folds by lower().
        return value.strip().lower()
    current = value.strip()
    for _ in range(4):
        folded = _pattern(_DEFAULT_IGNORABLE).sub("", unicodedata.normalize("NFKC", current))
        folded = folded.casefold() if casefold else folded.lower()
        if folded == current:
            return current
        current = folded
    raise EmailNotCanonical("the address does not settle under normalisation", characters=True)


def _check_email_shape(value: str) -> None:
    if len(value) > EMAIL_MAX_LEN or not _EMAIL.match(value):
        raise EmailNotCanonical("the address is not a valid email address once normalised")
    if value.isascii():
        if _ASCII_REFUSED.search(value):
            raise EmailNotCanonical("the address contains characters with no safe canonical form", characters=True)
        return
    if any(unicodedata.category(c) in _REFUSED_CATEGORIES for c in value):
        raise EmailNotCanonical("the address contains characters with no safe canonical form", characters=True)


def canonical_email(raw: Any) -> str:
    """The one form of an address used for identity: lookups, uniqueness, lock-outs and
    rate-limit keys, in every area ("normalised the way accounts normalise emails").

    NFKC (full-width and compatibility characters become their plain forms), Unicode
    default-ignorable characters removed (zero-width space, soft hyphen, …), case folded
    (so "STRASSE" and "straße" meet). Accents and other scripts are kept: "dëmo" is
    another address than "demo". Raises EmailNotCanonical for what cannot be made
    canonical safely; Validator.email records that as a field error.

    Stored keys are computed by it (users.email_canonical): changing what it returns
    needs a migration that recomputes them, as 0004.accounts-canonical-emails did.
    """
    if not isinstance(raw, str):
        raise EmailNotCanonical("an address is a string")
    canonical = _fold(raw, casefold=True)
    _check_email_shape(canonical)
    return canonical


def clean_email(raw: str) -> str:
    """The address to store and mail to: NFKC, ignorables removed, lower-cased (not case
    folded: mail goes to "straße@…" as typed). Its canonical_email is the raw's."""
    clean = _fold(raw, casefold=False)
    _check_email_shape(clean)
    canonical_email(clean)
    return clean


def one_line(value: str) -> str:
    """`value` with control characters, line breaks and bidi controls turned into single
    spaces: for labels we accept whatever arrives (a token name at login), and for old
    names before they go into a plain-text mail."""
    return " ".join(_pattern(_NAME_REFUSED).sub(" ", value).split())


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
        self,
        field: str,
        *,
        required: bool = True,
        min_len: int = 1,
        max_len: int = 255,
        strip: bool = True,
        single_line: bool = False,
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
        if single_line and _pattern(_NAME_REFUSED).search(value):
            self.error(field, "Must be one line, without control characters.")
            return None
        if len(value) < min_len:
            self.error(field, f"Must be at least {min_len} characters.")
        elif len(value) > max_len:
            self.error(field, f"Must be at most {max_len} characters.")
        return value

    def email(self, field: str = "email", *, required: bool = True) -> str | None:
        """The address in its clean form (see clean_email); canonical_email of it never raises."""
        value = self.text(field, required=required, max_len=EMAIL_MAX_LEN)
        if value is None or field in self.errors:
            return None
        try:
            return clean_email(value)
        except EmailNotCanonical as exc:
            self.error(field, UNSAFE_EMAIL if exc.characters else "Enter a valid email address, like name@example.com.")
            return None

    def name(self, field: str = "name", *, required: bool = True, max_len: int = 255) -> str | None:
        """A person's or a thing's display name: one line, no control characters."""
        return self.text(field, required=required, max_len=max_len, single_line=True)

    def password(self, field: str = "password", *, required: bool = True) -> str | None:
        # Not stripped: spaces are legitimate password characters.
        return self.text(field, required=required, min_len=1, max_len=1024, strip=False)

    def integer(self, field: str, *, minimum: int, maximum: int, required: bool = False) -> int | None:
        """A JSON integer (not a boolean, a float or a numeric string) within bounds."""
        value = self.data.get(field)
        if value is None:
            if required:
                self.error(field, "This field is required.")
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
            self.error(field, f"Must be a whole number from {minimum} to {maximum}.")
            return None
        return value

    def day(self, field: str) -> date | None:
        """An optional UTC day as API.md writes them (YYYY-MM-DD, ASCII digits) that exists and
        lies in 1970-9998, so a default range around it (or the one before it) stays inside
        the years a datetime can hold; None when absent or empty."""
        raw = self.data.get(field)
        if raw is None or raw == "":
            return None
        if not isinstance(raw, str) or not _DAY.fullmatch(raw):
            self.error(field, "Use a date like 2026-01-31.")
            return None
        try:
            value = date.fromisoformat(raw)
        except ValueError:
            self.error(field, "This date does not exist.")
            return None
        if not 1970 <= value.year <= 9998:
            self.error(field, "Use a date between 1970 and 9998.")
            return None
        return value

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
