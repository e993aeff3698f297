"""The canonical email form every area uses for identity (core/validation.canonical_email)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.core.validation import EmailNotCanonical, Validator, canonical_email


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("Ada@Example.COM", "ada@example.com"),
        ("  ada@example.com ", "ada@example.com"),
        ("a\u200bda@example.com", "ada@example.com"),
        ("a\u00adda@example.com", "ada@example.com"),
        ("\ufeffada@example.com", "ada@example.com"),
        ("\uff41\uff44\uff41@example.com", "ada@example.com"),
        ("ada@\uff45xample.com", "ada@example.com"),
        ("STRA\u00dfE@example.com", "strasse@example.com"),
        ("\ufb00@example.com", "ff@example.com"),
        ("\u01c5ord@example.com", "d\u017eord@example.com"),
        ("d\u00ebmo@example.com", "d\u00ebmo@example.com"),  # accents are kept: another address
        ("de\u0308mo@example.com", "d\u00ebmo@example.com"),  # …written either way
        ("\U0001d41ada@example.com", "ada@example.com"),
    ],
)
def test_canonical_forms(raw: str, canonical: str) -> None:
    assert canonical_email(raw) == canonical


@pytest.mark.parametrize(
    "raw",
    ["", "ada", "ada@", "@example.com", "a@b@example.com", "ada\uff20x@example.com", "ada\u0378@example.com",
     "ada\ue000@example.com", "ada\u0600@example.com", "ada\ufdd0@example.com", "ada\u0007@example.com",
     "a da@example.com", "ada\u3000x@example.com", "\u200b@example.com", "a" * 65 + "@example.com",
     "ada@" + "a" * 250 + ".com", "ada@exa_mple.com", None, 5],
)  # fmt: skip
def test_what_cannot_be_canonicalised_safely_is_refused(raw) -> None:
    with pytest.raises(EmailNotCanonical):
        canonical_email(raw)


def test_the_validator_records_a_refusal_on_the_field() -> None:
    v = Validator({"email": "ada\ue000@example.com"})
    assert v.email("email") is None
    assert v.errors["email"]


def test_the_validator_keeps_a_clean_display_form() -> None:
    v = Validator({"email": "A\u200bda@\uff25xample.COM"})
    assert v.email("email") == "ada@example.com"
    v = Validator({"email": "Stra\u00dfe@Example.com"})
    assert v.email("email") == "stra\u00dfe@example.com"  # mail goes to what was typed


@given(st.text(max_size=30), st.sampled_from(["example.com", "EXAMPLE.com", "ex-ample.co"]))
def test_canonical_is_stable_and_the_display_form_maps_to_it(local: str, domain: str) -> None:
    raw = f"{local}@{domain}"
    try:
        canonical = canonical_email(raw)
    except EmailNotCanonical:
        return
    assert canonical_email(canonical) == canonical
    v = Validator({"email": raw})
    display = v.email("email")
    assert display is not None, v.errors
    assert canonical_email(display) == canonical
