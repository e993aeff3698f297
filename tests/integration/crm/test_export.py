"""CSV export of the list's filters (keyset batches) and the per-person data export."""

from __future__ import annotations

import csv
import io

from chalicelib.crm import service, store


def test_export_filters_batches_and_defuses_formulas(api, owner, monkeypatch):
    for i in range(7):
        api.request("POST", "/api/contacts", {"email": f"e{i}@x.com", "name": "=cmd()" if i == 0 else f"E{i}",
                                              "tags": ["t"] if i % 2 else [], "fields": {"k": "v"}}, token=owner.token)  # fmt: skip
    calls = []
    real = store.batch_after
    monkeypatch.setattr(store, "batch_after", lambda *a: calls.append(a[2:]) or real(*a))
    monkeypatch.setattr(service, "export_batches", _small_batches(service.export_batches))
    r = api.request("GET", "/api/contacts/export?tag=t", token=owner.token, headers={"accept": "text/csv"})
    assert r.status == 200 and r.header("content-type").startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == ["email", "name", "phone", "tags", "status", "source", "created_at", "last_activity_at", "fields"]
    assert [row[0] for row in rows[1:]] == ["e1@x.com", "e3@x.com", "e5@x.com"]
    assert len(calls) == 2  # batches of 2: a full one, then a short one that ends it
    everyone = list(csv.reader(io.StringIO(api.request("GET", "/api/contacts/export", token=owner.token).text)))
    assert len(everyone) == 8 and [row[1] for row in everyone if row[0] == "e0@x.com"] == ["'=cmd()"]


def _small_batches(real):
    return lambda user, query, batch_size=1000: real(user, query, batch_size=2)


def test_personal_data_export_and_delete(api, owner, other):
    c = api.request("POST", "/api/contacts", {"email": "p@x.com"}, token=owner.token).json
    api.request("POST", f"/api/contacts/{c['id']}/notes", {"body": "called"}, token=owner.token)
    data = api.request("GET", f"/api/contacts/{c['id']}/export", token=owner.token).json
    assert data["contact"]["email"] == "p@x.com" and data["consent"]["method"] == "api"
    assert [a["type"] for a in data["activities"]] == ["created", "note"]
    assert api.request("GET", f"/api/contacts/{c['id']}/export", token=other.token).status == 404
    assert api.request("DELETE", f"/api/contacts/{c['id']}", token=owner.token).status == 204
    assert api.request("GET", f"/api/contacts/{c['id']}/export", token=owner.token).status == 404
