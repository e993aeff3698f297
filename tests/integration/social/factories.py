"""Owned-object factories for the generated authorization matrix (tests/integration/
test_authorization_matrix.py): a connected Instagram account (through the stand-in, so the
owner's own calls reach a working Instagram) and a scheduled post."""

from __future__ import annotations

from datetime import timedelta

from tests.integration.social import helpers


def instagram_account(owner) -> int:
    helpers.use_stub()
    return helpers.connect(owner).id


def scheduled_post(owner) -> int:
    from chalicelib.social import service

    account_id = instagram_account(owner)
    when = (service.utcnow() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {"account_id": account_id, "image_url": "https://cdn.example.com/x.jpg", "scheduled_at": when}
    return service.create_post(owner, body).id


FACTORIES = {
    "/api/social/accounts/{account_id}": instagram_account,
    "/api/social/accounts/{account_id}/media": instagram_account,
    "/api/social/accounts/{account_id}/insights": instagram_account,
    "/api/social/posts/{post_id}": scheduled_post,
}
