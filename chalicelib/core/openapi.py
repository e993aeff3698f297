"""Building blocks for each area's OpenAPI fragment (`<area>/openapi.py`).

The document itself is assembled by `chalicelib/system/openapi.py` from the areas it
lists; these helpers live in core so an area never imports another area to describe itself.
"""

from __future__ import annotations

from typing import Any

# What core/validation.Validator accepts, said in the schema so that schema-valid input is
# valid input (schemathesis' positive_data_acceptance holds the document to that). The
# schema may be stricter than the validator (the email's ASCII local part), never looser.
NO_NUL = "^[^\\x00]*$"
SOME_TEXT = "^[^\\x00]*[^\\s\\x00][^\\x00]*$"  # no NUL, not empty once stripped
_LINE = "\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069"  # Validator.name refuses these
ONE_LINE = f"^[^{_LINE}]*[^\\s{_LINE}][^{_LINE}]*$"  # one line, no control or bidi characters, not blank
EMAIL_PATTERN = (
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)


def text(min_length: int = 1, max_length: int = 255) -> dict[str, Any]:
    """A Validator.text field: stripped, not empty, no NUL."""
    return {"type": "string", "minLength": min_length, "maxLength": max_length, "pattern": SOME_TEXT}


def name(max_length: int = 255) -> dict[str, Any]:
    """A Validator.name field: one line, no control or bidi characters, not blank."""
    return {"type": "string", "minLength": 1, "maxLength": max_length, "pattern": ONE_LINE}


def email() -> dict[str, Any]:
    """A Validator.email field (documented with an ASCII local part, a subset of what it takes)."""
    return {"type": "string", "format": "email", "maxLength": 255, "pattern": EMAIL_PATTERN}


def password(min_length: int = 1) -> dict[str, Any]:
    """A Validator.password field (not stripped, but not blank either)."""
    return {"type": "string", "minLength": min_length, "maxLength": 1024, "pattern": SOME_TEXT}


def error_responses(*statuses: int) -> dict[str, Any]:
    text = {400: "Malformed request", 401: "Missing or invalid credentials", 403: "Not allowed",
            404: "Not found, or not yours", 405: "Method not allowed", 409: "Conflict",
            413: "Body too large", 415: "Unsupported media type", 422: "Invalid input",
            429: "Rate limited (see Retry-After)", 502: "An upstream service (Stripe, Instagram) failed",
            503: "A dependency is unavailable"}  # fmt: skip
    return {
        str(s): {
            "description": text[s],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for s in statuses
    }


def json_body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def json_ok(schema: dict[str, Any], description: str = "OK", status: str = "200") -> dict[str, Any]:
    return {status: {"description": description, "content": {"application/json": {"schema": schema}}}}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def list_of(schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["data", "next_cursor"],
        "properties": {"data": {"type": "array", "items": schema}, "next_cursor": {"type": ["string", "null"]}},
    }


PAGE_PARAMETERS = [
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}},
    {
        "name": "cursor",
        "in": "query",
        "description": "Opaque: the next_cursor of the previous page (empty or absent for the first page). "
        "A value the API did not issue is refused with 422.",
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]*$", "maxLength": 200},
    },
]

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
                "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
            },
        }
    },
}
