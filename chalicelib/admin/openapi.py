"""OpenAPI fragment of the admin routes (assembled by chalicelib/system/openapi.py)."""

from __future__ import annotations

from chalicelib.accounts import access
from chalicelib.admin import service
from chalicelib.core.openapi import PAGE_PARAMETERS, error_responses, json_body, json_ok, list_of, ref

_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}

SCHEMAS = {
    "AdminStats": {
        "type": "object",
        "required": ["users", "paying_users", "mrr", "sites", "published_sites", "pageviews_30d", "emails_sent_30d"],
        "properties": {
            "users": {"type": "integer", "minimum": 0},
            "paying_users": {"type": "integer", "minimum": 0, "description": "a live subscription or a pass in force"},
            "mrr": {**ref("Money"), "description": "live subscriptions per month (a yearly one counts a twelfth)"},
            "sites": {"type": "integer", "minimum": 0},
            "published_sites": {"type": "integer", "minimum": 0, "description": "served now (live and active)"},
            "pageviews_30d": {"type": "integer", "minimum": 0},
            "emails_sent_30d": {"type": "integer", "minimum": 0, "description": "0 until the email area reports it"},
        },
    },
    "AdminUser": {
        "description": "User plus what staff see. `role` is API.md's role: an account with role 'user' "
        "shows as regular or premium depending on its plan.",
        "allOf": [
            ref("User"),
            {
                "type": "object",
                "required": ["status", "last_login_at"],
                "properties": {"status": {"enum": list(service.USER_STATUSES)}, "last_login_at": _NULLABLE_TIME},
            },
        ],
    },
    "AdminSite": {
        "type": "object",
        "required": [
            "id",
            "name",
            "domain",
            "template",
            "status",
            "settings",
            "url",
            "created_at",
            "updated_at",
            "owner_id",
            "owner_email",
        ],
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "domain": {"type": "string"},
            "template": {"enum": ["professional", "modern", "classic"]},
            "status": {"enum": list(service.SITE_STATUSES)},
            "settings": {"type": "object"},
            "url": {"type": "string", "format": "uri"},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            "owner_id": {"type": "integer"},
            "owner_email": {"type": "string", "format": "email"},
        },
    },
    "AuditEntry": {
        "type": "object",
        "required": [
            "id",
            "actor_id",
            "actor_email",
            "action",
            "target_type",
            "target_id",
            "details",
            "ip",
            "created_at",
        ],
        "properties": {
            "id": {"type": "integer"},
            "actor_id": {"type": ["integer", "null"], "description": "null for command-line actions"},
            "actor_email": {"type": "string"},
            "action": {
                "enum": [
                    service.ROLE_CHANGED,
                    service.SUSPENDED,
                    service.REACTIVATED,
                    service.CREATED,
                    service.SITE_STATUS_CHANGED,
                ]
            },
            "target_type": {"enum": list(service.TARGET_TYPES)},
            "target_id": {"type": "integer"},
            "details": {
                "type": "object",
                "description": "before/after of what changed; a suspension lists sites_taken_offline, "
                "a reactivation sites_restored",
            },
            "ip": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"},
        },
    },
}

_UPDATE_USER = {
    "type": "object",
    "minProperties": 1,
    "additionalProperties": False,
    "properties": {
        "role": {"enum": list(access.ROLES), "description": "Only a super admin may change roles, never their own"},
        "status": {
            "enum": list(service.USER_STATUSES),
            "description": "Suspending ends the user's sessions and takes their active sites offline; "
            "reactivating restores those sites",
        },
    },
}
_UPDATE_SITE = {
    "type": "object",
    "required": ["status"],
    "additionalProperties": False,
    "properties": {"status": {"enum": list(service.SITE_STATUSES)}},
}
_BEARER = [{"bearerAuth": []}]
_SEARCH = [{"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 255}}]
_USER_ID = [{"name": "user_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}]
_SITE_ID = [{"name": "site_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}]
_AUDIT_FILTER = [
    {"name": "target_type", "in": "query", "schema": {"enum": list(service.TARGET_TYPES)}},
    {"name": "target_id", "in": "query", "schema": {"type": "integer", "minimum": 1}},
]
_STAFF = "Needs a staff account (admin or super_admin) and a token with the 'admin' ability."

PATHS = {
    "/api/admin/users": {
        "get": {
            "summary": "Every user, newest first; `q` searches name and email",
            "description": _STAFF,
            "tags": ["admin"],
            "security": _BEARER,
            "parameters": [*_SEARCH, *PAGE_PARAMETERS],
            "responses": {**json_ok(list_of(ref("AdminUser"))), **error_responses(401, 403, 422, 429)},
        }
    },
    "/api/admin/users/{user_id}": {
        "patch": {
            "summary": "Change a user's role and/or status (audited)",
            "description": _STAFF,
            "tags": ["admin"],
            "security": _BEARER,
            "parameters": _USER_ID,
            "requestBody": json_body(_UPDATE_USER),
            "responses": {**json_ok(ref("AdminUser")), **error_responses(400, 401, 403, 404, 415, 422, 429)},
        }
    },
    "/api/admin/sites": {
        "get": {
            "summary": "Every site with its owner, newest first; `q` searches name and domain",
            "description": _STAFF,
            "tags": ["admin"],
            "security": _BEARER,
            "parameters": [*_SEARCH, *PAGE_PARAMETERS],
            "responses": {**json_ok(list_of(ref("AdminSite"))), **error_responses(401, 403, 422, 429)},
        }
    },
    "/api/admin/sites/{site_id}": {
        "patch": {
            "summary": "Set a site's status (audited); 409 when activating a suspended owner's site",
            "description": _STAFF,
            "tags": ["admin"],
            "security": _BEARER,
            "parameters": _SITE_ID,
            "requestBody": json_body(_UPDATE_SITE),
            "responses": {**json_ok(ref("AdminSite")), **error_responses(400, 401, 403, 404, 409, 415, 422, 429)},
        }
    },
    "/api/admin/audit": {
        "get": {
            "summary": "The audit log of admin actions, newest first",
            "description": _STAFF,
            "tags": ["admin"],
            "security": _BEARER,
            "parameters": [*_AUDIT_FILTER, *PAGE_PARAMETERS],
            "responses": {**json_ok(list_of(ref("AuditEntry"))), **error_responses(401, 403, 422, 429)},
        }
    },
    "/api/admin/stats": {
        "get": {
            "summary": "The platform's figures: users, paying users, MRR, sites, pageviews and emails over 30 days",
            "description": _STAFF,
            "tags": ["admin"],
            "security": _BEARER,
            "responses": {**json_ok(ref("AdminStats")), **error_responses(401, 403, 429)},
        }
    },
}
