"""OpenAPI fragment of the email routes (assembled by chalicelib/system/openapi.py)."""

from __future__ import annotations

from chalicelib.core.openapi import PAGE_PARAMETERS, email, error_responses, json_body, json_ok, list_of, name, ref

_TIME = {"type": "string", "format": "date-time"}
_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
_BODY = {"type": "string", "minLength": 1, "maxLength": 100_000, "pattern": "^[^\\x00]*[^\\s\\x00][^\\x00]*$",
         "description": "Markdown; personalise with {{ contact.first_name | default(\"there\") }} (a sandboxed "
                        "Jinja subset: contact fields, if/else, a few string filters)"}  # fmt: skip
_SUBJECT = {**name(255), "description": "May personalise like the body"}
# What Validator.name/text(single_line) refuse: control, line-separator and bidi characters.
_LINE = "\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069"

SCHEMAS = {
    "Campaign": {
        "type": "object",
        "required": [
            "id",
            "name",
            "subject",
            "preheader",
            "from_name",
            "reply_to",
            "body_markdown",
            "segment_id",
            "status",
            "scheduled_at",
            "sent_at",
            "progress",
            "created_at",
            "updated_at",
        ],
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "subject": {"type": "string"},
            "preheader": {"type": "string"},
            "from_name": {"type": "string"},
            "reply_to": {"type": ["string", "null"]},
            "body_markdown": {"type": "string"},
            "segment_id": {"type": ["integer", "null"], "description": "null: every subscribed contact"},
            "status": {"enum": ["draft", "scheduled", "sending", "sent", "canceled", "failed"]},
            "scheduled_at": _NULLABLE_TIME,
            "sent_at": _NULLABLE_TIME,
            "progress": {
                "type": "object",
                "required": ["done", "total"],
                "properties": {"done": {"type": "integer"}, "total": {"type": "integer"}},
            },
            "created_at": _TIME,
            "updated_at": _TIME,
        },
    },
    "CampaignStats": {
        "type": "object",
        "required": [
            "recipients",
            "sent",
            "delivered",
            "opened",
            "clicked",
            "bounced",
            "complained",
            "unsubscribed",
            "links",
        ],
        "properties": {
            **{
                k: {"type": "integer"}
                for k in (
                    "recipients",
                    "sent",
                    "delivered",
                    "opened",
                    "clicked",
                    "bounced",
                    "complained",
                    "unsubscribed",
                )
            },
            "links": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["url", "clicks"],
                    "properties": {"url": {"type": "string"}, "clicks": {"type": "integer"}},
                },
            },
        },
    },
    "Automation": {
        "type": "object",
        "required": ["id", "name", "trigger", "status", "steps", "enrolled", "created_at", "updated_at"],
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "trigger": {
                "type": "object",
                "required": ["type"],
                "properties": {
                    "type": {"enum": ["contact_added", "tag_added", "form_submitted", "purchase"]},
                    "tag": {"type": "string"},
                    "site_id": {"type": "integer"},
                },
            },
            "status": {"enum": ["active", "paused"]},
            "steps": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["position", "delay_hours", "subject", "body_markdown", "sent"],
                    "properties": {
                        "position": {"type": "integer"},
                        "delay_hours": {"type": "integer"},
                        "subject": {"type": "string"},
                        "body_markdown": {"type": "string"},
                        "sent": {"type": "integer", "description": "emails of this step sent"},
                    },
                },
            },
            "enrolled": {"type": "integer", "description": "contacts that entered, ever"},
            "created_at": _TIME,
            "updated_at": _TIME,
        },
    },
    "EmailSettings": {
        "type": "object",
        "required": ["postal_address", "sends_this_month", "monthly_send_limit"],
        "properties": {
            "postal_address": {"type": "string"},
            "sends_this_month": {"type": "integer"},
            "monthly_send_limit": {"type": "integer", "description": "-1: unlimited"},
        },
    },
    "Suppression": {
        "type": "object",
        "required": ["id", "email", "reason", "note", "created_at"],
        "properties": {
            "id": {"type": "integer"},
            "email": {"type": "string"},
            "reason": {"enum": ["bounced", "complained", "unsubscribed", "manual"]},
            "note": {"type": "string"},
            "created_at": _TIME,
        },
    },
}

_CAMPAIGN_FIELDS = {
    "name": name(255),
    "subject": _SUBJECT,
    "preheader": {"type": "string", "maxLength": 255, "pattern": f"^[^{_LINE}]*$"},
    "from_name": {"type": "string", "maxLength": 100, "pattern": f'^[^{_LINE}<>"@,;]*$'},
    "reply_to": {"oneOf": [email(), {"type": "null"}]},
    "body_markdown": _BODY,
    "segment_id": {"type": ["integer", "null"], "minimum": 1},
}
_CREATE = {"type": "object", "required": ["name", "subject", "body_markdown"], "additionalProperties": False,
           "properties": _CAMPAIGN_FIELDS}  # fmt: skip
_UPDATE = {"type": "object", "additionalProperties": False, "properties": _CAMPAIGN_FIELDS}
_STEP = {"type": "object", "required": ["delay_hours", "subject", "body_markdown"], "additionalProperties": False,
         "properties": {"delay_hours": {"type": "integer", "minimum": 0, "maximum": 8760}, "subject": _SUBJECT,
                        "body_markdown": _BODY}}  # fmt: skip
_TRIGGER = {"type": "object", "required": ["type"], "additionalProperties": False, "properties": {
    "type": {"enum": ["contact_added", "tag_added", "form_submitted", "purchase"]},
    "tag": {"type": "string", "minLength": 1, "maxLength": 64, "description": "required for tag_added"},
    "site_id": {"type": "integer", "minimum": 1, "description": "form_submitted: only this site's forms"}}}  # fmt: skip
_AUTOMATION_FIELDS = {
    "name": name(255),
    "trigger": _TRIGGER,
    "steps": {"type": "array", "minItems": 1, "maxItems": 10, "items": _STEP},
    "status": {"enum": ["active", "paused"]},
}
_BEARER = [{"bearerAuth": []}]
_TAGS = ["email"]


def _id(param: str) -> list[dict[str, object]]:
    return [{"name": param, "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}]


def _op(summary: str, responses: dict, **extra: object) -> dict[str, object]:
    return {"summary": summary, "tags": _TAGS, "security": _BEARER, **extra, "responses": responses}


_CID = _id("campaign_id")
_AID = _id("automation_id")

PATHS = {
    "/api/campaigns": {
        "get": _op(
            "Your campaigns, newest first",
            {**json_ok(list_of(ref("Campaign"))), **error_responses(401, 403, 422, 429)},
            parameters=PAGE_PARAMETERS,
        ),
        "post": _op(
            "Create a draft campaign",
            {**json_ok(ref("Campaign"), "Created", "201"), **error_responses(401, 403, 422, 429)},
            requestBody=json_body(_CREATE),
        ),
    },
    "/api/campaigns/{campaign_id}": {
        "get": _op(
            "One campaign", {**json_ok(ref("Campaign")), **error_responses(401, 403, 404, 429)}, parameters=_CID
        ),
        "patch": _op(
            "Edit a draft (409 once it is not a draft)",
            {**json_ok(ref("Campaign")), **error_responses(401, 403, 404, 409, 422, 429)},
            parameters=_CID,
            requestBody=json_body(_UPDATE, required=False),
        ),
        "delete": _op(
            "Delete a draft or a sent campaign (409 while sending)",
            {"204": {"description": "Deleted"}, **error_responses(401, 403, 404, 409, 429)},
            parameters=_CID,
        ),
    },
    "/api/campaigns/{campaign_id}/test": {
        "post": _op(
            "Send a test copy to your confirmed address or one of your contacts",
            {
                **json_ok(
                    {
                        "type": "object",
                        "required": ["to", "status"],
                        "properties": {"to": {"type": "string"}, "status": {"type": "string"}},
                    },
                    "Sent",
                    "202",
                ),
                **error_responses(401, 403, 404, 422, 429),
            },
            parameters=_CID,
            requestBody=json_body(
                {"type": "object", "required": ["to"], "additionalProperties": False, "properties": {"to": email()}}
            ),
        ),
    },
    "/api/campaigns/{campaign_id}/send": {
        "post": _op(
            "Send now, or at scheduled_at: 403 unverified email or monthly send quota, 409 not a draft or no "
            "postal address",
            {
                **json_ok(ref("Campaign"), "Sending or scheduled", "202"),
                **error_responses(401, 403, 404, 409, 422, 429),
            },
            parameters=_CID,
            requestBody=json_body(
                {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"scheduled_at": {"type": ["string", "null"], "format": "date-time"}},
                },
                required=False,
            ),
        ),
    },
    "/api/campaigns/{campaign_id}/cancel": {
        "post": _op(
            "A scheduled campaign back to draft (409 otherwise)",
            {**json_ok(ref("Campaign")), **error_responses(401, 403, 404, 409, 429)},
            parameters=_CID,
        ),
    },
    "/api/campaigns/{campaign_id}/stats": {
        "get": _op(
            "Recipients, sends, deliveries, unique opens and clicks, bounces, complaints, unsubscribes, links",
            {**json_ok(ref("CampaignStats")), **error_responses(401, 403, 404, 429)},
            parameters=_CID,
        ),
    },
    "/api/automations": {
        "get": _op(
            "Your automations (drip and welcome sequences)",
            {**json_ok(list_of(ref("Automation"))), **error_responses(401, 403, 422, 429)},
            parameters=PAGE_PARAMETERS,
        ),
        "post": _op(
            "Create an automation",
            {**json_ok(ref("Automation"), "Created", "201"), **error_responses(401, 403, 422, 429)},
            requestBody=json_body(
                {
                    "type": "object",
                    "required": ["name", "trigger", "steps"],
                    "additionalProperties": False,
                    "properties": _AUTOMATION_FIELDS,
                }
            ),
        ),
    },
    "/api/automations/{automation_id}": {
        "get": _op(
            "One automation, with per-step sent counts",
            {**json_ok(ref("Automation")), **error_responses(401, 403, 404, 429)},
            parameters=_AID,
        ),
        "patch": _op(
            "Edit, pause or resume (steps replace the list; a step keeps its counts by position)",
            {**json_ok(ref("Automation")), **error_responses(401, 403, 404, 422, 429)},
            parameters=_AID,
            requestBody=json_body(
                {"type": "object", "additionalProperties": False, "properties": _AUTOMATION_FIELDS}, required=False
            ),
        ),
        "delete": _op(
            "Delete an automation",
            {"204": {"description": "Deleted"}, **error_responses(401, 403, 404, 429)},
            parameters=_AID,
        ),
    },
    "/api/email/settings": {
        "get": _op(
            "Sender settings and this month's sends",
            {**json_ok(ref("EmailSettings")), **error_responses(401, 403, 429)},
        ),
        "put": _op(
            "Set the postal address every campaign's footer shows (CAN-SPAM)",
            {**json_ok(ref("EmailSettings")), **error_responses(401, 403, 422, 429)},
            requestBody=json_body(
                {
                    "type": "object",
                    "required": ["postal_address"],
                    "additionalProperties": False,
                    "properties": {"postal_address": {**name(500), "minLength": 10}},
                }
            ),
        ),
    },
    "/api/email/suppressions": {
        "get": _op(
            "Your suppression list (never sent to)",
            {**json_ok(list_of(ref("Suppression"))), **error_responses(401, 403, 422, 429)},
            parameters=PAGE_PARAMETERS,
        ),
        "post": _op(
            "Suppress an address",
            {**json_ok(ref("Suppression"), "Suppressed", "201"), **error_responses(401, 403, 422, 429)},
            requestBody=json_body(
                {
                    "type": "object",
                    "required": ["email"],
                    "additionalProperties": False,
                    "properties": {
                        "email": email(),
                        "note": {"type": "string", "maxLength": 255, "pattern": f"^[^{_LINE}]*$"},
                    },
                }
            ),
        ),
    },
    "/api/email/suppressions/{suppression_id}": {
        "delete": _op(
            "Remove an address from your suppression list, saying why",
            {"204": {"description": "Removed"}, **error_responses(401, 403, 404, 422, 429)},
            parameters=[
                *_id("suppression_id"),
                {"name": "reason", "in": "query", "required": False, "schema": {**name(255)}},
            ],
        ),
    },
}
