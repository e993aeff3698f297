"""End to end with the sites area: a visitor subscribes with a live site's form block (its
tags and double opt-in), the real form.submitted reaches the CRM, the confirmation mail's
link subscribes the contact once."""

from __future__ import annotations

import json

from chalicelib.core import config
from chalicelib.crm import service
from chalicelib.sites import service as sites


def test_a_live_subscribe_form_brings_a_pending_contact_who_confirms(api, owner, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MAIL_DIR", str(tmp_path / "mail"))
    config.reset()
    site = sites.create_site(owner.user, {"name": "Shop", "domain": f"crmform{owner.user.id}", "template": "modern"})
    page = sites.list_pages(owner.user, site.id)[0]
    form = {"type": "form", "kind": "subscribe", "title": "News", "button_label": "Join", "tags": "newsletter"}
    block_id = sites.update_page(owner.user, site.id, page.id, {"blocks": [form]}).blocks[0]["id"]
    assert api.post(f"/api/sites/{site.id}/publish", token=owner.token).status == 202
    assert api.post(f"/api/forms/{block_id}", {"email": "Reader@Example.com", "name": "Rea"}).status == 202
    contact = service.find_contact_by_email(owner.user.id, "reader@example.com")
    assert contact is not None
    assert (contact["status"], contact["source"], contact["tags"]) == ("pending", "form", ["newsletter"])
    mails = [json.loads(p.read_text()) for p in sorted((tmp_path / "mail").glob("*.json"))]
    confirm = [m for m in mails if m["to"] == "reader@example.com"]
    assert len(confirm) == 1 and "Rea" not in confirm[0]["text"]  # nothing the form's sender typed
    link = next(w for w in confirm[0]["text"].split() if "/confirm/" in w)
    r = api.request("GET", link[link.index("/confirm/") :], headers={"accept": "text/html"})
    assert r.status == 200 and "Subscription confirmed" in r.text
    assert service.get_contact(owner.user.id, contact["id"])["status"] == "subscribed"
    assert service.audience_count(owner.user.id, None) == 1
