"""OpenAPI fragment of the CRM routes (assembled by chalicelib/system/openapi.py)."""

from __future__ import annotations

from typing import Any

from chalicelib.core.openapi import (
    ONE_LINE,
    PAGE_PARAMETERS,
    email,
    error_responses,
    json_body,
    json_ok,
    list_of,
    name,
    ref,
    text,
)

_TIME = {"type": "string", "format": "date-time"}
_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
_STATUSES = ["subscribed", "pending", "unsubscribed", "bounced", "complained"]
_SOURCES = ["manual", "import", "form", "purchase", "api"]
_ACTIVITY_TYPES = ["created", "note", "form_submitted", "purchase", "email_sent", "email_opened", "email_clicked",
                   "unsubscribed", "bounced", "tag_added", "imported"]  # fmt: skip
_TAG = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": ONE_LINE}
_TAGS_LIST = {"type": "array", "items": _TAG, "maxItems": 50}
_FIELDS = {
    "type": "object",
    "maxProperties": 50,
    "propertyNames": {"minLength": 1, "maxLength": 64, "pattern": ONE_LINE},
    "additionalProperties": {"type": "string", "maxLength": 1000, "pattern": "^[^\\x00]*$"},
}
_DAY_OR_TIME = {
    "type": "string",
    "description": "YYYY-MM-DD (that UTC day's midnight) or an ISO 8601 time",
    "pattern": "^\\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])(T\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?(Z|[+-]\\d{2}:\\d{2})?)?$",
}


def _one_or_many(values: list[str]) -> dict[str, Any]:
    return {"oneOf": [{"enum": values}, {"type": "array", "items": {"enum": values}, "minItems": 1}]}


SCHEMAS: dict[str, Any] = {
    "Contact": {
        "type": "object",
        "required": [
            "id",
            "email",
            "name",
            "phone",
            "tags",
            "fields",
            "source",
            "status",
            "created_at",
            "updated_at",
            "last_activity_at",
        ],
        "properties": {
            "id": {"type": "integer"},
            "email": {"type": "string"},
            "name": {"type": ["string", "null"]},
            "phone": {"type": ["string", "null"]},
            "tags": {"type": "array", "items": {"type": "string"}},
            "fields": {"type": "object", "additionalProperties": {"type": "string"}},
            "source": {"enum": _SOURCES},
            "status": {"enum": _STATUSES},
            "created_at": _TIME,
            "updated_at": _TIME,
            "last_activity_at": _NULLABLE_TIME,
        },
    },
    "Activity": {
        "type": "object",
        "required": ["id", "type", "data", "created_at"],
        "properties": {
            "id": {"type": "integer"},
            "type": {"enum": _ACTIVITY_TYPES},
            "data": {"type": "object"},
            "created_at": _TIME,
        },
    },
    "SegmentFilter": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "tags_any": _TAGS_LIST,
            "tags_all": _TAGS_LIST,
            "status": _one_or_many(_STATUSES),
            "source": _one_or_many(_SOURCES),
            "created_after": _DAY_OR_TIME,
            "created_before": _DAY_OR_TIME,
        },
    },
    "Segment": {
        "type": "object",
        "required": ["id", "name", "filter", "contacts", "created_at", "updated_at"],
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "filter": {"$ref": "#/components/schemas/SegmentFilter"},
            "contacts": {"type": "integer", "minimum": 0, "description": "Contacts matching the filter now"},
            "created_at": _TIME,
            "updated_at": _TIME,
        },
    },
    "Import": {
        "type": "object",
        "required": [
            "id",
            "status",
            "progress",
            "created",
            "updated",
            "skipped",
            "errors",
            "created_at",
            "finished_at",
        ],
        "properties": {
            "id": {"type": "integer"},
            "status": {"enum": ["queued", "running", "done", "failed"]},
            "progress": {
                "type": "object",
                "required": ["done", "total"],
                "properties": {"done": {"type": "integer"}, "total": {"type": ["integer", "null"]}},
            },
            "created": {"type": "integer"},
            "updated": {"type": "integer"},
            "skipped": {"type": "integer"},
            "errors": {
                "type": "array",
                "description": "The first 100 skipped rows; errors_more counts the rest",
                "items": {
                    "type": "object",
                    "required": ["row", "message"],
                    "properties": {"row": {"type": "integer"}, "message": {"type": "string"}},
                },
            },
            "errors_more": {"type": "integer"},
            "message": {"type": ["string", "null"], "description": "Why a failed import stopped"},
            "created_at": _TIME,
            "finished_at": _NULLABLE_TIME,
        },
    },
}

_CONTACT_FIELDS = {
    "email": email(),
    "name": name(),
    "phone": name(64),
    "tags": _TAGS_LIST,
    "fields": _FIELDS,
    "status": {"enum": ["subscribed", "unsubscribed"]},
}
_CREATE_CONTACT = {
    "type": "object",
    "required": ["email"],
    "additionalProperties": False,
    "properties": _CONTACT_FIELDS,
}
_UPDATE_CONTACT = {"type": "object", "additionalProperties": False, "properties": _CONTACT_FIELDS}
_NOTE = {"type": "object", "required": ["body"], "additionalProperties": False, "properties": {"body": text(1, 10_000)}}
_SEGMENT_FIELDS = {"name": name(), "filter": ref("SegmentFilter")}
_CREATE_SEGMENT = {
    "type": "object",
    "required": ["name", "filter"],
    "additionalProperties": False,
    "properties": _SEGMENT_FIELDS,
}
_UPDATE_SEGMENT = {"type": "object", "additionalProperties": False, "properties": _SEGMENT_FIELDS}
_BEARER = [{"bearerAuth": []}]
_TAGS = ["crm"]
_LIST_FILTERS = [
    {
        "name": "q",
        "in": "query",
        "description": "Email or name prefix",
        "schema": {"type": "string", "maxLength": 255, "pattern": "^[^\\x00]*$"},
    },
    {"name": "tag", "in": "query", "schema": _TAG},
    {"name": "status", "in": "query", "schema": {"enum": _STATUSES}},
    {"name": "source", "in": "query", "schema": {"enum": _SOURCES}},
    {
        "name": "segment_id",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": 999_999_999_999_999_999},
    },
]
_SORT = {
    "name": "sort",
    "in": "query",
    "schema": {"enum": ["-created", "created", "email", "-email", "name", "-name"], "default": "-created"},
}


def _id(param: str) -> list[dict[str, object]]:
    return [{"name": param, "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}]


def _op(summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"summary": summary, "tags": _TAGS, "security": _BEARER, **extra, "responses": responses}


PATHS: dict[str, Any] = {
    "/api/contacts": {
        "get": _op(
            "Your contacts, newest first (or by ?sort=), filtered",
            {**json_ok(list_of(ref("Contact"))), **error_responses(401, 403, 404, 422, 429)},
            parameters=[*PAGE_PARAMETERS, *_LIST_FILTERS, _SORT],
        ),
        "post": _op(
            "Add a contact (source api); 409 when the email is already a contact, 403 at the plan's limit",
            {**json_ok(ref("Contact"), "Created", "201"), **error_responses(400, 401, 403, 409, 413, 415, 422, 429)},
            requestBody=json_body(_CREATE_CONTACT),
        ),
    },
    "/api/contacts/{contact_id}": {
        "get": _op(
            "One contact",
            {**json_ok(ref("Contact")), **error_responses(401, 403, 404, 429)},
            parameters=_id("contact_id"),
        ),
        "patch": _op(
            "Partial update (tags and fields replace the whole value)",
            {**json_ok(ref("Contact")), **error_responses(400, 401, 403, 404, 409, 413, 415, 422, 429)},
            parameters=_id("contact_id"),
            requestBody=json_body(_UPDATE_CONTACT, required=False),
        ),
        "delete": _op(
            "Delete the contact and its whole timeline",
            {"204": {"description": "Deleted"}, **error_responses(401, 403, 404, 429)},
            parameters=_id("contact_id"),
        ),
    },
    "/api/contacts/{contact_id}/activities": {
        "get": _op(
            "The contact's timeline, newest first",
            {**json_ok(list_of(ref("Activity"))), **error_responses(401, 403, 404, 422, 429)},
            parameters=[*_id("contact_id"), *PAGE_PARAMETERS],
        ),
    },
    "/api/contacts/{contact_id}/notes": {
        "post": _op(
            "Add a note (Markdown, shown escaped) to the timeline",
            {**json_ok(ref("Activity"), "Created", "201"), **error_responses(400, 401, 403, 404, 413, 415, 422, 429)},
            parameters=_id("contact_id"),
            requestBody=json_body(_NOTE),
        ),
    },
    "/api/tags": {
        "get": _op(
            "Your tags with how many contacts have each",
            {
                **json_ok(
                    {
                        "type": "object",
                        "required": ["data"],
                        "properties": {
                            "data": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["name", "contacts"],
                                    "properties": {"name": {"type": "string"}, "contacts": {"type": "integer"}},
                                },
                            }
                        },
                    }
                ),
                **error_responses(401, 403, 429),
            },
        ),
    },
    "/api/segments": {
        "get": _op(
            "Your segments with their current counts",
            {**json_ok(list_of(ref("Segment"))), **error_responses(401, 403, 422, 429)},
            parameters=PAGE_PARAMETERS,
        ),
        "post": _op(
            "Save a segment (a filter over your contacts)",
            {**json_ok(ref("Segment"), "Created", "201"), **error_responses(400, 401, 403, 413, 415, 422, 429)},
            requestBody=json_body(_CREATE_SEGMENT),
        ),
    },
    "/api/segments/{segment_id}": {
        "get": _op(
            "One segment with its current count",
            {**json_ok(ref("Segment")), **error_responses(401, 403, 404, 429)},
            parameters=_id("segment_id"),
        ),
        "patch": _op(
            "Rename a segment or replace its filter",
            {**json_ok(ref("Segment")), **error_responses(400, 401, 403, 404, 413, 415, 422, 429)},
            parameters=_id("segment_id"),
            requestBody=json_body(_UPDATE_SEGMENT, required=False),
        ),
        "delete": _op(
            "Delete a segment (its contacts stay)",
            {"204": {"description": "Deleted"}, **error_responses(401, 403, 404, 429)},
            parameters=_id("segment_id"),
        ),
    },
}

_CSV_BODY = {
    "required": True,
    "description": "A CSV file (UTF-8 with or without BOM, or Latin-1; comma, semicolon or tab) with a header row: "
    "email, name, phone, tags (separated by ;); any other column becomes a custom field",
    "content": {
        ctype: {"schema": {"type": "string", "maxLength": 10 * 1024 * 1024}}
        for ctype in ("text/csv", "text/plain", "application/octet-stream")
    },
}
_PERSONAL_DATA = {
    "type": "object",
    "required": ["contact", "consent", "activities", "exported_at"],
    "properties": {
        "contact": ref("Contact"),
        "consent": {
            "type": "object",
            "required": ["given_at", "method", "page_url"],
            "properties": {
                "given_at": _NULLABLE_TIME,
                "method": {"type": ["string", "null"]},
                "page_url": {"type": ["string", "null"]},
            },
        },
        "activities": {"type": "array", "items": ref("Activity")},
        "exported_at": _TIME,
    },
}

PATHS.update(
    {
        "/api/contacts/import": {
            "post": _op(
                "Import contacts from a CSV file: 202 with the Import, applied in the background (poll it)",
                {
                    **json_ok(ref("Import"), "Accepted", "202"),
                    **error_responses(400, 401, 403, 413, 415, 422, 429, 503),
                },
                requestBody=_CSV_BODY,
            ),
        },
        "/api/contacts/imports/{import_id}": {
            "get": _op(
                "An import's progress, counts and the rows it skipped",
                {**json_ok(ref("Import")), **error_responses(401, 403, 404, 429)},
                parameters=_id("import_id"),
            ),
        },
        "/api/contacts/export": {
            "get": _op(
                "The contacts matching the list's filters, as CSV",
                {
                    "200": {"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}},
                    **error_responses(401, 403, 404, 422, 429),
                },
                parameters=_LIST_FILTERS,
            ),
        },
        "/api/contacts/{contact_id}/export": {
            "get": _op(
                "Everything held about one contact (a privacy request): details, consent, the whole timeline",
                {**json_ok(_PERSONAL_DATA), **error_responses(401, 403, 404, 429)},
                parameters=_id("contact_id"),
            ),
        },
    }
)
