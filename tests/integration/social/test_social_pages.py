"""The /social page and its forms, through a signed-in browser-like client."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest

from chalicelib.core import db, sessions
from chalicelib.social import handlers, service
from tests.integration.social import helpers


class Browser:
    def __init__(self, api, user) -> None:
        self.api = api
        session = sessions.create(user.id)
        self.cookie = f"{sessions.SESSION_COOKIE}={session.id}; mw_tz=Europe%2FParis"
        self.csrf = sessions.csrf_token(session.id)

    def get(self, path: str):
        return self.api.get(path, headers={"cookie": self.cookie, "accept": "text/html"})

    def post(self, path: str, form: dict[str, str] | None = None):
        body = urlencode({**(form or {}), "csrf_token": self.csrf}).encode()
        headers = {"cookie": self.cookie, "content-type": "application/x-www-form-urlencoded", "accept": "text/html"}
        return self.api.request("POST", path, headers=headers, body=body)

    def post_json(self, path: str, body: bytes = b"{}"):
        headers = {"cookie": self.cookie, "content-type": "application/json", "x-csrf-token": self.csrf}
        return self.api.request("POST", path, headers=headers, body=body)


@pytest.fixture
def browser(api, member) -> Browser:
    return Browser(api, member.user)


def test_the_empty_page_says_what_to_do_first(browser, stub) -> None:
    r = browser.get("/social")
    assert r.status == 200
    assert "No Instagram account yet" in r.text and "Connect Instagram" in r.text
    assert "Nothing to publish to yet" in r.text
    assert 'aria-current="page"' in r.text and 'href="/social"' in r.text  # the nav item is on


def test_connect_answers_the_authorization_url_as_json(browser, stub) -> None:
    r = browser.post_json("/social/connect")
    assert r.status == 200 and r.json["url"].startswith(stub.url + "/oauth/authorize?")
    # Without the CSRF header it is refused.
    plain = browser.api.request("POST", "/social/connect", headers={"cookie": browser.cookie,
                                "content-type": "application/json"}, body=b"{}")  # fmt: skip
    assert plain.status == 403


def test_connect_at_quota_is_a_json_403(browser, stub, member, account) -> None:
    r = browser.post_json("/social/connect")
    assert r.status == 403 and r.json["error"]["code"] == "quota_exceeded"


def test_the_page_with_an_account_shows_it_its_media_chart_and_calendar(browser, stub, member, account) -> None:
    when = service.utcnow() + timedelta(minutes=30)
    service.create_post(member.user, {"account_id": account.id, "caption": "In the calendar #one",
                                      "image_url": "https://cdn.example.com/c.jpg", "scheduled_at": when.isoformat() + "Z"})  # fmt: skip
    r = browser.get("/social")
    assert r.status == 200
    assert "@mewayz.creator" in r.text and "Connected" in r.text
    assert 'data-testid="media-grid"' in r.text and r.text.count("<img") >= 7
    assert 'id="social-chart-data"' in r.text and "uplot" in r.text
    assert "In the calendar #one" in r.text and "Europe/Paris" in r.text
    assert re.search(r'data-status="scheduled"', r.text)


def test_media_failing_shows_a_message_not_an_error_page(browser, stub, member, account) -> None:
    stub.fail("5xx", count=6, operation="recent_media")
    r = browser.get("/social")
    assert r.status == 200 and "Recent posts are unavailable right now" in r.text


def test_the_composer_schedules_in_the_visitors_time_zone(browser, stub, member, account) -> None:
    local = (service.utcnow() + timedelta(days=2)).replace(hour=9, minute=30)
    r = browser.post("/social/posts", {"account_id": str(account.id), "caption": "Morning #coffee",
                                        "image_url": "https://cdn.example.com/m.jpg",
                                        "scheduled_local": local.strftime("%Y-%m-%dT%H:%M"),
                                        "time_zone": "America/New_York"})  # fmt: skip
    assert r.status == 303, r.text[:500]
    post = service.list_posts(member.user, 10, None)[0][0]
    offset = (local - post.scheduled_at).total_seconds() / 3600
    assert round(offset) in (-4, -5)  # New York is 4 or 5 hours behind UTC


def test_composer_errors_re_render_the_form_with_messages(browser, stub, member, account) -> None:
    r = browser.post("/social/posts", {"account_id": str(account.id), "caption": "#a " * 31,
                                        "image_url": "http://not-https.example.com/x.jpg",
                                        "scheduled_local": "2001-01-01T10:00", "time_zone": "UTC"})  # fmt: skip
    assert r.status == 422
    assert "at most 30 hashtags" in r.text and "https://" in r.text and "Must be in the future" in r.text
    assert db.fetch_one("SELECT COUNT(*) AS n FROM social_posts")["n"] == 0


@pytest.mark.parametrize(
    ("local", "zone"), [("0001-01-01T00:30", "Asia/Tokyo"), ("9999-12-31T23:30", "America/New_York")]
)
def test_a_local_time_outside_what_utc_can_hold_is_a_form_error(browser, stub, member, account, local, zone) -> None:
    r = browser.post("/social/posts", {"account_id": str(account.id), "caption": "Edge of time",
                                        "image_url": "https://cdn.example.com/e.jpg",
                                        "scheduled_local": local, "time_zone": zone})  # fmt: skip
    assert r.status == 422, r.text[:300]
    assert db.fetch_one("SELECT COUNT(*) AS n FROM social_posts")["n"] == 0


@pytest.mark.parametrize("week", ["0001-01-01", "9999-12-31", "2026-02-30"])
def test_a_calendar_week_outside_the_calendar_shows_this_week(browser, stub, week) -> None:
    this_week = re.search(r"Week of [^<]+", browser.get("/social").text)
    r = browser.get(f"/social?week={week}")
    assert r.status == 200, r.text[:300]
    assert this_week and re.search(r"Week of [^<]+", r.text).group(0) == this_week.group(0)


def test_cancel_and_disconnect_from_the_page(browser, stub, member, account) -> None:
    post = service.create_post(member.user, {"account_id": account.id, "image_url": "https://cdn.example.com/c.jpg",
                                             "scheduled_at": (service.utcnow() + timedelta(hours=1)).isoformat() + "Z"})  # fmt: skip
    assert browser.post(f"/social/posts/{post.id}/cancel").status == 303
    assert service.get_post(member.user, post.id).status == "canceled"
    assert browser.post(f"/social/posts/{post.id}/cancel").status == 303  # already canceled: nothing to do
    assert browser.post(f"/social/accounts/{account.id}/disconnect").status == 303
    r = browser.get("/social")
    assert "Disconnected" in r.text and "Reconnect" in r.text


def test_another_users_objects_are_404_on_pages(api, stub, member, account) -> None:
    from tests.integration.social.conftest import make_member

    intruder = Browser(api, make_member("intruder@example.com").user)
    assert intruder.post(f"/social/accounts/{account.id}/disconnect").status == 404
    assert service.get_account(member.user, account.id).status == "connected"


def test_a_published_post_shows_its_permalink(browser, stub, member, account) -> None:
    service.create_post(member.user, {"account_id": account.id, "image_url": "https://cdn.example.com/p.jpg",
                                      "caption": "Live", "scheduled_at": (service.utcnow() + timedelta(minutes=1)).isoformat() + "Z"})  # fmt: skip
    handlers.publish_due(service.utcnow() + timedelta(minutes=2))
    r = browser.get("/social")
    assert 'data-testid="permalink"' in r.text and helpers.Stub(stub.url).published()[0]["permalink"] in r.text
