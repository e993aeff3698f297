"""What a load plug-in (scripts/loads/<area>.py) is made of; see scripts/loads/README.md."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode


@dataclass
class Call:
    """One invocation of the Lambda handler: an API Gateway request, or an event function."""

    method: str = "GET"
    path: str = "/"
    resource: str | None = None  # the route template when it has {params}; default = path
    path_params: dict[str, str] | None = None
    query: dict[str, str] | None = None
    body: Any = None  # dict/list -> JSON; str/bytes as given
    headers: dict[str, str] = field(default_factory=dict)
    ip: str = "203.0.113.7"
    function: str | None = None  # invoke app.<function>(event, context) instead of the API
    event: dict[str, Any] | None = None  # the event for `function`
    ok: tuple[int, ...] = (200,)  # statuses that count as success (a function: no exception)
    record: Callable[[dict[str, Any]], Any] | None = None  # response -> what to check afterwards


@dataclass(frozen=True)
class Kind:
    """A weighted kind of request; `build(fixtures, rng)` makes one Call."""

    name: str  # how it is reported, e.g. "POST /api/tokens"
    weight: float
    build: Callable[[dict[str, Any], random.Random], Call]


def api_event(call: Call) -> dict[str, Any]:
    """An API Gateway REST (v1) proxy event, as API Gateway sends it to the API function."""
    headers = {
        "Accept": "application/json",
        "Host": "abcdef1234.execute-api.us-east-1.amazonaws.com",
        "User-Agent": "mewayz-load",
        "X-Forwarded-For": call.ip,
        "X-Forwarded-Proto": "https",
        **call.headers,
    }
    body = call.body
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
        headers.setdefault("Content-Type", "application/json")
    elif isinstance(body, bytes):
        body = body.decode()
    resource = call.resource or call.path
    return {
        "resource": resource,
        "path": call.path,
        "httpMethod": call.method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": call.query or None,
        "multiValueQueryStringParameters": {k: [v] for k, v in (call.query or {}).items()} or None,
        "pathParameters": call.path_params or None,
        "stageVariables": None,
        "body": body,
        "isBase64Encoded": False,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": call.method,
            "path": "/api" + call.path + (("?" + urlencode(call.query)) if call.query else ""),
            "stage": "api",
            "requestId": "load",
            "identity": {"sourceIp": call.ip, "userAgent": "mewayz-load"},
        },
    }


def scheduled_event() -> dict[str, Any]:
    """What EventBridge sends a schedule function."""
    return {
        "version": "0",
        "id": "load",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/load"],
        "detail": {},
    }
