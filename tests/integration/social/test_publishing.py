"""Scheduled publishing: claimed by the minute tick, published exactly once, surviving failures."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from chalicelib.core import db, events, mail
from chalicelib.social import handlers, service, store

IMAGE = "https://cdn.example.com/photos/sunset.jpg"


def _schedule(member, account, caption="Sunset #travel", minutes=1):
    when = service.utcnow() + timedelta(minutes=minutes)
    return service.create_post(
        member.user,
        {"account_id": account.id, "caption": caption, "image_url": IMAGE, "scheduled_at": when.isoformat() + "Z"},
    )


def _tick(minutes_ahead: float = 2) -> int:
    """Run the minute schedule with the clock `minutes_ahead` from now (events run in-process)."""
    return handlers.publish_due(service.utcnow() + timedelta(minutes=minutes_ahead))


def _post(member, post):
    return service.get_post(member.user, post.id)


def _mails(to: str) -> list[mail.Message]:
    return [m for m in mail.outbox() if m.to == to]


def test_a_due_post_is_published_with_its_permalink(stub, member, account) -> None:
    post = _schedule(member, account)
    assert _tick(minutes_ahead=0) == 0  # not due yet
    assert _tick() == 1
    done = _post(member, post)
    assert done.status == "published" and done.attempts == 1 and done.error is None
    published = stub.published()
    assert len(published) == 1 and published[0]["caption"] == "Sunset #travel" and published[0]["media_url"] == IMAGE
    assert done.media_id == published[0]["id"] and done.permalink == published[0]["permalink"]
    assert done.published_at is not None
    assert _tick(minutes_ahead=60) == 0  # nothing left to claim


def test_an_event_delivered_twice_publishes_once(stub, member, account) -> None:
    post = _schedule(member, account)
    delivered: list[events.Event] = []
    route = events.route_for(service.PUBLISH_EVENT)
    original = route.handlers[service.PUBLISH_EVENT]
    route.handlers[service.PUBLISH_EVENT] = lambda e: (delivered.append(e), original(e))
    try:
        _tick()
        original(delivered[0])  # SQS delivers the same message again
        events.Event.from_json(delivered[0].to_json())  # (as it would arrive)
        original(events.Event.from_json(delivered[0].to_json()))
    finally:
        route.handlers[service.PUBLISH_EVENT] = original
    assert len(stub.published()) == 1
    assert _post(member, post).status == "published"


def test_two_deliveries_at_once_publish_once(stub, member, account) -> None:
    post = _schedule(member, account)
    captured: list[events.Event] = []
    route = events.route_for(service.PUBLISH_EVENT)
    original = route.handlers[service.PUBLISH_EVENT]
    route.handlers[service.PUBLISH_EVENT] = captured.append
    try:
        _tick()
    finally:
        route.handlers[service.PUBLISH_EVENT] = original
    copies = [events.Event.from_json(captured[0].to_json()) for _ in range(2)]
    copies[1] = events.Event(name=copies[1].name, payload=copies[1].payload)  # even under another message id

    def deliver(e):
        try:
            original(e)
        finally:
            db.release()

    threads = [threading.Thread(target=deliver, args=(e,)) for e in copies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(stub.published()) == 1
    assert _post(member, post).status == "published"


def test_in_progress_waits_for_the_next_attempt_then_publishes(stub, member, account) -> None:
    stub.configure(in_progress_checks=1)
    post = _schedule(member, account)
    _tick()
    waiting = _post(member, post)
    assert waiting.status == "publishing" and waiting.container_id and stub.published() == []
    assert _tick(minutes_ahead=0.5) == 0  # the next look is a minute after the attempt, not before
    _tick(minutes_ahead=2)
    done = _post(member, post)
    assert done.status == "published" and done.attempts == 2 and done.container_id == waiting.container_id
    assert stub.calls("create_container") == 1  # the stored container was reused


def test_a_transient_failure_is_retried_with_back_off_then_succeeds(stub, member, account) -> None:
    post = _schedule(member, account)
    stub.fail("5xx", count=3, operation="create_container")  # all of the client's attempts in one run
    _tick()
    retrying = _post(member, post)
    assert retrying.status == "publishing" and retrying.attempts == 1 and retrying.failures == 1
    assert "Attempt 1 of 5 failed" in retrying.error
    assert retrying.next_attempt_at >= service.utcnow() + timedelta(seconds=50)
    _tick(minutes_ahead=3)
    done = _post(member, post)
    assert done.status == "published" and done.attempts == 2 and done.error is None
    assert len(stub.published()) == 1


def test_five_failures_fail_the_post_and_mail_the_owner(stub, member, account) -> None:
    post = _schedule(member, account)
    stub.fail("5xx", count=100, operation="publishing_limit")
    for minutes in (2, 4, 8, 16, 40):
        _tick(minutes_ahead=minutes)
    failed = _post(member, post)
    assert failed.status == "failed" and failed.attempts == 5 and failed.failures == 5
    assert "after 5 attempts" in failed.error
    assert failed.next_attempt_at is None
    messages = _mails(member.user.email)
    assert len(messages) == 1 and "could not be published" in messages[0].subject
    assert failed.error in messages[0].text
    _tick(minutes_ahead=120)
    assert _post(member, post).attempts == 5  # failed posts stay failed
    assert len(_mails(member.user.email)) == 1


def test_an_answer_lost_after_publishing_does_not_post_twice(stub, member, account) -> None:
    post = _schedule(member, account)
    stub.fail("5xx", count=1, operation="media_publish", after=True)  # Instagram published; we heard a 500
    _tick()
    assert len(stub.published()) == 1
    retrying = _post(member, post)
    assert retrying.status == "publishing" and retrying.failures == 1
    _tick(minutes_ahead=3)
    done = _post(member, post)
    assert done.status == "published"
    assert len(stub.published()) == 1  # the container said PUBLISHED: no second post
    assert stub.calls("media_publish") == 1
    assert done.media_id == stub.published()[0]["id"]


def test_a_worker_that_died_after_publishing_is_recovered_without_a_second_post(
    stub, member, account, monkeypatch
) -> None:
    post = _schedule(member, account)

    def crash(*args, **kwargs):
        raise RuntimeError("the function was killed before it recorded the result")

    monkeypatch.setattr(store, "mark_published", crash)
    with pytest.raises(RuntimeError):  # (in-process delivery re-raises nothing; call the handler directly)
        captured: list[events.Event] = []
        route = events.route_for(service.PUBLISH_EVENT)
        original = route.handlers[service.PUBLISH_EVENT]
        route.handlers[service.PUBLISH_EVENT] = captured.append
        try:
            _tick()
        finally:
            route.handlers[service.PUBLISH_EVENT] = original
        original(captured[0])
    monkeypatch.undo()
    assert len(stub.published()) == 1 and _post(member, post).status == "publishing"
    assert _tick(minutes_ahead=3) == 0  # its lease (from the tick at +2 min) has not run out yet
    _tick(minutes_ahead=2 + service.LEASE.total_seconds() / 60 + 1)  # the lease ran out: claimed again
    done = _post(member, post)
    assert done.status == "published" and done.permalink
    assert len(stub.published()) == 1


def test_the_24_hour_publishing_limit_defers_with_a_visible_reason(stub, member, account) -> None:
    stub.configure(quota_usage=50, quota_total=50)
    post = _schedule(member, account)
    _tick()
    waiting = _post(member, post)
    assert (
        waiting.status == "scheduled" and "50 of the 50 posts" in waiting.error and "Trying again at" in waiting.error
    )
    assert waiting.failures == 0 and stub.calls("create_container") == 0
    stub.configure(quota_usage=0)
    _tick(minutes_ahead=30)
    assert _post(member, post).status == "scheduled"  # still waiting for its hour
    _tick(minutes_ahead=65)
    assert _post(member, post).status == "published"


def test_an_expired_token_while_publishing_marks_the_account_and_mails_once(stub, member, account) -> None:
    first, second = _schedule(member, account, "one"), _schedule(member, account, "two")
    stub.revoke("mewayz.creator")
    _tick()
    assert store.get_account(member.user.id, account.id).status == "expired"
    for post in (first, second):
        failed = _post(member, post)
        assert failed.status == "failed" and "Reconnect" in failed.error
    messages = _mails(member.user.email)
    assert [m.subject for m in messages] == ["Reconnect @mewayz.creator to keep publishing"]
    assert "/social" in messages[0].text


def test_image_instagram_cannot_process_fails_with_its_reason(stub, member, account) -> None:
    stub.configure(container_error="1")
    post = _schedule(member, account)
    _tick()
    failed = _post(member, post)
    assert failed.status == "failed" and "could not use the image" in failed.error
    assert len(_mails(member.user.email)) == 1


def test_canceled_and_edited_posts(stub, member, account) -> None:
    canceled = _schedule(member, account, "never")
    service.cancel_post(member.user, canceled.id)
    moved = _schedule(member, account, "later")
    service.update_post(
        member.user, moved.id, {"scheduled_at": (service.utcnow() + timedelta(hours=3)).isoformat() + "Z"}
    )
    assert _tick() == 0
    assert stub.published() == []
    assert _tick(minutes_ahead=200) == 1
    assert [p["caption"] for p in stub.published()] == ["later"]


def test_overlapping_ticks_claim_disjoint_posts(stub, member, account) -> None:
    rows = [
        (member.user.id, account.id, f"post {i}", IMAGE, service.utcnow() - timedelta(minutes=1)) for i in range(40)
    ]
    store.insert_posts(rows)
    claimed: list[list[int]] = []
    barrier = threading.Barrier(2)

    def tick() -> None:
        try:
            now = service.utcnow()
            store.read_committed_next()
            with db.transaction():
                barrier.wait(timeout=10)
                claimed.append(store.claim_due(now, now + service.LEASE, "x" * 32, 25))
                barrier.wait(timeout=10)  # both hold their locks here
        finally:
            db.release()

    threads = [threading.Thread(target=tick) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Disjoint, each within its limit, and together every due post (SKIP LOCKED: each tick
    # takes what the other has not locked, however their scans interleave).
    assert len(claimed) == 2 and all(len(c) <= 25 for c in claimed)
    assert not set(claimed[0]) & set(claimed[1])
    assert len(claimed[0]) + len(claimed[1]) == 40
