"""OpenAPI fragment of the sites routes (assembled by chalicelib/system/openapi.py).

The request schemas are as strict as the validation (patterns, enums, lengths), so input
the document calls valid is accepted: what it cannot say (a taken domain, a plan quota)
answers 409/403, never 422.
"""

from __future__ import annotations

import re
from typing import Any

from chalicelib.core import config
from chalicelib.core.openapi import PAGE_PARAMETERS, error_responses, json_body, json_ok, list_of, ref
from chalicelib.sites import blocks as B
from chalicelib.sites import render
from chalicelib.sites.service import RESERVED_HANDLES

_BEARER = [{"bearerAuth": []}]
_NO_NUL = "^[^\\x00]*$"
_HAS_TEXT = "^[^\\x00]*[^\\s\\x00][^\\x00]*$"
_LABEL = "(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)"
_URL = f"^https?://{_LABEL}(?:\\.{_LABEL}){{0,8}}(?::[1-9][0-9]{{0,3}})?(?:[/?#][^\\s\\x00-\\x1f\\x7f]*)?$"
_EMBED = (
    "^https?://(?:www\\.)?(?:youtube\\.com/watch\\?v=[A-Za-z0-9_-]{11}|youtu\\.be/[A-Za-z0-9_-]{11}"
    "|vimeo\\.com/[0-9]{1,20}|open\\.spotify\\.com/(?:track|album|playlist|episode|show|artist)/[A-Za-z0-9]{22}"
    "|soundcloud\\.com/[A-Za-z0-9_-]{1,100}(?:/[A-Za-z0-9_-]{1,100}){0,2}"
    "|tiktok\\.com/@[A-Za-z0-9._]{1,64}/video/[0-9]{1,25})$"
)
_BASE = re.escape(config.get_settings().sites_base_domain.lower())
_HANDLE = f"^(?!(?:{'|'.join(sorted(RESERVED_HANDLES))})(?:\\.|$))[a-z0-9][a-z0-9-]{{1,61}}[a-z0-9](?:\\.{_BASE})?$"
_HOSTNAME = f"^(?!(?:[^.]+\\.)*{_BASE}$)(?:[a-z0-9](?:[a-z0-9-]{{0,61}}[a-z0-9])?\\.){{1,4}}[a-z]{{2,20}}$"
_DATE_TIME = {"type": "string", "format": "date-time", "description": "ISO 8601 with a zone"}


def _text(max_len: int, *, blank: bool = False) -> dict[str, Any]:
    return {"type": "string", "maxLength": max_len, "pattern": _NO_NUL if blank else _HAS_TEXT}


def _url() -> dict[str, Any]:
    return {"type": "string", "maxLength": 2048, "pattern": _URL}


def _obj(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


_COMMON = {
    "id": {"type": "string", "pattern": "^[A-Za-z0-9_-]{8,32}$", "description": "Opaque; set by the server"},
    "visible": {"type": "boolean", "default": True},
    "starts_at": _DATE_TIME,
    "ends_at": _DATE_TIME,
}
_MONEY = _obj(
    {"amount": {"type": "integer", "minimum": 50, "maximum": 99_999_999}, "currency": {"enum": list(B.CURRENCIES)}},
    ["amount", "currency"],
)
_BLOCK_FIELDS: dict[str, tuple[dict[str, Any], list[str]]] = {
    "link": ({"label": _text(100), "url": _url()}, ["label", "url"]),
    "heading": ({"text": _text(200)}, ["text"]),
    "text": ({"markdown": _text(10_000)}, ["markdown"]),
    "image": ({"url": _url(), "alt": _text(300, blank=True)}, ["url", "alt"]),
    "social": (
        {
            "links": {
                "type": "array",
                "minItems": 1,
                "maxItems": 20,
                "items": _obj({"network": {"enum": list(B.SOCIAL_NETWORKS)}, "url": _url()}, ["network", "url"]),
            }
        },
        ["links"],
    ),
    "embed": ({"url": {"type": "string", "maxLength": 2048, "pattern": _EMBED}}, ["url"]),
    "form": (
        {
            "kind": {"enum": list(B.FORM_KINDS)},
            "title": _text(100),
            "button_label": _text(40),
            # CRM: tags for the contacts a form brings; a subscribe form's opt-in (default double).
            "tags": {
                "oneOf": [
                    {
                        "type": "array",
                        "maxItems": 10,
                        "items": {"type": "string", "maxLength": 64, "pattern": "^[^\\x00-\\x1f\\x7f-\\x9f,]*$"},
                    },
                    {
                        "type": "string",
                        "description": "tags separated by commas",
                        "pattern": "^[^,\\x00-\\x1f\\x7f-\\x9f]{0,64}(,[^,\\x00-\\x1f\\x7f-\\x9f]{0,64}){0,9}$",
                    },
                ]
            },
            "opt_in": {"enum": list(B.FORM_OPT_INS)},
        },
        ["kind", "title", "button_label"],
    ),
    "pay": ({"title": _text(100), "description": _text(1000, blank=True), "price": _MONEY}, ["title", "price"]),
    "faq": (
        {
            "items": {
                "type": "array",
                "minItems": 1,
                "maxItems": 50,
                "items": _obj({"question": _text(300), "answer": _text(2000)}, ["question", "answer"]),
            }
        },
        ["items"],
    ),
    "divider": ({}, []),
}
BLOCK = {
    "oneOf": [
        _obj({"type": {"const": kind}, **_COMMON, **fields}, ["type", *required])
        for kind, (fields, required) in _BLOCK_FIELDS.items()
    ],
    "discriminator": {"propertyName": "type"},
}
_THEME = _obj(
    {
        "accent": {"type": "string", "pattern": "^#[0-9a-fA-F]{6}$"},
        "background": {"type": "string", "pattern": "^#[0-9a-fA-F]{6}$"},
        "text": {"type": "string", "pattern": "^#[0-9a-fA-F]{6}$"},
        "font": {"enum": list(render.FONTS)},
    }
)
_SETTINGS = _obj(
    {
        "theme": _THEME,
        "seo": _obj(
            {
                "title": _text(120, blank=True),
                "description": _text(300, blank=True),
                "image_url": {"anyOf": [_url(), {"const": ""}]},
            }
        ),
        "pixels": _obj(
            {
                "ga4": {"type": "string", "pattern": "^(G-[A-Z0-9]{4,16})?$"},
                "meta": {"type": "string", "pattern": "^([0-9]{5,20})?$"},
                "tiktok": {"type": "string", "pattern": "^([A-Z0-9]{10,30})?$"},
            }
        ),
        "hide_branding": {"type": "boolean"},
    }
)
_CUSTOM_DOMAIN = {
    "type": "object",
    "required": ["domain", "status", "txt_record", "checked_at", "verified_at"],
    "properties": {
        "domain": {"type": "string"},
        "status": {"enum": ["pending", "verified", "failed"]},
        "txt_record": {
            "type": "object",
            "required": ["name", "value"],
            "properties": {"name": {"type": "string"}, "value": {"type": "string"}},
        },
        "reason": {"type": ["string", "null"]},
        "checked_at": {"type": ["string", "null"], "format": "date-time"},
        "verified_at": {"type": ["string", "null"], "format": "date-time"},
    },
}
_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}

SCHEMAS = {
    "Site": {
        "type": "object",
        "required": [
            "id",
            "name",
            "domain",
            "url",
            "template",
            "status",
            "settings",
            "custom_domain",
            "live_version",
            "published_at",
            "created_at",
            "updated_at",
        ],
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "domain": {"type": "string"},
            "url": {"type": "string"},
            "template": {"enum": list(render.TEMPLATES)},
            "status": {"enum": ["inactive", "active", "suspended"]},
            "settings": {"type": "object"},
            "custom_domain": {"anyOf": [ref("CustomDomain"), {"type": "null"}]},
            "live_version": {"type": ["integer", "null"]},
            "published_at": _NULLABLE_TIME,
            "read_only_reason": {"type": ["string", "null"]},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
        },
    },
    "CustomDomain": _CUSTOM_DOMAIN,
    "Block": BLOCK,
    "Page": {
        "type": "object",
        "required": ["id", "site_id", "slug", "title", "position", "blocks", "created_at", "updated_at"],
        "properties": {
            "id": {"type": "integer"},
            "site_id": {"type": "integer"},
            "slug": {"type": "string"},
            "title": {"type": "string"},
            "position": {"type": "integer"},
            "blocks": {"type": "array", "items": {"type": "object"}},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
        },
    },
    "Deployment": {
        "type": "object",
        "required": ["id", "site_id", "version", "status", "progress", "error", "created_at", "finished_at"],
        "properties": {
            "id": {"type": "integer"},
            "site_id": {"type": "integer"},
            "version": {"type": "integer"},
            "kind": {"enum": ["publish", "rollback", "schedule"]},
            "status": {"enum": ["queued", "rendering", "live", "superseded", "failed"]},
            "progress": {
                "type": "object",
                "required": ["done", "total"],
                "properties": {"done": {"type": "integer"}, "total": {"type": "integer"}},
            },
            "error": {"type": ["string", "null"]},
            "created_at": {"type": "string", "format": "date-time"},
            "finished_at": _NULLABLE_TIME,
        },
    },
    "Submission": {
        "type": "object",
        "required": ["id", "block_id", "data", "created_at"],
        "properties": {
            "id": {"type": "integer"},
            "block_id": {"type": "string"},
            "page_id": {"type": "integer"},
            "kind": {"enum": list(B.FORM_KINDS)},
            "data": {"type": "object"},
            "created_at": {"type": "string", "format": "date-time"},
        },
    },
}

_SLUG = {"type": "string", "pattern": "^[a-z0-9-]{1,64}$"}
_BLOCKS = {"type": "array", "maxItems": B.MAX_BLOCKS, "items": ref("Block")}
_CREATE_SITE = _obj(
    {
        "name": _text(255),
        "domain": {"type": "string", "maxLength": 75, "pattern": _HANDLE},
        "template": {"enum": list(render.TEMPLATES)},
        "settings": _SETTINGS,
    },
    ["name", "domain", "template"],
)
_UPDATE_SITE = _obj(
    {
        "name": _text(255),
        "domain": {"type": "string", "maxLength": 75, "pattern": _HANDLE},
        "template": {"enum": list(render.TEMPLATES)},
        "settings": _SETTINGS,
    }
)
_CREATE_PAGE = _obj({"slug": _SLUG, "title": _text(255), "blocks": _BLOCKS}, ["slug", "title"])
_UPDATE_PAGE = _obj(
    {
        "slug": _SLUG,
        "title": _text(255),
        "blocks": _BLOCKS,
        "position": {"type": "integer", "minimum": 0, "maximum": 10_000},
    }
)
_CUSTOM_DOMAIN_BODY = _obj({"domain": {"type": "string", "maxLength": 253, "pattern": _HOSTNAME}}, ["domain"])
_FORM_BODY = _obj(
    {
        "name": _text(100),
        "email": {"type": "string", "format": "email", "maxLength": 255},
        "message": _text(5000),
        "website": {"type": "string", "maxLength": 0, "description": "Honeypot: leave empty"},
    },
    ["email"],
)


def _id(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}


_SITE = [_id("site_id")]
_PAGE = [_id("site_id"), _id("page_id")]
_DEPLOYMENT = [_id("site_id"), _id("deployment_id")]


def _op(summary: str, responses: dict[str, Any], *, params: list[Any] | None = None, body: Any = None,
        errors: tuple[int, ...] = (401, 403, 404, 429)) -> dict[str, Any]:  # fmt: skip
    op: dict[str, Any] = {"summary": summary, "tags": ["sites"], "security": _BEARER}
    if params:
        op["parameters"] = params
    if body is not None:
        op["requestBody"] = json_body(body)
    op["responses"] = {**responses, **error_responses(*errors)}
    return op


_WRITE_ERRORS = (400, 401, 403, 404, 409, 413, 415, 422, 429)
_DELETED = {"204": {"description": "Deleted"}}

PATHS = {
    "/api/sites": {
        "get": _op(
            "Your sites, newest first",
            json_ok(list_of(ref("Site"))),
            params=PAGE_PARAMETERS,
            errors=(401, 403, 422, 429),
        ),
        "post": _op(
            "Create a site (with its home page)",
            json_ok(ref("Site"), "Created", "201"),
            body=_CREATE_SITE,
            errors=(400, 401, 403, 409, 413, 415, 422, 429),
        ),
    },
    "/api/sites/{site_id}": {
        "get": _op("One of your sites", json_ok(ref("Site")), params=_SITE),
        "patch": _op(
            "Change a site (settings merge section by section)",
            json_ok(ref("Site")),
            params=_SITE,
            body=_UPDATE_SITE,
            errors=_WRITE_ERRORS,
        ),
        "delete": _op("Delete a site and its published copy", _DELETED, params=_SITE),
    },
    "/api/sites/{site_id}/pages": {
        "get": _op("The site's pages in order", json_ok(list_of(ref("Page"))), params=_SITE),
        "post": _op(
            "Add a page", json_ok(ref("Page"), "Created", "201"), params=_SITE, body=_CREATE_PAGE, errors=_WRITE_ERRORS
        ),
    },
    "/api/sites/{site_id}/pages/{page_id}": {
        "get": _op("One page", json_ok(ref("Page")), params=_PAGE),
        "patch": _op(
            "Change a page (`blocks` replaces the list, in order)",
            json_ok(ref("Page")),
            params=_PAGE,
            body=_UPDATE_PAGE,
            errors=_WRITE_ERRORS,
        ),
        "delete": _op(
            "Delete a page (not the home page: 409)", _DELETED, params=_PAGE, errors=(401, 403, 404, 409, 429)
        ),
    },
    "/api/sites/{site_id}/publish": {
        "post": _op(
            "Publish: a Deployment to poll (403 unverified email, 409 suspended)",
            json_ok(ref("Deployment"), "Queued", "202"),
            params=_SITE,
            errors=(401, 403, 404, 409, 429),
        ),
    },
    "/api/sites/{site_id}/deployments": {
        "get": _op(
            "Deployments, newest first",
            json_ok(list_of(ref("Deployment"))),
            params=_SITE + PAGE_PARAMETERS,
            errors=(401, 403, 404, 422, 429),
        ),
    },
    "/api/sites/{site_id}/deployments/{deployment_id}": {
        "get": _op("One deployment (poll it for progress)", json_ok(ref("Deployment")), params=_DEPLOYMENT),
    },
    "/api/sites/{site_id}/deployments/{deployment_id}/rollback": {
        "post": _op(
            "Make that version live again",
            json_ok(ref("Deployment"), "Live again", "202"),
            params=_DEPLOYMENT,
            errors=(401, 403, 404, 409, 429),
        ),
    },
    "/api/sites/{site_id}/custom-domain": {
        "put": _op(
            "Connect a custom domain (then create its TXT record)",
            json_ok(ref("CustomDomain")),
            params=_SITE,
            body=_CUSTOM_DOMAIN_BODY,
            errors=_WRITE_ERRORS,
        ),
        "delete": _op("Disconnect the custom domain", _DELETED, params=_SITE),
    },
    "/api/sites/{site_id}/custom-domain/verify": {
        "post": _op(
            "Check the TXT record now",
            json_ok(ref("CustomDomain")),
            params=_SITE,
            errors=(401, 403, 404, 409, 429, 503),
        ),
    },
    "/api/sites/{site_id}/submissions": {
        "get": _op(
            "Form submissions, newest first",
            json_ok(list_of(ref("Submission"))),
            params=_SITE + PAGE_PARAMETERS,
            errors=(401, 403, 404, 422, 429),
        ),
    },
    "/api/sites/{site_id}/qr.svg": {
        "get": {
            "summary": "The site's URL as a QR code",
            "tags": ["sites"],
            "security": _BEARER,
            "parameters": _SITE,
            "responses": {
                "200": {"description": "SVG", "content": {"image/svg+xml": {"schema": {"type": "string"}}}},
                **error_responses(401, 403, 404, 429),
            },
        }
    },
    "/api/forms/{block_id}": {
        "post": {
            "summary": "A published form's submission (public; JSON 202, or a form post 303 back to the page)",
            "tags": ["sites"],
            "security": [],
            "parameters": [
                {
                    "name": "block_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{8,32}$"},
                }
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": _FORM_BODY},
                    "application/x-www-form-urlencoded": {"schema": _FORM_BODY},
                },
            },
            "responses": {
                "202": {"description": "Received", "content": {"application/json": {"schema": {"type": "object"}}}},
                "303": {"description": "Back to the page, at its thank-you anchor"},
                **error_responses(400, 404, 413, 415, 422, 429),
            },
        }
    },
}
