"""Building blocks for each area's OpenAPI fragment (`<area>/openapi.py`).

The document itself is assembled by `chalicelib/system/openapi.py` from the areas it
lists; these helpers live in core so an area never imports another area to describe itself.
"""

from __future__ import annotations

from typing import Any


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
    {"name": "cursor", "in": "query", "schema": {"type": "string"}},
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
