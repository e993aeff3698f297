"""Sites and pages through the JSON API: shapes, validation per field, conflicts, quotas."""

from __future__ import annotations

import threading

import pytest

from chalicelib.core import config
from tests.conftest import assert_error
from tests.integration.sites.conftest import EVERY_BLOCK, count_queries


def test_create_returns_api_md_site_with_a_home_page(api, owner, home_page) -> None:
    r = api.post("/api/sites", {"name": "  Alice's links ", "domain": "Alice", "template": "modern"}, token=owner.token)
    assert r.status == 201, r.body
    site = r.json
    assert set(site) >= {"id", "name", "domain", "url", "template", "status", "settings", "custom_domain",
                         "live_version", "published_at", "created_at", "updated_at"}  # fmt: skip
    assert site["name"] == "Alice's links"
    assert site["domain"] == "alice.mewayz.site"  # lower-cased, full hostname
    assert site["status"] == "inactive" and site["live_version"] is None and site["custom_domain"] is None
    assert site["url"].endswith("/s/alice.mewayz.site/")
    home = home_page(owner, site["id"])
    assert home["blocks"] == [] and home["position"] == 0
    assert api.get(f"/api/sites/{site['id']}", token=owner.token).json == site


def test_the_full_hostname_is_accepted_too(api, owner) -> None:
    r = api.post(
        "/api/sites", {"name": "B", "domain": "bob-shop.mewayz.site", "template": "classic"}, token=owner.token
    )
    assert r.status == 201 and r.json["domain"] == "bob-shop.mewayz.site"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"domain": "alice", "template": "modern"}, "name"),
        ({"name": "", "domain": "alice", "template": "modern"}, "name"),
        ({"name": "x" * 256, "domain": "alice", "template": "modern"}, "name"),
        ({"name": 7, "domain": "alice", "template": "modern"}, "name"),
        ({"name": "A", "template": "modern"}, "domain"),
        ({"name": "A", "domain": "ab", "template": "modern"}, "domain"),
        ({"name": "A", "domain": "a" * 64, "template": "modern"}, "domain"),
        ({"name": "A", "domain": "-alice", "template": "modern"}, "domain"),
        ({"name": "A", "domain": "alice-", "template": "modern"}, "domain"),
        ({"name": "A", "domain": "al_ice", "template": "modern"}, "domain"),
        ({"name": "A", "domain": "www", "template": "modern"}, "domain"),
        ({"name": "A", "domain": "admin.mewayz.site", "template": "modern"}, "domain"),
        ({"name": "A", "domain": "alice.example.com", "template": "modern"}, "domain"),
        ({"name": "A", "domain": "alice", "template": "fancy"}, "template"),
        ({"name": "A", "domain": "alice"}, "template"),
        ({"name": "A", "domain": "alice", "template": "modern", "colour": "red"}, "colour"),
        ({"name": "A", "domain": "alice", "template": "modern", "settings": []}, "settings"),
        ({"name": "A", "domain": "alice", "template": "modern", "settings": {"theme": {"accent": "red"}}},
         "settings.theme.accent"),
        ({"name": "A", "domain": "alice", "template": "modern", "settings": {"theme": {"font": "comic"}}},
         "settings.theme.font"),
        ({"name": "A", "domain": "alice", "template": "modern", "settings": {"seo": {"image_url": "javascript:alert(1)"}}},
         "settings.seo.image_url"),
        ({"name": "A", "domain": "alice", "template": "modern", "settings": {"seo": {"title": "t" * 121}}},
         "settings.seo.title"),
        ({"name": "A", "domain": "alice", "template": "modern", "settings": {"pixels": {"ga4": "UA-1"}}},
         "settings.pixels.ga4"),
        ({"name": "A", "domain": "alice", "template": "modern", "settings": {"hide_branding": "yes"}},
         "settings.hide_branding"),
        ({"name": "A", "domain": "alice", "template": "modern", "settings": {"extra": 1}}, "settings.extra"),
    ],
)  # fmt: skip
def test_every_site_field_is_validated(api, owner, body, field) -> None:
    error = assert_error(api.post("/api/sites", body, token=owner.token), 422, "validation_failed")
    assert field in error["fields"], error


def test_a_taken_domain_is_409(api, owner, make_owner, create_site) -> None:
    create_site(owner, "alice")
    other = make_owner("professional")
    assert_error(api.post("/api/sites", {"name": "A", "domain": "ALICE.mewayz.site", "template": "modern"},
                          token=other.token), 409, "domain_taken")  # fmt: skip


def test_two_concurrent_creates_of_one_domain_exactly_one_wins(api, make_owner, chalice_app) -> None:
    from chalice.test import Client

    from tests.conftest import Api

    people = [make_owner("professional") for _ in range(2)]
    start = threading.Barrier(2)
    statuses: list[int] = []

    def create(who) -> None:
        with Client(chalice_app, stage_name="test") as c:
            start.wait()
            r = Api(c).post("/api/sites", {"name": "Race", "domain": "racer", "template": "modern"}, token=who.token)
            statuses.append(r.status)

    threads = [threading.Thread(target=create, args=(p,)) for p in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [201, 409]


def test_site_quota_per_plan_is_403(api, make_owner, create_site) -> None:
    free = make_owner("free")
    create_site(free, "first")
    error = assert_error(api.post("/api/sites", {"name": "Two", "domain": "second", "template": "modern"},
                                  token=free.token), 403, "quota_exceeded")  # fmt: skip
    assert "1 site" in error["message"]


def test_page_quota_per_plan_is_403(api, make_owner, create_site) -> None:
    free = make_owner("free")
    site = create_site(free, "pages")
    for i in range(4):  # home + 4 = the free plan's 5
        assert (
            api.post(f"/api/sites/{site['id']}/pages", {"slug": f"p{i}", "title": f"P{i}"}, token=free.token).status
            == 201
        )
    error = assert_error(api.post(f"/api/sites/{site['id']}/pages", {"slug": "p9", "title": "P9"}, token=free.token),
                         403, "quota_exceeded")  # fmt: skip
    assert "5 pages per site" in error["message"]


def test_pixels_and_hide_branding_need_the_plan_feature(api, make_owner, create_site) -> None:
    starter = make_owner("starter")
    body = {"name": "P", "domain": "pixels", "template": "modern", "settings": {"pixels": {"ga4": "G-ABC123"}}}
    assert_error(api.post("/api/sites", body, token=starter.token), 403, "plan_feature_missing")
    free = make_owner("free")
    site = create_site(free, "brand")
    assert_error(api.patch(f"/api/sites/{site['id']}", {"settings": {"hide_branding": True}}, token=free.token), 403)
    # Starter may hide the badge; professional may add pixels.
    r = api.patch(f"/api/sites/{site['id']}", {"settings": {"hide_branding": False}}, token=free.token)
    assert r.status == 200 and r.json["settings"]["hide_branding"] is False
    pro = make_owner("professional")
    r = api.post("/api/sites", {**body, "domain": "pixels-pro"}, token=pro.token)
    assert r.status == 201 and r.json["settings"]["pixels"] == {"ga4": "G-ABC123"}


def test_patch_merges_settings_by_section_and_changes_fields(api, owner, create_site) -> None:
    site = create_site(owner, "merge", settings={"seo": {"title": "Hello"}, "theme": {"accent": "#112233"}})
    r = api.patch(f"/api/sites/{site['id']}", {"name": "Renamed", "template": "classic",
                                               "settings": {"theme": {"background": "#FFFFFF"}}}, token=owner.token)  # fmt: skip
    assert r.status == 200, r.body
    assert r.json["name"] == "Renamed" and r.json["template"] == "classic"
    assert r.json["settings"] == {"seo": {"title": "Hello"}, "theme": {"background": "#ffffff"}}


def test_list_is_own_sites_only_paginated_and_cached(api, owner, make_owner, create_site) -> None:
    ids = [create_site(owner, f"mine{i}")["id"] for i in range(3)]
    create_site(make_owner("professional"), "theirs")
    page = api.get("/api/sites?limit=2", token=owner.token).json
    assert [s["id"] for s in page["data"]] == sorted(ids, reverse=True)[:2]
    rest = api.get(f"/api/sites?limit=2&cursor={page['next_cursor']}", token=owner.token).json
    assert [s["id"] for s in rest["data"]] == [min(ids)] and rest["next_cursor"] is None
    # Served from Redis the second time: no sites query.
    with count_queries() as seen:
        again = api.get("/api/sites?limit=2", token=owner.token).json
    assert again == page
    assert not [q for q in seen if "FROM sites" in q]
    # Every write drops the cache.
    api.patch(f"/api/sites/{ids[-1]}", {"name": "Fresh"}, token=owner.token)
    assert api.get("/api/sites?limit=2", token=owner.token).json["data"][0]["name"] == "Fresh"


def test_delete_removes_the_site(api, owner, create_site) -> None:
    site = create_site(owner, "gone")
    assert api.delete(f"/api/sites/{site['id']}", token=owner.token).status == 204
    assert_error(api.get(f"/api/sites/{site['id']}", token=owner.token), 404)
    # The address is free again.
    assert (
        api.post("/api/sites", {"name": "A", "domain": "gone", "template": "modern"}, token=owner.token).status == 201
    )


# ---- pages and blocks --------------------------------------------------------------------------


def test_pages_crud_with_every_block_type_and_stable_ids(api, owner, create_site) -> None:
    site = create_site(owner, "blocks")
    r = api.post(f"/api/sites/{site['id']}/pages", {"slug": "links", "title": "Links", "blocks": EVERY_BLOCK},
                 token=owner.token)  # fmt: skip
    assert r.status == 201, r.body
    page = r.json
    assert [b["type"] for b in page["blocks"]] == [b["type"] for b in EVERY_BLOCK]
    ids = [b["id"] for b in page["blocks"]]
    assert len(set(ids)) == len(ids) and all(len(i) >= 8 for i in ids)
    assert all(b["visible"] is True for b in page["blocks"])
    # Sent back as returned, reordered: ids kept, order is the new one.
    reordered = list(reversed(page["blocks"]))
    r = api.patch(f"/api/sites/{site['id']}/pages/{page['id']}", {"blocks": reordered}, token=owner.token)
    assert r.status == 200, r.body
    assert [b["id"] for b in r.json["blocks"]] == list(reversed(ids))
    # A block without id is new; an id this site never issued is replaced.
    r = api.patch(f"/api/sites/{site['id']}/pages/{page['id']}",
                  {"blocks": [*reordered, {"type": "divider"}, {"type": "divider", "id": "madeUpId123"}]},
                  token=owner.token)  # fmt: skip
    new_ids = [b["id"] for b in r.json["blocks"]]
    assert new_ids[: len(ids)] == list(reversed(ids))
    assert len(set(new_ids)) == len(new_ids) and "madeUpId123" not in new_ids
    listed = api.get(f"/api/sites/{site['id']}/pages", token=owner.token).json["data"]
    assert [p["slug"] for p in listed] == ["home", "links"]
    assert api.delete(f"/api/sites/{site['id']}/pages/{page['id']}", token=owner.token).status == 204


@pytest.mark.parametrize(
    ("block", "field"),
    [
        ({"type": "nope"}, "blocks[1].type"),
        ({"type": "link", "label": "x", "url": "https://a.example", "colour": 1}, "blocks[1].colour"),
        ({"type": "link", "label": "x", "url": "javascript:alert(1)"}, "blocks[1].url"),
        ({"type": "link", "label": "x", "url": "ftp://a.example"}, "blocks[1].url"),
        ({"type": "link", "label": "x", "url": "https://"}, "blocks[1].url"),
        ({"type": "link", "label": "x", "url": "https://user:pw@a.example"}, "blocks[1].url"),
        ({"type": "link", "label": "", "url": "https://a.example"}, "blocks[1].label"),
        ({"type": "link", "label": "x" * 101, "url": "https://a.example"}, "blocks[1].label"),
        ({"type": "link", "label": "x", "url": "https://a.example", "visible": "yes"}, "blocks[1].visible"),
        ({"type": "link", "label": "x", "url": "https://a.example", "starts_at": "tomorrow"}, "blocks[1].starts_at"),
        ({"type": "link", "label": "x", "url": "https://a.example", "ends_at": "2026-01-01T00:00:00"}, "blocks[1].ends_at"),
        ({"type": "heading"}, "blocks[1].text"),
        ({"type": "text", "markdown": "x" * 10_001}, "blocks[1].markdown"),
        ({"type": "image", "url": "data:image/png;base64,AAAA", "alt": "x"}, "blocks[1].url"),
        ({"type": "image", "url": "https://a.example/i.png"}, "blocks[1].alt"),
        ({"type": "social", "links": []}, "blocks[1].links"),
        ({"type": "social", "links": [{"network": "myspace", "url": "https://a.example"}]}, "blocks[1].links[0].network"),
        ({"type": "social", "links": [{"network": "x", "url": "javascript:x"}]}, "blocks[1].links[0].url"),
        ({"type": "embed", "url": "https://evil.example/watch?v=dQw4w9WgXcQ"}, "blocks[1].url"),
        ({"type": "form", "kind": "survey", "title": "t", "button_label": "b"}, "blocks[1].kind"),
        ({"type": "form", "kind": "contact", "title": "t"}, "blocks[1].button_label"),
        ({"type": "pay", "title": "t", "price": {"amount": 10, "currency": "usd"}}, "blocks[1].price.amount"),
        ({"type": "pay", "title": "t", "price": {"amount": 1000, "currency": "xyz"}}, "blocks[1].price.currency"),
        ({"type": "pay", "title": "t", "price": 1000}, "blocks[1].price"),
        ({"type": "faq", "items": [{"question": "q"}]}, "blocks[1].items[0].answer"),
        ({"type": "divider", "text": "x"}, "blocks[1].text"),
        ("just a string", "blocks[1]"),
    ],
)  # fmt: skip
def test_every_block_field_is_validated_with_its_path(api, owner, create_site, block, field) -> None:
    site = create_site(owner, "valid")
    blocks = [{"type": "divider"}, block]
    error = assert_error(api.post(f"/api/sites/{site['id']}/pages", {"slug": "x", "title": "X", "blocks": blocks},
                                  token=owner.token), 422)  # fmt: skip
    assert field in error["fields"], error["fields"]


@pytest.mark.parametrize(
    "url",
    ["https://www.youtube.com/watch?v=dQw4w9WgXcQ", "https://youtu.be/dQw4w9WgXcQ", "https://vimeo.com/76979871",
     "https://open.spotify.com/track/4uLU6hMCjMI75M1A2tKUQC", "https://soundcloud.com/artist/track-name",
     "https://www.tiktok.com/@someone/video/7234567890123456789"],
)  # fmt: skip
def test_embeds_from_each_allowed_provider(api, owner, create_site, url) -> None:
    site = create_site(owner, "embeds")
    r = api.post(f"/api/sites/{site['id']}/pages", {"slug": "e", "title": "E", "blocks": [{"type": "embed", "url": url}]},
                 token=owner.token)  # fmt: skip
    assert r.status == 201, r.body


def test_page_slug_rules(api, owner, create_site, home_page) -> None:
    site = create_site(owner, "slugs")
    base = f"/api/sites/{site['id']}/pages"
    assert_error(api.post(base, {"slug": "Bad Slug", "title": "x"}, token=owner.token), 422)
    assert_error(api.post(base, {"slug": "home", "title": "x"}, token=owner.token), 409, "slug_taken")
    assert api.post(base, {"slug": "about", "title": "About"}, token=owner.token).status == 201
    assert_error(api.post(base, {"slug": "about", "title": "Again"}, token=owner.token), 409, "slug_taken")
    home = home_page(owner, site["id"])
    assert_error(api.delete(f"{base}/{home['id']}", token=owner.token), 409, "home_page")
    assert_error(api.patch(f"{base}/{home['id']}", {"slug": "start"}, token=owner.token), 409, "home_page")


def test_editor_read_is_a_fixed_number_of_queries(owner, create_site, api) -> None:
    from chalicelib.sites import service

    site = create_site(owner, "queries")
    for i in range(3):
        api.post(
            f"/api/sites/{site['id']}/pages", {"slug": f"p{i}", "title": "P", "blocks": EVERY_BLOCK}, token=owner.token
        )
    with count_queries() as few:
        service.site_with_pages(owner.user, site["id"])
    for i in range(3, 15):
        api.post(f"/api/sites/{site['id']}/pages", {"slug": f"p{i}", "title": "P", "blocks": EVERY_BLOCK * 3},
                 token=owner.token)  # fmt: skip
    with count_queries() as many:
        _site, pages = service.site_with_pages(owner.user, site["id"])
    assert len(pages) == 16
    assert len(few) == len(many) == 2


def test_another_base_domain_is_configurable(api, owner, monkeypatch) -> None:
    monkeypatch.setenv("SITES_BASE_DOMAIN", "links.example")
    config.reset()
    r = api.post("/api/sites", {"name": "A", "domain": "carol.links.example", "template": "modern"}, token=owner.token)
    assert r.status == 201 and r.json["domain"] == "carol.links.example"
