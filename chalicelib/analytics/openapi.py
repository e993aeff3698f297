"""OpenAPI fragment of the analytics routes (assembled by chalicelib/system/openapi.py)."""

from __future__ import annotations

from typing import Any

from chalicelib.core.openapi import error_responses, json_ok, ref

_BEARER = [{"bearerAuth": []}]
_SITE = [{"name": "site_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}]
_DATE = {"type": "string", "format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
_RANGE = [
    {"name": "from", "in": "query", "schema": _DATE, "description": "First UTC day (default: 29 days before `to`)"},
    {"name": "to", "in": "query", "schema": _DATE, "description": "Last UTC day (default: today)"},
]
_MONEY = {
    "type": "object",
    "required": ["amount", "currency"],
    "properties": {"amount": {"type": "integer"}, "currency": {"type": "string"}},
}
_TOTALS = {
    "type": "object",
    "required": ["visitors", "visits", "pageviews", "bounce_rate", "clicks", "form_submissions", "orders", "revenue"],
    "properties": {
        "visitors": {"type": "integer", "minimum": 0},
        "visits": {"type": "integer", "minimum": 0},
        "pageviews": {"type": "integer", "minimum": 0},
        "bounce_rate": {"type": "number", "minimum": 0, "maximum": 100, "description": "Percent of visits"},
        "visit_duration_s": {"type": "integer", "minimum": 0, "description": "Average, seconds"},
        "clicks": {"type": "integer", "minimum": 0},
        "form_submissions": {"type": "integer", "minimum": 0},
        "orders": {"type": "integer", "minimum": 0},
        "revenue": {**_MONEY, "description": "The range's largest currency (all of them in revenue_by_currency)"},
        "revenue_by_currency": {"type": "array", "items": _MONEY},
    },
}
_POINT = {
    "type": "object",
    "required": ["t", "visitors", "pageviews", "clicks"],
    "properties": {
        "t": {"type": "string", "description": "YYYY-MM-DD (day) or YYYY-MM-DDTHH:00:00Z (hour)"},
        "visitors": {"type": "integer"},
        "pageviews": {"type": "integer"},
        "clicks": {"type": ["integer", "null"], "description": "Clicks are counted per day: null per hour"},
    },
}
_REPORT = {
    "type": "object",
    "required": ["totals", "previous", "series"],
    "properties": {
        "totals": ref("AnalyticsTotals"),
        "previous": ref("AnalyticsTotals"),
        "series": {"type": "array", "items": _POINT},
        "previous_series": {"type": "array", "items": _POINT},
        "from": {"type": "string"},
        "to": {"type": "string"},
        "granularity": {"enum": ["hour", "day"]},
    },
}
_ROW = {
    "type": "object",
    "required": ["value"],
    "properties": {
        "value": {"type": "string"},
        "visitors": {"type": "integer"},
        "visits": {"type": "integer"},
        "pageviews": {"type": "integer"},
        "label": {"type": "string"},
        "url": {"type": "string"},
        "clicks": {"type": "integer"},
    },
}
_BEACON = {
    "type": "object",
    "required": ["site", "url"],
    "properties": {
        "site": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[^\\x00]*[^\\s\\x00][^\\x00]*$"},
        "url": {
            "type": "string",
            "maxLength": 2048,
            "pattern": "^https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:/[^\\s]*)?$",
        },
        "referrer": {"type": "string", "maxLength": 2048, "pattern": "^[^\\x00]*$"},
        "width": {"type": "integer", "minimum": 0, "maximum": 100000},
        "event": {"enum": ["pageview"]},
    },
}


def _op(summary: str, responses: dict[str, Any], params: list[Any], errors: tuple[int, ...]) -> dict[str, Any]:
    return {"summary": summary, "tags": ["analytics"], "security": _BEARER, "parameters": params,
            "responses": {**responses, **error_responses(*errors)}}  # fmt: skip


PATHS = {
    "/api/collect": {
        "post": {
            "summary": "A pageview from a published page (public; 202 whatever becomes of it, no cookies)",
            "tags": ["analytics"],
            "security": [],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _BEACON}, "text/plain": {"schema": {"type": "string"}}},
            },
            "responses": {"202": {"description": "Accepted"}, **error_responses(400, 413, 415, 422, 429)},
        },
    },
    "/api/sites/{site_id}/analytics": {
        "get": _op(
            "Totals, the previous period's and a series by hour or day",
            json_ok(_REPORT),
            _SITE + _RANGE + [{"name": "granularity", "in": "query", "schema": {"enum": ["hour", "day"]}}],
            (401, 403, 404, 422, 429),
        )
    },
    "/api/sites/{site_id}/analytics/breakdown": {
        "get": _op(
            "Top values of a dimension (UTM, country, device, browser and OS need advanced analytics)",
            json_ok(
                {
                    "type": "object",
                    "required": ["data"],
                    "properties": {"data": {"type": "array", "items": _ROW}, "dimension": {"type": "string"}},
                }
            ),
            _SITE
            + _RANGE
            + [
                {
                    "name": "dimension",
                    "in": "query",
                    "schema": {
                        "enum": [
                            "page",
                            "source",
                            "referrer",
                            "utm_source",
                            "utm_medium",
                            "utm_campaign",
                            "country",
                            "device",
                            "browser",
                            "os",
                            "link",
                        ]
                    },
                },
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
            ],
            (401, 403, 404, 422, 429),
        )
    },
    "/api/sites/{site_id}/analytics/realtime": {
        "get": _op(
            "Visitors in the last 5 minutes, pageviews in the last 30",
            json_ok(
                {
                    "type": "object",
                    "required": ["visitors", "pageviews"],
                    "properties": {"visitors": {"type": "integer"}, "pageviews": {"type": "integer"}},
                }
            ),
            _SITE,
            (401, 403, 404, 429),
        )
    },
    "/api/sites/{site_id}/analytics/export": {
        "get": {
            **_op("One CSV row per day (advanced analytics)", {}, _SITE + _RANGE, (401, 403, 404, 422, 429)),
            "responses": {
                "200": {"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}},
                **error_responses(401, 403, 404, 422, 429),
            },
        }
    },
}
SCHEMAS = {"AnalyticsTotals": _TOTALS}
