"""OpenAPI fragment of the accounts routes (assembled by chalicelib/system/openapi.py)."""

from __future__ import annotations

from chalicelib.accounts import access
from chalicelib.core.openapi import (
    PAGE_PARAMETERS,
    email,
    error_responses,
    json_body,
    json_ok,
    list_of,
    name,
    password,
    ref,
)

_ABILITY = {"enum": ["*", *access.ABILITIES]}

SCHEMAS = {
    "User": {
        "type": "object",
        "required": ["id", "name", "email", "role", "plan", "email_verified", "created_at"],
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "email": {"type": "string", "format": "email"},
            "role": {"enum": ["regular", "premium", "admin", "super_admin"]},
            "plan": {"enum": list(access.PLANS)},
            "email_verified": {"type": "boolean"},
            "created_at": {"type": "string", "format": "date-time"},
        },
    },
    "UserWithToken": {
        "type": "object",
        "required": ["user", "token"],
        "properties": {"user": ref("User"), "token": {"type": "string", "description": "Shown once"}},
    },
    "Token": {
        "type": "object",
        "required": ["id", "name", "abilities", "last_used_at", "expires_at", "created_at"],
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "abilities": {"type": "array", "items": _ABILITY},
            "last_used_at": {"type": ["string", "null"], "format": "date-time"},
            "expires_at": {
                "type": ["string", "null"],
                "format": "date-time",
                "description": "When the token stops working; null: never. Tokens from login and "
                "registration expire after LOGIN_TOKEN_TTL_DAYS (30 days by default).",
            },
            "created_at": {"type": "string", "format": "date-time"},
        },
    },
    "NewToken": {
        "allOf": [ref("Token"), {"type": "object", "required": ["token"], "properties": {"token": {"type": "string"}}}]
    },
}

_REGISTER = {
    "type": "object",
    "required": ["name", "email", "password"],
    "properties": {
        "name": name(),
        "email": email(),
        "password": password(min_length=10),
    },
}
_LOGIN = {
    "type": "object",
    "required": ["email", "password"],
    "properties": {
        "email": email(),
        "password": password(),
        "token_name": {
            "type": "string",
            "maxLength": 100,
            "description": "A label for the token (cleaned to one line); the token expires after 30 days",
        },
    },
}
_CREATE_TOKEN = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": name(max_length=100),
        "abilities": {"type": "array", "items": _ABILITY, "minItems": 1},
        "expires_in_days": {
            "type": ["integer", "null"],
            "minimum": 1,
            "maximum": 3650,
            "description": "Days until the token stops working; absent or null: never",
        },
    },
}
_BEARER = [{"bearerAuth": []}]
_TOKEN_ID = [{"name": "token_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}]

PATHS = {
    "/api/auth/register": {
        "post": {
            "summary": "Create an account; returns the user and a token (shown once, expires in 30 days)",
            "description": "409 when the address (in its canonical form) has an account, as clients need; "
            "sign-up, sign-in and reset requests share a per-IP limit (AUTH_RATE_PER_MINUTE), "
            "and answer 503 while Redis, which counts them, is down.",
            "tags": ["accounts"],
            "security": [],
            "requestBody": json_body(_REGISTER),
            "responses": {
                **json_ok(ref("UserWithToken"), "Registered", "201"),
                **error_responses(400, 409, 413, 415, 422, 429, 503),
            },
        }
    },
    "/api/auth/login": {
        "post": {
            "summary": "Exchange credentials for a token",
            "tags": ["accounts"],
            "security": [],
            "requestBody": json_body(_LOGIN),
            "responses": {**json_ok(ref("UserWithToken")), **error_responses(400, 401, 403, 415, 422, 429, 503)},
        }
    },
    "/api/auth/logout": {
        "post": {
            "summary": "Revoke the presenting token",
            "tags": ["accounts"],
            "security": _BEARER,
            "responses": {"204": {"description": "Revoked"}, **error_responses(401, 403, 429)},
        }
    },
    "/api/me": {
        "get": {
            "summary": "The token's user",
            "tags": ["accounts"],
            "security": _BEARER,
            "responses": {**json_ok(ref("User")), **error_responses(401, 403, 429)},
        }
    },
    "/api/tokens": {
        "get": {
            "summary": "Your personal access tokens (never their secrets)",
            "tags": ["accounts"],
            "security": _BEARER,
            "parameters": PAGE_PARAMETERS,
            "responses": {**json_ok(list_of(ref("Token"))), **error_responses(401, 403, 422, 429)},
        },
        "post": {
            "summary": "Create a token; its plaintext is in this response only",
            "tags": ["accounts"],
            "security": _BEARER,
            "requestBody": json_body(_CREATE_TOKEN),
            "responses": {
                **json_ok(ref("NewToken"), "Created", "201"),
                **error_responses(400, 401, 403, 415, 422, 429),
            },
        },
    },
    "/api/tokens/{token_id}": {
        "delete": {
            "summary": "Revoke one of your tokens",
            "tags": ["accounts"],
            "security": _BEARER,
            "parameters": _TOKEN_ID,
            "responses": {"204": {"description": "Revoked"}, **error_responses(401, 403, 404, 429)},
        }
    },
}
