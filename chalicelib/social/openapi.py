"""OpenAPI fragment of the social routes (assembled by chalicelib/system/openapi.py)."""

from __future__ import annotations

from chalicelib.core.openapi import PAGE_PARAMETERS, error_responses, json_body, json_ok, list_of, ref

_TIME = {"type": "string", "format": "date-time"}
_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}

SCHEMAS = {
    "InstagramAccount": {
        "type": "object",
        "required": [
            "id",
            "ig_user_id",
            "username",
            "name",
            "profile_picture_url",
            "followers_count",
            "media_count",
            "status",
            "token_expires_at",
            "connected_at",
        ],
        "properties": {
            "id": {"type": "integer"},
            "ig_user_id": {"type": "string"},
            "username": {"type": "string"},
            "name": {"type": "string"},
            "profile_picture_url": {"type": ["string", "null"]},
            "followers_count": {"type": "integer", "minimum": 0},
            "media_count": {"type": "integer", "minimum": 0},
            "status": {"enum": ["connected", "expired", "revoked"]},
            "token_expires_at": _NULLABLE_TIME,
            "connected_at": _TIME,
        },
    },
    "InstagramMedia": {
        "type": "object",
        "required": [
            "id",
            "caption",
            "media_type",
            "media_url",
            "permalink",
            "timestamp",
            "like_count",
            "comments_count",
        ],
        "properties": {
            "id": {"type": "string"},
            "caption": {"type": ["string", "null"]},
            "media_type": {"type": "string"},
            "media_url": {"type": ["string", "null"]},
            "permalink": {"type": ["string", "null"]},
            "timestamp": _NULLABLE_TIME,
            "like_count": {"type": "integer"},
            "comments_count": {"type": "integer"},
        },
    },
    "InstagramInsights": {
        "type": "object",
        "required": ["followers_count", "series"],
        "properties": {
            "followers_count": {"type": "integer"},
            "series": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["date", "reach", "views", "follower_count"],
                    "properties": {
                        "date": {"type": "string", "format": "date"},
                        "reach": {"type": ["integer", "null"]},
                        "views": {"type": ["integer", "null"]},
                        "follower_count": {"type": ["integer", "null"]},
                    },
                },
            },
        },
    },
    "Post": {
        "type": "object",
        "required": [
            "id",
            "account_id",
            "caption",
            "image_url",
            "scheduled_at",
            "status",
            "attempts",
            "error",
            "permalink",
            "published_at",
            "created_at",
        ],
        "properties": {
            "id": {"type": "integer"},
            "account_id": {"type": "integer"},
            "caption": {"type": "string"},
            "image_url": {"type": "string"},
            "scheduled_at": _TIME,
            "status": {"enum": ["scheduled", "publishing", "published", "failed", "canceled"]},
            "attempts": {"type": "integer"},
            "error": {"type": ["string", "null"]},
            "permalink": {"type": ["string", "null"]},
            "published_at": _NULLABLE_TIME,
            "created_at": _TIME,
        },
    },
    "Upload": {
        "type": "object",
        "required": ["upload_url", "method", "headers", "image_url", "expires_at"],
        "properties": {
            "upload_url": {"type": "string", "description": "PUT the JPEG here (a presigned S3 URL in AWS)"},
            "method": {"enum": ["PUT"]},
            "headers": {"type": "object", "additionalProperties": {"type": "string"}},
            "image_url": {"type": "string", "description": "The public URL to schedule a post with"},
            "expires_at": _TIME,
        },
    },
}

_POST_FIELDS = {
    "account_id": {"type": "integer", "minimum": 1},
    "caption": {"type": "string", "maxLength": 2200, "description": "At most 30 hashtags"},
    "image_url": {"type": "string", "description": "A public https URL of a JPEG image"},
    "scheduled_at": {"type": "string", "format": "date-time", "description": "In the future, with a zone"},
}
_CREATE_POST = {
    "type": "object",
    "required": ["account_id", "image_url", "scheduled_at"],
    "additionalProperties": False,
    "properties": _POST_FIELDS,
}
_UPDATE_POST = {"type": "object", "additionalProperties": False, "properties": _POST_FIELDS}
_UPLOAD = {
    "type": "object",
    "required": ["content_type", "size"],
    "additionalProperties": False,
    "properties": {
        "content_type": {"enum": ["image/jpeg"]},
        "size": {"type": "integer", "minimum": 1, "maximum": 8 * 1024 * 1024},
    },
}
_BEARER = [{"bearerAuth": []}]
_TAGS = ["social"]


def _id(name: str) -> list[dict[str, object]]:
    return [{"name": name, "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}]


PATHS = {
    "/api/social/accounts": {
        "get": {
            "summary": "Your connected Instagram accounts",
            "tags": _TAGS,
            "security": _BEARER,
            "parameters": PAGE_PARAMETERS,
            "responses": {**json_ok(list_of(ref("InstagramAccount"))), **error_responses(401, 403, 422, 429)},
        }
    },
    "/api/social/accounts/{account_id}": {
        "delete": {
            "summary": "Disconnect: the token is deleted and scheduled posts are canceled",
            "tags": _TAGS,
            "security": _BEARER,
            "parameters": _id("account_id"),
            "responses": {"204": {"description": "Disconnected"}, **error_responses(401, 403, 404, 429)},
        }
    },
    "/api/social/instagram/connect": {
        "post": {
            "summary": "The Instagram authorization URL (with a single-use state valid 10 minutes)",
            "tags": _TAGS,
            "security": _BEARER,
            "responses": {
                **json_ok({"type": "object", "required": ["url"], "properties": {"url": {"type": "string"}}}),
                **error_responses(401, 403, 429, 503),
            },
        }
    },
    "/api/social/accounts/{account_id}/media": {
        "get": {
            "summary": "The account's recent media (cached 10 minutes)",
            "tags": _TAGS,
            "security": _BEARER,
            "parameters": _id("account_id"),
            "responses": {**json_ok(list_of(ref("InstagramMedia"))), **error_responses(401, 403, 404, 409, 429, 502)},
        }
    },
    "/api/social/accounts/{account_id}/insights": {
        "get": {
            "summary": "Followers now and reach, views and followers by UTC day (cached an hour)",
            "tags": _TAGS,
            "security": _BEARER,
            "parameters": [
                *_id("account_id"),
                {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"}},
                {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"}},
            ],
            "responses": {
                **json_ok(ref("InstagramInsights")),
                **error_responses(401, 403, 404, 409, 422, 429, 502),
            },
        }
    },
    "/api/social/posts": {
        "get": {
            "summary": "Your scheduled and past posts, newest first",
            "tags": _TAGS,
            "security": _BEARER,
            "parameters": PAGE_PARAMETERS,
            "responses": {**json_ok(list_of(ref("Post"))), **error_responses(401, 403, 422, 429)},
        },
        "post": {
            "summary": "Schedule a post",
            "tags": _TAGS,
            "security": _BEARER,
            "requestBody": json_body(_CREATE_POST),
            "responses": {
                **json_ok(ref("Post"), "Scheduled", "201"),
                **error_responses(400, 401, 403, 413, 415, 422, 429),
            },
        },
    },
    "/api/social/posts/{post_id}": {
        "get": {
            "summary": "One post",
            "tags": _TAGS,
            "security": _BEARER,
            "parameters": _id("post_id"),
            "responses": {**json_ok(ref("Post")), **error_responses(401, 403, 404, 429)},
        },
        "patch": {
            "summary": "Edit or reschedule a post while it is scheduled",
            "tags": _TAGS,
            "security": _BEARER,
            "parameters": _id("post_id"),
            "requestBody": json_body(_UPDATE_POST, required=False),
            "responses": {**json_ok(ref("Post")), **error_responses(400, 401, 403, 404, 409, 413, 415, 422, 429)},
        },
        "delete": {
            "summary": "Cancel a scheduled post",
            "tags": _TAGS,
            "security": _BEARER,
            "parameters": _id("post_id"),
            "responses": {"204": {"description": "Canceled"}, **error_responses(401, 403, 404, 409, 429)},
        },
    },
    "/api/social/uploads": {
        "post": {
            "summary": "Where to upload a JPEG (≤ 8 MB) for a post, and the public URL to schedule it with",
            "tags": _TAGS,
            "security": _BEARER,
            "requestBody": json_body(_UPLOAD),
            "responses": {
                **json_ok(ref("Upload"), "Upload ticket", "201"),
                **error_responses(400, 401, 403, 413, 415, 422, 429),
            },
        }
    },
}
