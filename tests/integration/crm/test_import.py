"""CSV imports: encodings, delimiters, duplicates, bad rows, the quota, chunk checkpoints
(a function killed after the third chunk and redelivered), merging into existing contacts."""

from __future__ import annotations

import json

import pytest

from chalicelib.core import db, events, storage
from chalicelib.crm import imports
from tests.conftest import assert_error


def _post_csv(api, owner, body: bytes):
    return api.request(
        "POST", "/api/contacts/import", token=owner.token, body=body, headers={"content-type": "text/csv"}
    )


def _count(sql: str, *params) -> int:
    return int(db.fetch_one(sql, params)["n"])


def big_file() -> tuple[bytes, dict[str, int]]:
    """10,000 data rows, UTF-8 with a BOM, semicolons, quoted newlines, accents; every 10th
    row repeats an earlier address in another case, every 25th has an invalid address."""
    lines = ["\ufeffEmail;Name;Tags;City"]
    created = updated = skipped = 0
    seen: set[int] = set()
    for i in range(1, 10_001):
        if i % 25 == 0:
            lines.append(f"not-an-email-{i};Bad;;X")
            skipped += 1
        elif i % 10 == 0:
            lines.append(f"PERSON{i - 5}@EXAMPLE.COM;;vip;")  # an address of an earlier row
            updated += (i - 5) in seen
            created += (i - 5) not in seen  # that earlier row was invalid: this one creates it
            seen.add(i - 5)
        else:
            lines.append(f'person{i}@example.com;"Zoë ""{i}""\nSecond line";lead;Zürich')
            created += 1
            seen.add(i)
    return ("\r\n".join(lines) + "\r\n").encode("utf-8"), {"created": created, "updated": updated, "skipped": skipped}


def test_ten_thousand_rows_exact_counts(api, owner):
    body, expected = big_file()
    r = _post_csv(api, owner, body)
    assert r.status == 202, r.body
    imp = api.request("GET", f"/api/contacts/imports/{r.json['id']}", token=owner.token).json
    assert imp["status"] == "done", imp
    assert {k: imp[k] for k in ("created", "updated", "skipped")} == expected
    assert imp["progress"] == {"done": 10_000, "total": 10_000}
    assert len(imp["errors"]) == 100 and imp["errors_more"] == expected["skipped"] - 100
    assert imp["errors"][0] == {"row": 25, "message": "Invalid email address: 'not-an-email-25'."}
    assert _count("SELECT COUNT(*) AS n FROM contacts WHERE user_id = %s", owner.user.id) == expected["created"]
    row = db.fetch_one("SELECT id, name, fields FROM contacts WHERE email_canonical = 'person5@example.com'")
    assert row["name"] == 'Zoë "5" Second line'  # names are one line: the quoted newline became a space
    tags = {r["tag"] for r in db.fetch_all("SELECT tag FROM contact_tags WHERE contact_id = %s", (row["id"],))}
    assert tags == {"lead", "vip"}  # row 10 repeated person5 in capitals with the tag vip
    assert json.loads(row["fields"]) == {"City": "Zürich"}
    assert storage.list_keys(f"crm/imports/{owner.user.id}/") == []  # the file goes once applied


def test_latin1_tabs_and_merge_never_erases(api, owner):
    api.request("POST", "/api/contacts", {"email": "ann@example.com", "name": "Ann", "phone": "+1 555",
                                          "tags": ["old"], "fields": {"plan": "gold"}}, token=owner.token)  # fmt: skip
    body = (
        "email\tname\tphone\ttags\tplan\tcity\nANN@example.com\t\t\tnew; also\t\tMünchen\nbé@example.com\tBéa\t\t\t\t\n"
    )
    r = _post_csv(api, owner, body.encode("latin-1"))
    assert r.status == 202
    imp = api.request("GET", f"/api/contacts/imports/{r.json['id']}", token=owner.token).json
    assert (imp["created"], imp["updated"], imp["skipped"]) == (1, 1, 0), imp
    ann = api.request("GET", "/api/contacts?q=ann", token=owner.token).json["data"][0]
    assert ann["name"] == "Ann" and ann["phone"] == "+1 555" and ann["source"] == "api"
    assert sorted(ann["tags"]) == ["also", "new", "old"]
    assert ann["fields"] == {"plan": "gold", "city": "München"}
    bea = api.request("GET", "/api/contacts?q=b%C3%A9", token=owner.token).json["data"][0]
    assert bea["name"] == "Béa" and bea["source"] == "import" and bea["status"] == "subscribed"
    acts = api.request("GET", f"/api/contacts/{ann['id']}/activities", token=owner.token).json["data"]
    assert acts[0]["type"] == "imported" and acts[0]["data"]["created"] is False


def test_killed_after_third_chunk_resumes_without_duplicates(api, owner, monkeypatch):
    body, expected = big_file()

    def die(chunks: int) -> None:
        if chunks == 3:
            raise RuntimeError("injected: the function died")

    monkeypatch.setattr(imports, "after_chunk", die)
    r = _post_csv(api, owner, body)  # in-process delivery: the handler fails (logged, like a DLQ)
    assert r.status == 202
    imp = api.request("GET", f"/api/contacts/imports/{r.json['id']}", token=owner.token).json
    assert imp["status"] == "running" and imp["progress"]["done"] == 3000
    monkeypatch.setattr(imports, "after_chunk", lambda _n: None)
    events.route_for(imports.IMPORT_EVENT).dispatch(
        events.Event(imports.IMPORT_EVENT, {"import_id": r.json["id"], "user_id": owner.user.id})
    )
    imp = api.request("GET", f"/api/contacts/imports/{r.json['id']}", token=owner.token).json
    assert imp["status"] == "done"
    assert {k: imp[k] for k in ("created", "updated", "skipped")} == expected
    assert _count("SELECT COUNT(*) AS n FROM contacts WHERE user_id = %s", owner.user.id) == expected["created"]
    assert _count("SELECT COUNT(*) AS n FROM contact_activities WHERE type = 'imported'") == 10_000 - expected[
        "skipped"
    ] - (expected["updated"] - 0) + _repeats_across_chunks(expected)
    # A third delivery after the end changes nothing.
    imports.run(r.json["id"])
    assert api.request("GET", f"/api/contacts/imports/{r.json['id']}", token=owner.token).json == imp


def _repeats_across_chunks(expected: dict[str, int]) -> int:
    # One `imported` activity per contact per chunk it appears in: a repeat (row i, of row
    # i - 5) is in another chunk only when i is a multiple of 1000 (row i - 5 is in the chunk before).
    return sum(1 for i in range(10, 10_001, 10) if i % 25 and (i - 1) // 1000 != (i - 6) // 1000)


def test_quota_stops_the_import_and_says_so(api, make_owner):
    owner = make_owner("free")  # 250 contacts
    body = ("email\n" + "".join(f"q{i}@example.com\n" for i in range(300))).encode()
    imp = _post_csv(api, owner, body).json
    imp = api.request("GET", f"/api/contacts/imports/{imp['id']}", token=owner.token).json
    assert (imp["created"], imp["skipped"]) == (250, 50)
    assert imp["errors"][0] == {"row": 251, "message": "Your plan's contact limit (250) is reached."}


def test_bad_files_are_422(api, owner):
    for body in (b"", b"name,phone\nx,y\n", b"\x00\x01"):
        err = assert_error(_post_csv(api, owner, body), 422)
        assert "file" in err["fields"]


def test_another_owner_cannot_read_an_import(api, owner, other):
    imp = _post_csv(api, owner, b"email\na@example.com\n").json
    assert_error(api.request("GET", f"/api/contacts/imports/{imp['id']}", token=other.token), 404)


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_delimiters_are_sniffed(api, owner, delimiter):
    body = delimiter.join(["email", "name", "tags"]) + "\n" + delimiter.join(["d@example.com", "D", "a;b"]) + "\n"
    imp = _post_csv(api, owner, body.encode()).json
    assert api.request("GET", f"/api/contacts/imports/{imp['id']}", token=owner.token).json["created"] == 1
    c = api.request("GET", "/api/contacts", token=owner.token).json["data"][0]
    assert c["name"] == "D"


def test_a_long_import_hands_the_rest_to_a_new_event(api, owner, monkeypatch):
    monkeypatch.setattr(imports, "RUN_BUDGET_S", 0.0)  # every chunk is "too long": one event per chunk
    seen = []
    real_publish = events.publish
    monkeypatch.setattr(events, "publish", lambda n, p: seen.append(n) or real_publish(n, p))
    body = ("email\n" + "".join(f"h{i}@example.com\n" for i in range(3500))).encode()
    imp = _post_csv(api, owner, body).json
    imp = api.request("GET", f"/api/contacts/imports/{imp['id']}", token=owner.token).json
    assert (imp["status"], imp["created"]) == ("done", 3500)
    assert seen.count(imports.IMPORT_EVENT) == 4  # the first, then one after each chunk but the last
