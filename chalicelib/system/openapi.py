"""The OpenAPI 3.1 document of every JSON route, assembled from each area's fragment.

Each area keeps `PATHS` (and optional `SCHEMAS`) in its own `openapi.py`, next to the
routes they describe; a test checks the document against Chalice's route table both
ways, so a route cannot be added or removed without the document following.
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from typing import Any

from chalicelib import __version__

# Areas that publish JSON routes, in the order they appear in the document.
AREAS = ["system", "accounts", "admin"]


def error_responses(*statuses: int) -> dict[str, Any]:
    text = {400: "Malformed request", 401: "Missing or invalid credentials", 403: "Not allowed",
            404: "Not found, or not yours", 405: "Method not allowed", 409: "Conflict",
            413: "Body too large", 415: "Unsupported media type", 422: "Invalid input",
            429: "Rate limited (see Retry-After)", 503: "A dependency is unavailable"}  # fmt: skip
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


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {"Error": ERROR_SCHEMA}
    for area in AREAS:
        try:
            fragment = importlib.import_module(f"chalicelib.{area}.openapi")
        except ModuleNotFoundError:
            continue
        paths.update(getattr(fragment, "PATHS", {}))
        schemas.update(getattr(fragment, "SCHEMAS", {}))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Mewayz API",
            "version": __version__,
            "description": "JSON API of the Mewayz platform. Errors use the Error schema; lists are cursor-paginated.",
        },
        "servers": [{"url": "/"}],
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "description": "Personal access token"}
            },
        },
        "paths": paths,
    }


HEALTH = {
    "type": "object",
    "required": ["status", "version", "timestamp", "services"],
    "properties": {
        "status": {"enum": ["healthy", "unhealthy"]},
        "version": {"type": "string"},
        "timestamp": {"type": "string", "format": "date-time"},
        "services": {
            "type": "object",
            "required": ["database", "redis", "stripe"],
            "properties": {
                "database": {"enum": ["healthy", "unhealthy"]},
                "redis": {"enum": ["healthy", "unhealthy"]},
                "stripe": {"enum": ["configured", "not_configured"]},
            },
        },
    },
}

PATHS = {
    "/api/health": {
        "get": {
            "summary": "Liveness and dependency status",
            "tags": ["system"],
            "security": [],
            "responses": {
                **json_ok(ref("Health")),
                "503": {
                    "description": "The database is down",
                    "content": {"application/json": {"schema": ref("Health")}},
                },
            },
        }
    },
    "/api/openapi.json": {
        "get": {
            "summary": "This document",
            "tags": ["system"],
            "security": [],
            "responses": json_ok({"type": "object"}),
        }
    },
}
SCHEMAS = {"Health": HEALTH}
