"""Segments return exactly the contacts their filter describes: hypothesis draws contacts
and filters, and a Python model of the filter says which contacts should match."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.core import db
from chalicelib.crm import service

TAGS = ["a", "B", "c", "d"]
BASE = datetime(2026, 1, 1)

contacts_st = st.lists(
    st.tuples(
        st.sets(st.sampled_from(TAGS), max_size=3),
        st.sampled_from(service.STATUSES),
        st.sampled_from(service.SOURCES),
        st.integers(min_value=0, max_value=9),  # created on day N after BASE
    ),
    max_size=25,
)


def one_or_many(values: list[str]) -> st.SearchStrategy:
    return st.one_of(st.sampled_from(values), st.lists(st.sampled_from(values), min_size=1, max_size=3))


filters_st = st.fixed_dictionaries(
    {},
    optional={
        "tags_any": st.lists(st.sampled_from([*TAGS, "b", "A"]), max_size=3),
        "tags_all": st.lists(st.sampled_from([*TAGS, "b"]), max_size=2),
        "status": one_or_many(list(service.STATUSES)),
        "source": one_or_many(list(service.SOURCES)),
        "created_after": st.integers(0, 10).map(lambda d: (BASE + timedelta(days=d)).date().isoformat()),
        "created_before": st.integers(0, 10).map(lambda d: (BASE + timedelta(days=d)).strftime("%Y-%m-%dT%H:%M:%SZ")),
    },
)


def model(flt: dict, contact: tuple) -> bool:
    tags, status, source, day = contact
    folded = {t.casefold() for t in tags}
    created = BASE + timedelta(days=day, hours=12)
    as_list = lambda v: [v] if isinstance(v, str) else v  # noqa: E731
    if flt.get("tags_any") and not folded & {t.casefold() for t in flt["tags_any"]}:
        return False
    if any(t.casefold() not in folded for t in flt.get("tags_all", [])):
        return False
    if "status" in flt and status not in as_list(flt["status"]):
        return False
    if "source" in flt and source not in as_list(flt["source"]):
        return False
    if "created_after" in flt and created < service.parsed_time(flt["created_after"]):
        return False
    return not ("created_before" in flt and created >= service.parsed_time(flt["created_before"]))


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(contacts=contacts_st, flt=filters_st)
def test_segment_matches_its_model(owner, other, contacts, flt):
    db.execute("DELETE FROM contacts WHERE user_id IN (%s, %s)", (owner.user.id, other.user.id))
    db.execute("DELETE FROM contact_segments WHERE user_id = %s", (owner.user.id,))
    ids = []
    for i, (tags, status, source, day) in enumerate(contacts):
        for who in (owner, other):  # the other owner's twin must never match
            cid = db.execute(
                "INSERT INTO contacts (user_id, email, email_canonical, fields, source, status, created_at, updated_at) "
                "VALUES (%s, %s, %s, '{}', %s, %s, %s, %s)",
                (who.user.id, f"c{i}@x.com", f"c{i}@x.com", source, status, BASE + timedelta(days=day, hours=12),
                 BASE),
            ).lastrowid  # fmt: skip
            for t in tags:
                db.execute(
                    "INSERT INTO contact_tags (contact_id, tag, user_id) VALUES (%s, %s, %s)", (cid, t, who.user.id)
                )
            if who is owner:
                ids.append(cid)
    seg = service.create_segment(owner.user, {"name": "s", "filter": flt})
    expected = {cid for cid, c in zip(ids, contacts, strict=True) if model(flt, c)}
    assert seg["contacts"] == len(expected)
    listed, cursor = set(), None
    while True:
        page, cursor = service.list_contacts(owner.user, {"segment_id": str(seg["id"])}, 7, cursor)
        listed |= {c["id"] for c in page}
        if cursor is None:
            break
    assert listed == expected
    subscribed = {cid for cid, c in zip(ids, contacts, strict=True) if model(flt, c) and c[1] == "subscribed"}
    assert service.audience_count(owner.user.id, seg["id"]) == len(subscribed)
    batches = list(service.audience_batches(owner.user.id, seg["id"], batch_size=4))
    assert [c["id"] for b in batches for c in b] == sorted(subscribed)
