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
from chalicelib.core.openapi import ERROR_SCHEMA, error_responses, json_ok, ref

# Areas that publish JSON routes, in the order they appear in the document.
AREAS = ["system", "accounts", "admin", "payments", "sites", "social", "analytics", "crm", "email"]
# What any operation may answer, whatever its area says: a malformed request (a Content-Length
# that is not a number: API Gateway and the local server answer 400), a body over
# MAX_BODY_BYTES (413) and a Content-Type the route does not take (415, from Chalice; GETs too).
EVERY_OPERATION_MAY_ANSWER = (400, 413, 415)
_VERBS = ("get", "put", "post", "patch", "delete")


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
    common = error_responses(*EVERY_OPERATION_MAY_ANSWER)
    paths = {
        path: {verb: _with_common(op, common) if verb in _VERBS else op for verb, op in item.items()}
        for path, item in paths.items()
    }
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


def _with_common(operation: dict[str, Any], common: dict[str, Any]) -> dict[str, Any]:
    return {**operation, "responses": {**common, **operation.get("responses", {})}}


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
