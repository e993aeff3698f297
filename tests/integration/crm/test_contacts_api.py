"""Contacts, notes, tags and segments through the JSON API; the service interface the
email area uses (audiences, statuses, activities)."""

from __future__ import annotations

from chalicelib.core import db, events
from chalicelib.crm import service
from tests.conftest import assert_error


def _create(api, owner, **body):
    return api.request("POST", "/api/contacts", body, token=owner.token)


def test_create_read_update_delete(api, owner):
    r = _create(api, owner, email="Ann@Example.com", name="Ann", tags=["vip", "VIP", "lead"], fields={"city": "Oslo"})
    assert r.status == 201, r.body
    c = r.json
    assert c["email"] == "ann@example.com" and c["name"] == "Ann" and c["source"] == "api"
    assert sorted(c["tags"]) == ["lead", "vip"] and c["fields"] == {"city": "Oslo"} and c["status"] == "subscribed"
    assert c["phone"] is None and c["last_activity_at"]
    got = api.request("GET", f"/api/contacts/{c['id']}", token=owner.token)
    assert got.json == c
    r = api.request(
        "PATCH", f"/api/contacts/{c['id']}", {"phone": "+47 123", "tags": ["vip", "new"]}, token=owner.token
    )
    assert r.status == 200, r.body
    assert sorted(r.json["tags"]) == ["new", "vip"] and r.json["phone"] == "+47 123" and r.json["name"] == "Ann"
    acts = api.request("GET", f"/api/contacts/{c['id']}/activities", token=owner.token).json["data"]
    assert [a["type"] for a in acts] == ["tag_added", "created"]
    assert api.request("DELETE", f"/api/contacts/{c['id']}", token=owner.token).status == 204
    assert_error(api.request("GET", f"/api/contacts/{c['id']}", token=owner.token), 404)
    assert db.fetch_one("SELECT COUNT(*) AS n FROM contact_activities")["n"] == 0


def test_duplicate_in_another_case_is_409(api, owner):
    assert _create(api, owner, email="bob@example.com").status == 201
    assert_error(_create(api, owner, email="BOB@EXAMPLE.COM"), 409, "email_taken")
    assert_error(_create(api, owner, email="b\u200bob@example.com"), 409)


def test_validation_names_each_field(api, owner):
    r = _create(api, owner, email="nope", name="a\nb", tags=["x" * 65], fields={"k": 5}, status="bounced", extra=1)
    err = assert_error(r, 422)
    assert set(err["fields"]) == {"email", "name", "tags", "fields", "status", "extra"}
    err = assert_error(_create(api, owner, fields={f"k{i}": "v" for i in range(51)}, email="a@b.co"), 422)
    assert "fields" in err["fields"]


def test_other_owner_sees_404(api, owner, other):
    c = _create(api, owner, email="c@example.com").json
    for method, path, body in (
        ("GET", f"/api/contacts/{c['id']}", None),
        ("PATCH", f"/api/contacts/{c['id']}", {"name": "x"}),
        ("DELETE", f"/api/contacts/{c['id']}", None),
        ("GET", f"/api/contacts/{c['id']}/activities", None),
        ("POST", f"/api/contacts/{c['id']}/notes", {"body": "hi"}),
    ):
        assert_error(api.request(method, path, body, token=other.token), 404)
    assert api.request("GET", "/api/contacts", token=other.token).json["data"] == []


def test_quota_is_403(api, make_owner):
    owner = make_owner("free")
    from chalicelib.accounts import access

    limit = access.quota(owner.user, "contacts")
    rows = [(owner.user.id, f"p{i}@example.com", f"p{i}@example.com", "{}", "manual") for i in range(limit)]
    db.execute_many(
        "INSERT INTO contacts (user_id, email, email_canonical, fields, source) VALUES (%s, %s, %s, %s, %s)", rows
    )
    err = assert_error(_create(api, owner, email="one-more@example.com"), 403, "quota_exceeded")
    assert "contact limit" in err["message"]


def test_notes_and_timeline_pagination(api, owner):
    c = _create(api, owner, email="n@example.com").json
    for i in range(5):
        r = api.request("POST", f"/api/contacts/{c['id']}/notes", {"body": f"note **{i}**"}, token=owner.token)
        assert r.status == 201 and r.json["type"] == "note" and r.json["data"] == {"body": f"note **{i}**"}
    assert_error(api.request("POST", f"/api/contacts/{c['id']}/notes", {"body": " "}, token=owner.token), 422)
    page = api.request("GET", f"/api/contacts/{c['id']}/activities?limit=4", token=owner.token).json
    assert [a["data"].get("body") for a in page["data"]] == ["note **4**", "note **3**", "note **2**", "note **1**"]
    rest = api.request(
        "GET", f"/api/contacts/{c['id']}/activities?limit=4&cursor={page['next_cursor']}", token=owner.token
    ).json
    assert [a["type"] for a in rest["data"]] == ["note", "created"] and rest["next_cursor"] is None


def test_list_filters_search_sort_and_tags(api, owner):
    for email, name, tags in (("amy@x.com", "Amy", ["a"]), ("ben@x.com", "Ben", ["a", "b"]), ("cy@y.com", "", [])):
        assert _create(api, owner, email=email, name=name or None, tags=tags).status == 201
    emails = lambda r: [c["email"] for c in r.json["data"]]  # noqa: E731
    assert emails(api.request("GET", "/api/contacts", token=owner.token)) == ["cy@y.com", "ben@x.com", "amy@x.com"]
    assert emails(api.request("GET", "/api/contacts?tag=b", token=owner.token)) == ["ben@x.com"]
    assert emails(api.request("GET", "/api/contacts?q=AM", token=owner.token)) == ["amy@x.com"]
    assert emails(api.request("GET", "/api/contacts?q=cy%40", token=owner.token)) == ["cy@y.com"]
    assert emails(api.request("GET", "/api/contacts?q=%25", token=owner.token)) == []
    r = api.request("GET", "/api/contacts?sort=email&limit=2", token=owner.token)
    assert emails(r) == ["amy@x.com", "ben@x.com"]
    r2 = api.request("GET", f"/api/contacts?sort=email&limit=2&cursor={r.json['next_cursor']}", token=owner.token)
    assert emails(r2) == ["cy@y.com"] and r2.json["next_cursor"] is None
    assert_error(api.request("GET", "/api/contacts?sort=email&cursor=zzz", token=owner.token), 422)
    assert_error(api.request("GET", "/api/contacts?status=nope", token=owner.token), 422)
    tags = api.request("GET", "/api/tags", token=owner.token).json["data"]
    assert tags == [{"name": "a", "contacts": 2}, {"name": "b", "contacts": 1}]


def test_tags_of_another_owner_never_show(api, owner, other):
    _create(api, owner, email="t@x.com", tags=["secret"])
    assert api.request("GET", "/api/tags", token=other.token).json == {"data": []}


def test_segments_crud_and_counts(api, owner, other):
    for email, tags in (("a@x.com", ["a"]), ("b@x.com", ["a", "b"]), ("c@x.com", ["b"])):
        _create(api, owner, email=email, tags=tags)
    r = api.request("POST", "/api/segments", {"name": "A or B", "filter": {"tags_any": ["a", "b"]}}, token=owner.token)
    assert r.status == 201, r.body
    seg = r.json
    assert seg["contacts"] == 3 and seg["filter"] == {"tags_any": ["a", "b"]}
    r = api.request("PATCH", f"/api/segments/{seg['id']}", {"filter": {"tags_all": ["a", "b"]}}, token=owner.token)
    assert r.json["contacts"] == 1 and r.json["name"] == "A or B"
    listed = api.request("GET", f"/api/contacts?segment_id={seg['id']}", token=owner.token).json["data"]
    assert [c["email"] for c in listed] == ["b@x.com"]
    err = assert_error(
        api.request("POST", "/api/segments", {"name": "x", "filter": {"status": "zz", "bogus": 1}}, token=owner.token),
        422,
    )
    assert set(err["fields"]) == {"filter.status", "filter.bogus"}
    far = {"name": "x", "filter": {"created_after": "0001-01-01T00:00:00+01:00"}}  # before datetime.min in UTC
    assert set(assert_error(api.request("POST", "/api/segments", far, token=owner.token), 422)["fields"]) == {
        "filter.created_after"
    }
    assert_error(api.request("GET", f"/api/segments/{seg['id']}", token=other.token), 404)
    assert_error(api.request("GET", f"/api/contacts?segment_id={seg['id']}", token=other.token), 404)
    assert api.request("GET", "/api/segments", token=owner.token).json["data"][0]["contacts"] == 1
    assert api.request("DELETE", f"/api/segments/{seg['id']}", token=owner.token).status == 204
    assert_error(api.request("DELETE", f"/api/segments/{seg['id']}", token=owner.token), 404)


def test_service_interface_for_campaigns(api, owner, other):
    ids = [_create(api, owner, email=f"m{i}@x.com", tags=["t"] if i % 2 else []).json["id"] for i in range(7)]
    seg = api.request("POST", "/api/segments", {"name": "t", "filter": {"tags_any": ["t"]}}, token=owner.token).json
    uid = owner.user.id
    with db.transaction():
        assert service.audience_count(uid, None) == 7
        assert service.audience_count(uid, seg["id"]) == 3
        batches = list(service.audience_batches(uid, None, batch_size=3))
    assert [len(b) for b in batches] == [3, 3, 1]
    assert [c["id"] for b in batches for c in b] == sorted(ids)
    assert set(batches[0][0]) == {"id", "email", "name", "fields"}
    assert service.set_contact_status(uid, ids[0], "unsubscribed") is True
    assert service.set_contact_status(uid, ids[0], "unsubscribed") is False
    assert service.set_contact_status(uid, ids[1], "complained") is True
    assert service.set_contact_status(uid, ids[1], "bounced") is False
    assert service.audience_count(uid, None) == 5 and service.audience_count(uid, seg["id"]) == 2
    acts = service.list_activities(owner.user, ids[1], 10, None)[0]
    assert acts[0]["type"] == "unsubscribed" and acts[0]["data"] == {"reason": "complaint"}
    service.add_activities(uid, [(ids[2], "email_sent", {"campaign_id": 1}), (ids[3], "email_opened", {})])
    assert service.list_activities(owner.user, ids[2], 10, None)[0][0]["type"] == "email_sent"
    assert service.find_contact_by_email(uid, "M2@X.COM")["id"] == ids[2]
    assert service.find_contact_by_email(other.user.id, "m2@x.com") is None
    assert service.get_contact(uid, ids[2])["email"] == "m2@x.com"
    import pytest

    from chalicelib.core.errors import NotFound

    with pytest.raises(NotFound):
        service.audience_count(other.user.id, seg["id"])
    with pytest.raises(NotFound):
        service.get_contact(other.user.id, ids[2])
    with pytest.raises(NotFound):
        service.get_segment(other.user.id, seg["id"])


def test_contact_events_published(api, owner, monkeypatch):
    seen = []
    monkeypatch.setattr(events, "publish", lambda name, payload: seen.append((name, payload)))
    c = _create(api, owner, email="e@x.com", tags=["vip"]).json
    api.request("PATCH", f"/api/contacts/{c['id']}", {"tags": ["vip", "gold"]}, token=owner.token)
    assert seen == [
        ("contact.added", {"user_id": owner.user.id, "contact_id": c["id"], "source": "api", "tags": ["vip"]}),
        ("contact.tagged", {"user_id": owner.user.id, "contact_id": c["id"], "tag": "vip"}),
        ("contact.tagged", {"user_id": owner.user.id, "contact_id": c["id"], "tag": "gold"}),
    ]
