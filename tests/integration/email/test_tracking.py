"""Open pixel and click redirects: signed per recipient, unique counts per contact, totals
every time, and a click goes only to a URL of that campaign."""

from __future__ import annotations

import re

from chalicelib.core import security
from chalicelib.email import service
from tests.integration.email.conftest import add_contacts, campaign_body, crm, mails, recipients


def _paths(message: dict, kind: str) -> list[str]:
    return [
        u.removeprefix("https://app.mewayz.test")
        for u in re.findall(rf'https://app\.mewayz\.test/e/{kind}/[^"]+', message["html"])
    ]


def test_opens_count_once_per_contact_and_every_time_in_totals(api, client, owner, email_env) -> None:
    add_contacts(owner, ["a@example.com", "b@example.com"])
    campaign_id = service.create_campaign(owner.user, campaign_body()).id
    api.post(f"/api/campaigns/{campaign_id}/send", {}, token=owner.token)
    pixel = _paths(next(m for m in mails(email_env) if m["to"] == "a@example.com"), "o")[0]
    for _ in range(3):
        r = client.http.get(pixel, headers={"accept": "image/avif,image/webp,image/*,*/*;q=0.8"})
        assert r.status_code == 200 and r.headers["Content-Type"] == "image/gif" and r.body.startswith(b"GIF89a")
    stats = api.get(f"/api/campaigns/{campaign_id}/stats", token=owner.token).json
    assert client.http.get(pixel).status_code == 204  # no Accept header: no image, still an open
    stats = api.get(f"/api/campaigns/{campaign_id}/stats", token=owner.token).json
    assert stats["opened"] == 1
    campaign = service.get_campaign(owner.user, campaign_id)
    assert sum(service.chart(campaign)["opens"]) == 4
    contact = crm().find_contact_by_email(owner.user.id, "a@example.com")
    kinds = [a["type"] for a in crm().list_activities(owner.user, contact["id"], 20, None)[0]]
    assert kinds.count("email_opened") == 1
    assert client.http.get("/e/o/forged.token").status_code == 404


def test_a_click_goes_only_to_the_campaigns_links(api, client, owner, email_env) -> None:
    add_contacts(owner, ["a@example.com"])
    campaign_id = service.create_campaign(owner.user, campaign_body()).id
    api.post(f"/api/campaigns/{campaign_id}/send", {}, token=owner.token)
    links = _paths(mails(email_env)[0], "c")
    assert len(links) == 2
    first = client.http.get(links[0])
    assert (
        first.status_code == 302
        and {k.lower(): v for k, v in first.headers.items()}["location"] == "https://blog.example.com/spring"
    )
    client.http.get(links[0])
    assert {k.lower(): v for k, v in client.http.get(links[1]).headers.items()}[
        "location"
    ] == "https://shop.example.com/"
    stats = api.get(f"/api/campaigns/{campaign_id}/stats", token=owner.token).json
    assert stats["clicked"] == 1 and stats["opened"] == 1
    assert {link["url"]: link["clicks"] for link in stats["links"]} == {
        "https://blog.example.com/spring": 2, "https://shop.example.com/": 1}  # fmt: skip
    # A forged token, another campaign's link id, or a token for another purpose: 404, no redirect.
    (row,) = recipients(campaign_id)
    other = service.create_campaign(
        owner.user, campaign_body(name="Other", body_markdown="[x](https://evil.example/)")
    ).id
    assert other
    for token in ("forged.token", security.sign("email-click", {"r": row["id"], "l": 999999}, 60),
                  security.sign("email-open", {"r": row["id"], "l": 1}, 60), links[0].rsplit("/", 1)[1][:-2] + "xx"):  # fmt: skip
        r = client.http.get(f"/e/c/{token}")
        assert r.status_code == 404 and "location" not in {k.lower() for k in r.headers}
