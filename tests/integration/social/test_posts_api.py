"""Posts through the JSON API: validation per field, editing while scheduled, uploads."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.core import config, db, storage
from chalicelib.social import service
from tests.conftest import assert_error
from tests.integration.social import helpers
from tests.integration.social.conftest import make_member

IMAGE = "https://cdn.example.com/a/photo.jpg"


def _when(minutes: int = 30) -> str:
    return (service.utcnow() + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _body(account, **over):
    return {"account_id": account.id, "caption": "Hello #mewayz", "image_url": IMAGE, "scheduled_at": _when(), **over}


def test_schedule_read_list_edit_cancel(api, stub, member, account) -> None:
    r = api.post("/api/social/posts", _body(account), token=member.token)
    assert r.status == 201, r.body
    post = r.json
    assert post["status"] == "scheduled" and post["attempts"] == 0 and post["error"] is None
    assert post["permalink"] is None and post["published_at"] is None and post["scheduled_at"].endswith("Z")
    assert set(post) == {"id", "account_id", "caption", "image_url", "scheduled_at", "status", "attempts", "error",
                         "permalink", "published_at", "created_at"}  # fmt: skip
    assert api.get(f"/api/social/posts/{post['id']}", token=member.token).json == post
    assert [p["id"] for p in api.get("/api/social/posts", token=member.token).json["data"]] == [post["id"]]
    later = _when(120)
    edited = api.patch(
        f"/api/social/posts/{post['id']}", {"caption": "Edited", "scheduled_at": later}, token=member.token
    )
    assert edited.status == 200 and edited.json["caption"] == "Edited" and edited.json["scheduled_at"] == later
    assert api.delete(f"/api/social/posts/{post['id']}", token=member.token).status == 204
    assert api.get(f"/api/social/posts/{post['id']}", token=member.token).json["status"] == "canceled"
    assert_error(api.patch(f"/api/social/posts/{post['id']}", {"caption": "x"}, token=member.token), 409)


def test_published_posts_cannot_be_edited_or_canceled(api, stub, member, account) -> None:
    post = api.post("/api/social/posts", _body(account, scheduled_at=_when(1)), token=member.token).json
    from chalicelib.social import handlers

    handlers.publish_due(service.utcnow() + timedelta(minutes=2))
    assert api.get(f"/api/social/posts/{post['id']}", token=member.token).json["status"] == "published"
    assert_error(api.patch(f"/api/social/posts/{post['id']}", {"caption": "x"}, token=member.token), 409)
    assert_error(api.delete(f"/api/social/posts/{post['id']}", token=member.token), 409)


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"caption": "x" * 2201}, "caption"),
        ({"caption": " ".join(f"#tag{i}" for i in range(31))}, "caption"),
        ({"caption": 42}, "caption"),
        ({"scheduled_at": "2020-01-01T10:00:00Z"}, "scheduled_at"),
        ({"scheduled_at": "tomorrow"}, "scheduled_at"),
        ({"scheduled_at": "2030-01-01T10:00:00"}, "scheduled_at"),  # no zone
        ({"scheduled_at": "0001-01-01T00:00:00+01:00"}, "scheduled_at"),  # before datetime.min in UTC (was a 500)
        ({"scheduled_at": None}, "scheduled_at"),
        ({"image_url": "http://cdn.example.com/a.jpg"}, "image_url"),
        ({"image_url": "https://cdn.example.com/a.png"}, "image_url"),
        ({"image_url": "ftp://cdn.example.com/a.jpg"}, "image_url"),
        ({"image_url": ""}, "image_url"),
        ({"account_id": "1"}, "account_id"),
        ({"account_id": 999999}, "account_id"),
        ({"surprise": True}, "surprise"),
    ],
)
def test_invalid_posts_are_422_per_field(api, stub, member, account, override, field) -> None:
    error = assert_error(api.post("/api/social/posts", _body(account, **override), token=member.token), 422)
    assert field in error["fields"], error
    assert db.fetch_one("SELECT COUNT(*) AS n FROM social_posts")["n"] == 0


def test_limits_are_inclusive(api, stub, member, account) -> None:
    caption = " ".join(f"#t{i}" for i in range(30))
    caption += " " + "x" * (2200 - len(caption) - 1)
    assert len(caption) == 2200
    assert api.post("/api/social/posts", _body(account, caption=caption), token=member.token).status == 201


def test_another_users_account_cannot_be_posted_to(api, stub, member, account) -> None:
    intruder = make_member("intruder@example.com")
    error = assert_error(api.post("/api/social/posts", _body(account), token=intruder.token), 422)
    assert error["fields"]["account_id"] == ["No such Instagram account."]


def test_an_expired_account_cannot_schedule(api, stub, member, account) -> None:
    db.execute("UPDATE social_accounts SET status = 'expired'")
    error = assert_error(api.post("/api/social/posts", _body(account), token=member.token), 422)
    assert "Reconnect" in error["fields"]["account_id"][0]


def test_upload_ticket_then_local_upload_and_serving(api, stub, member, live_server) -> None:
    r = api.post("/api/social/uploads", {"content_type": "image/jpeg", "size": 1000}, token=member.token)
    assert r.status == 201, r.body
    ticket = r.json
    assert ticket["method"] == "PUT" and ticket["headers"] == {"Content-Type": "image/jpeg"}
    base = config.get_settings().social_media_base
    assert ticket["image_url"].startswith(f"{base}/{member.user.id}/") and ticket["image_url"].endswith(".jpg")
    path = ticket["upload_url"].split("://", 1)[1].split("/", 1)[1]
    jpeg = b"\xff\xd8\xff\xe0" + b"\x00" * 500
    put = api.request("PUT", "/" + path, headers={"content-type": "image/jpeg"}, body=jpeg)
    assert put.status == 200, put.body
    assert put.json["image_url"] == ticket["image_url"]
    # Served by the local server (bytes need no API Gateway binary type there; in AWS CloudFront serves them).
    import urllib.request

    local_path = "/" + ticket["image_url"].split("://", 1)[1].split("/", 1)[1]
    with urllib.request.urlopen(live_server + local_path, timeout=10) as served:
        assert served.status == 200 and served.headers["Content-Type"] == "image/jpeg"
        assert served.read() == jpeg
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(live_server + local_path.replace(".jpg", "0.jpg"), timeout=10)
    assert missing.value.code == 404
    # …and the URL is good enough to schedule with on a local stage.
    assert service.image_url_problem(ticket["image_url"]) is None


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"GIF89a" + b"\x00" * 10, 400), (b"", 400), (b"\xff\xd8\xff" + b"\x00" * 2000, 400)],
)
def test_uploads_that_are_not_the_announced_jpeg_are_refused(api, member, body, status) -> None:
    ticket = api.post("/api/social/uploads", {"content_type": "image/jpeg", "size": 1000}, token=member.token).json
    path = "/" + ticket["upload_url"].split("://", 1)[1].split("/", 1)[1]
    assert api.request("PUT", path, headers={"content-type": "image/jpeg"}, body=body).status == status
    key = "social-media/" + ticket["image_url"].rsplit("/", 2)[1] + "/" + ticket["image_url"].rsplit("/", 1)[1]
    assert not storage.exists(key)


def test_forged_upload_tickets_are_refused(api, member) -> None:
    r = api.request(
        "PUT", "/social/uploads/forged.ticket", headers={"content-type": "image/jpeg"}, body=b"\xff\xd8\xff"
    )
    assert r.status == 400


@pytest.mark.parametrize(("body", "field"), [({"content_type": "image/png", "size": 10}, "content_type"),
                                             ({"content_type": "image/jpeg", "size": 9 * 1024 * 1024}, "size"),
                                             ({"content_type": "image/jpeg"}, "size")])  # fmt: skip
def test_upload_tickets_are_validated(api, member, body, field) -> None:
    error = assert_error(api.post("/api/social/uploads", body, token=member.token), 422)
    assert field in error["fields"]


def test_on_s3_the_ticket_is_a_presigned_put(api, member, monkeypatch) -> None:
    from moto import mock_aws

    monkeypatch.setenv("STORAGE_BACKEND", "s3")
    monkeypatch.setenv("SOCIAL_MEDIA_BASE_URL", "https://media.example.net")
    config.reset()
    with mock_aws():
        storage.reset_clients()
        ticket = api.post("/api/social/uploads", {"content_type": "image/jpeg", "size": 10}, token=member.token).json
    storage.reset_clients()
    assert "Signature=" in ticket["upload_url"] and "social-media" in ticket["upload_url"]
    assert ticket["image_url"].startswith(f"https://media.example.net/{member.user.id}/")
    path = "/social/uploads/" + "x"
    assert api.request("PUT", path, headers={"content-type": "image/jpeg"}, body=b"\xff\xd8\xff").status == 404


def test_connect_helper_is_usable(stub, member) -> None:
    assert helpers.connect(member.user).status == "connected"
