"""Contacts that arrive by themselves: site forms and sales, delivered twice; the double
opt-in link (works once, expires); a form block's tags and opt-in setting."""

from __future__ import annotations

import json

import pytest

from chalicelib.core import db, events, security
from chalicelib.crm import inbound, service


@pytest.fixture
def mails(tmp_path, monkeypatch):
    folder = tmp_path / "mail"
    monkeypatch.setenv("MAIL_DIR", str(folder))
    from chalicelib.core import config

    config.reset()
    return lambda: [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))] if folder.exists() else []


def _form_event(owner, email="fan@example.com", kind="subscribe", **extra) -> events.Event:
    payload = {"site_id": 7, "user_id": owner.user.id, "page_id": 1, "block_id": "b" * 16, "kind": kind,
               "data": {"email": email, "name": "Fan"}, "submission_id": 42, "page_url": "https://me.mewayz.site/",
               **extra}  # fmt: skip
    return events.Event(inbound.FORM_SUBMITTED, payload)


def _deliver(event: events.Event) -> None:
    """To the CRM's event function (analytics consumes order.paid too)."""
    next(r for r in events.routes_for(event.name) if r.function == "crm").dispatch(event)


def _activities(contact_id: int) -> list[str]:
    return [r["type"] for r in db.fetch_all("SELECT type FROM contact_activities WHERE contact_id = %s ORDER BY id",
                                            (contact_id,))]  # fmt: skip


def test_subscribe_form_twice_then_confirm_once(owner, mails, api):
    event = _form_event(owner, email="Fan@Example.com", tags=["newsletter"])
    _deliver(event)
    _deliver(event)  # redelivered: nothing twice
    contact = service.find_contact_by_email(owner.user.id, "fan@example.com")
    assert contact["status"] == "pending" and contact["source"] == "form" and contact["tags"] == ["newsletter"]
    assert _activities(contact["id"]) == ["created", "form_submitted"]
    sent = mails()
    assert len(sent) == 1 and sent[0]["to"] == "fan@example.com" and "me.mewayz.site" in sent[0]["text"]
    link = next(w for w in sent[0]["text"].split() if "/confirm/" in w)
    path = link[link.index("/confirm/") :]
    r = api.request("GET", path, headers={"accept": "text/html"})
    assert r.status == 200 and "Subscription confirmed" in r.text
    assert service.get_contact(owner.user.id, contact["id"])["status"] == "subscribed"
    again = api.request("GET", path, headers={"accept": "text/html"})
    assert again.status == 200 and "Already confirmed" in again.text
    row = db.fetch_one("SELECT consent_method, consent_page, consent_at FROM contacts WHERE id = %s", (contact["id"],))
    assert row["consent_method"] == "form" and row["consent_page"] == "https://me.mewayz.site/" and row["consent_at"]
    assert service.audience_count(owner.user.id, None) == 1


def test_confirmation_link_expires(owner, mails, api, monkeypatch):
    _deliver(_form_event(owner))
    link = next(w for w in mails()[0]["text"].split() if "/confirm/" in w)
    real_now = security.now
    monkeypatch.setattr(security, "now", lambda: real_now() + inbound.CONFIRM_TTL_S + 5)
    r = api.request("GET", link[link.index("/confirm/") :], headers={"accept": "text/html"})
    assert r.status == 410 and "expired" in r.text
    assert service.find_contact_by_email(owner.user.id, "fan@example.com")["status"] == "pending"
    forged = api.request("GET", "/confirm/abc.def", headers={"accept": "text/html"})
    assert forged.status == 404


def test_unsubscribed_contact_resubscribes_through_confirmation_and_old_links_die(owner, mails, api):
    _deliver(_form_event(owner))
    first = next(w for w in mails()[0]["text"].split() if "/confirm/" in w)
    _deliver(_form_event(owner))  # asked again: a new mail, the older link is replaced
    assert len(mails()) == 2
    second = next(w for w in mails()[1]["text"].split() if "/confirm/" in w)
    assert "Already confirmed" in api.request("GET", first[first.index("/confirm/") :]).text
    assert "Subscription confirmed" in api.request("GET", second[second.index("/confirm/") :]).text


def test_single_opt_in_and_contact_forms_subscribe_at_once(owner, mails):
    _deliver(_form_event(owner, email="one@example.com", opt_in="single"))
    _deliver(_form_event(owner, email="two@example.com", kind="contact", tags=[]))
    for email in ("one@example.com", "two@example.com"):
        assert service.find_contact_by_email(owner.user.id, email)["status"] == "subscribed"
    assert mails() == []


def test_form_settings_come_from_the_live_block(owner, mails, monkeypatch):
    from chalicelib.sites import service as sites

    block = {"id": "c" * 16, "type": "form", "kind": "subscribe", "tags": ["vip"], "opt_in": "single"}
    monkeypatch.setattr(sites, "public_block", lambda block_id: (None, None, block) if block_id == "c" * 16 else None)
    _deliver(_form_event(owner, block_id="c" * 16))
    c = service.find_contact_by_email(owner.user.id, "fan@example.com")
    assert c["tags"] == ["vip"] and c["status"] == "subscribed"


def test_existing_contact_gets_tag_and_activity_and_events(owner, mails, monkeypatch):
    existing = service.create_contact(owner.user, {"email": "fan@example.com", "name": "Known"})
    seen = []
    monkeypatch.setattr(events, "publish", lambda name, payload: seen.append((name, payload)))
    inbound.form_submitted(_form_event(owner, tags=["fans"], opt_in="single"))
    c = service.get_contact(owner.user.id, existing["id"])
    assert c["name"] == "Known" and c["tags"] == ["fans"] and c["source"] == "api"
    assert _activities(c["id"])[-2:] == ["form_submitted", "tag_added"]
    assert seen == [("contact.tagged", {"user_id": owner.user.id, "contact_id": c["id"], "tag": "fans"})]


def _order_event(owner, email="Buyer@Example.com") -> events.Event:
    return events.Event(
        inbound.ORDER_PAID,
        {"order_id": 9, "user_id": owner.user.id, "site_id": 7, "block_id": "p" * 16, "amount": 4500,
         "currency": "usd", "buyer_email": email, "buyer_name": "Bea Buyer", "paid_at": "2026-11-27T10:00:00Z"},
    )  # fmt: skip


def test_order_paid_twice_makes_one_customer(owner, monkeypatch):
    seen = []
    real_publish = events.publish
    monkeypatch.setattr(events, "publish", lambda n, p: seen.append(n) or real_publish(n, p))
    event = _order_event(owner)
    _deliver(event)
    _deliver(event)
    c = service.find_contact_by_email(owner.user.id, "buyer@example.com")
    assert c["source"] == "purchase" and c["tags"] == ["customer"] and c["name"] == "Bea Buyer"
    acts = db.fetch_all("SELECT type, data FROM contact_activities WHERE contact_id = %s ORDER BY id", (c["id"],))
    assert [a["type"] for a in acts] == ["created", "purchase"]
    assert json.loads(acts[1]["data"])["amount"] == 4500
    assert seen == ["contact.added", "contact.tagged"]
    _deliver(_order_event(owner))  # a second order (another event): another purchase activity, no new contact
    assert _activities(c["id"]) == ["created", "purchase", "purchase"]
    assert db.fetch_one("SELECT COUNT(*) AS n FROM contacts")["n"] == 1


def test_over_quota_form_contact_is_not_created(make_owner, mails):
    owner = make_owner("free")
    rows = [(owner.user.id, f"p{i}@example.com", f"p{i}@example.com", "{}", "manual") for i in range(250)]
    db.execute_many(
        "INSERT INTO contacts (user_id, email, email_canonical, fields, source) VALUES (%s, %s, %s, %s, %s)", rows
    )
    _deliver(_form_event(owner))
    assert service.find_contact_by_email(owner.user.id, "fan@example.com") is None and mails() == []


def test_form_blocks_keep_tags_and_opt_in(owner):
    from chalicelib.core.errors import ValidationFailed
    from chalicelib.sites import service as sites

    site = sites.create_site(owner.user, {"name": "Mine", "domain": f"crm{owner.user.id}", "template": "classic"})
    page = sites.list_pages(owner.user, site.id)[0]
    form = {"type": "form", "kind": "subscribe", "title": "News", "button_label": "Join"}
    saved = sites.update_page(
        owner.user, site.id, page.id, {"blocks": [{**form, "tags": "news, vip ,", "opt_in": "single"}]}
    )
    block = saved.blocks[0]
    assert block["tags"] == ["news", "vip"] and block["opt_in"] == "single"
    for bad in ({"tags": ["x" * 65]}, {"tags": [f"t{i}" for i in range(11)]}, {"opt_in": "maybe"}, {"tags": 5}):
        with pytest.raises(ValidationFailed):
            sites.update_page(owner.user, site.id, page.id, {"blocks": [{**form, **bad}]})
