"""The `Migrations` custom resource: CloudFormation invokes `migrate` with a request and
waits for the answer PUT to its pre-signed URL (here a local server). Create/Update
migrate and answer SUCCESS; a failure answers FAILED with the reason (the stack rolls
back) and never raises; Delete leaves the database alone."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from chalicelib.core import migrate


@pytest.fixture
def cloudformation() -> Iterator[dict[str, Any]]:
    """A stand-in for the pre-signed S3 URL: records each PUT's headers and JSON body."""
    seen: dict[str, Any] = {"answers": []}

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen["answers"].append({"content_type": self.headers.get("Content-Type"), "body": json.loads(body)})
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            return

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    seen["url"] = f"http://127.0.0.1:{server.server_port}/response?X-Amz-Signature=abc"
    try:
        yield seen
    finally:
        server.shutdown()


def _request(url: str, kind: str) -> dict[str, Any]:
    return {
        "RequestType": kind,
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:mewayz-prod-migrate",
        "ResponseURL": url,
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/mewayz-prod/1",
        "RequestId": "req-1",
        "ResourceType": "Custom::Migrations",
        "LogicalResourceId": "Migrations",
        "ResourceProperties": {"Bundle": "mewayz/prod/abc.zip"},
        **({"PhysicalResourceId": "mewayz-migrations"} if kind != "Create" else {}),
    }


def test_create_and_update_migrate_and_answer_success(test_database: str, cloudformation: dict[str, Any]) -> None:
    import app

    for kind in ("Create", "Update"):
        result = app.migrate(_request(cloudformation["url"], kind), None)
        assert result["Status"] == "SUCCESS", result
    first, second = (a["body"] for a in cloudformation["answers"])
    assert first["Status"] == second["Status"] == "SUCCESS"
    assert first["PhysicalResourceId"] == second["PhysicalResourceId"] == "mewayz-migrations"
    assert first["RequestId"] == "req-1" and first["LogicalResourceId"] == "Migrations"
    assert first["Data"]["Applied"] == "none"  # the suite's database is migrated already
    assert cloudformation["answers"][0]["content_type"] in ("", None)  # what the pre-signed URL's signature expects


def test_a_failed_migration_answers_failed_and_does_not_raise(
    test_database: str, cloudformation: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import app

    def broken(*_a: Any, **_k: Any) -> list[str]:
        raise RuntimeError("0012 would not apply")

    monkeypatch.setattr(migrate, "apply", broken)
    result = app.migrate(_request(cloudformation["url"], "Update"), None)
    assert result["Status"] == "FAILED"
    [answer] = cloudformation["answers"]
    assert answer["body"]["Status"] == "FAILED" and "0012 would not apply" in answer["body"]["Reason"]


def test_delete_leaves_the_database_alone(cloudformation: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    import app

    monkeypatch.setattr(migrate, "apply", lambda *_a, **_k: pytest.fail("Delete must not migrate"))
    assert app.migrate(_request(cloudformation["url"], "Delete"), None)["Status"] == "SUCCESS"
    assert cloudformation["answers"][0]["body"]["Status"] == "SUCCESS"


def test_a_direct_invocation_still_just_migrates(test_database: str) -> None:
    import app

    assert app.migrate({}, None) == {"applied": [], "app_user": []}
