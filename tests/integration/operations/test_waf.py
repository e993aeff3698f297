"""ApiWebAcl's rate-based rules come from the route table: every route anyone may call is
limited by the rule of its group (the issue's public routes by their own, other anonymous
writes by rate-public), including routes that other areas add later."""

from __future__ import annotations

import importlib.util
import re
import sys
from typing import Any

from tests.conftest import ROOT


def _operations() -> Any:
    if "operations" not in sys.modules:
        spec = importlib.util.spec_from_file_location("operations", ROOT / "infrastructure" / "operations.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["operations"] = module
        spec.loader.exec_module(module)
    return sys.modules["operations"]


def _regex(rule: dict[str, Any]) -> str:
    scope = rule["Statement"]["RateBasedStatement"]["ScopeDownStatement"]
    if "AndStatement" in scope:
        scope = scope["AndStatement"]["Statements"][0]
    return scope["RegexMatchStatement"]["RegexString"]


def _limited_by(rules: list[dict[str, Any]], path: str) -> set[str]:
    return {
        r["Name"].rsplit("-", 1)[0] if r["Name"][-1].isdigit() else r["Name"]
        for r in rules
        if re.search(_regex(r), path)
    }


def _example(template: str) -> str:
    return re.sub(r"\{[^}]+\}", "abc123", template)


def test_every_anonymous_route_is_limited_by_its_groups_rule_and_nothing_else() -> None:
    ops = _operations()
    routes = ops.anonymous_routes()
    assert ("/api/collect", "POST") in routes and ("/login", "POST") in routes
    rules = ops.waf_rate_rules(routes)
    for template, method in routes:
        group = ops.waf_group_of(template)
        if template in ops.WAF_UNLIMITED:
            expected: set[str] = set()
        elif group:
            expected = {group}
        elif method != "GET":
            expected = {ops.WAF_PUBLIC_RULE}
        else:
            continue  # an anonymous read outside the groups (health, static files, pages)
        path = _example(template)
        for seen in (path, "/api" + path):  # a custom domain, and the execute-api URL's stage prefix
            limited = _limited_by(rules, seen)
            assert limited == expected, (template, method, seen, limited)


def test_the_issues_public_routes_have_their_own_rules() -> None:
    ops = _operations()
    rules = ops.waf_rate_rules()
    for path, rule in {
        "/api/collect": "rate-collect",
        "/api/forms/12": "rate-forms",
        "/api/pay/7": "rate-pay",
        "/api/pay/7/checkout": "rate-pay",
        "/go/abc": "rate-go",
        "/login": "rate-login",
        "/api/auth/login": "rate-login",
        "/unsubscribe/tok": "rate-email",
        "/confirm/tok": "rate-email",
        "/e/o/abc.gif": "rate-email",
        "/e/c/abc": "rate-email",
    }.items():
        assert _limited_by(rules, path) == {rule}, path
        assert _limited_by(rules, "/api" + path) == {rule}, path
    for path in ("/api/sites/go/1", "/api/collector", "/api/forms", "/golf", "/api/me", "/dashboard"):
        assert not _limited_by(rules, path), path
    assert not _limited_by(rules, "/api/webhooks/stripe")  # Stripe's retries are never blocked


def test_routes_added_later_get_limits_without_an_edit() -> None:
    ops = _operations()
    later = [
        ("/api/pay/{button_id}/checkout", "POST"),
        ("/unsubscribe/{token}", "GET"),
        ("/unsubscribe/{token}", "POST"),
        ("/e/o/{message_id}", "GET"),
        ("/api/crm/public/{form}", "POST"),
        ("/api/webhooks/stripe", "POST"),
    ]
    rules = ops.waf_rate_rules(later)
    assert _limited_by(rules, "/api/pay/9/checkout") == {"rate-pay"}
    assert _limited_by(rules, "/unsubscribe/xyz") == {"rate-email"}
    assert _limited_by(rules, "/api/crm/public/f") == {"rate-public"}
    assert not _limited_by(rules, "/api/webhooks/stripe")


def test_many_routes_split_into_regexes_waf_accepts() -> None:
    ops = _operations()
    many = [(f"/api/public-thing-{i:03d}/{{id}}", "POST") for i in range(40)]
    rules = ops.waf_rate_rules(many)
    public = [r for r in rules if r["Name"].startswith("rate-public")]
    assert len(public) > 1 and all(len(_regex(r)) <= ops.WAF_REGEX_MAX for r in rules)
    assert len({r["Priority"] for r in rules}) == len(rules) and len({r["Name"] for r in rules}) == len(rules)
    for i in range(40):
        assert _limited_by(rules, f"/api/public-thing-{i:03d}/x") == {"rate-public"}


def test_beacons_forwarded_by_the_sites_distribution_skip_the_per_ip_collect_rule() -> None:
    """They all arrive from CloudFront's addresses (each viewer was limited at the edge)."""
    ops = _operations()
    (collect,) = [r for r in ops.waf_rate_rules() if r["Name"] == "rate-collect"]
    scope = collect["Statement"]["RateBasedStatement"]["ScopeDownStatement"]["AndStatement"]["Statements"]
    skipped = scope[1]["NotStatement"]["Statement"]["ByteMatchStatement"]
    assert skipped["FieldToMatch"] == {"SingleHeader": {"Name": ops.EDGE_HEADER}}
    assert skipped["SearchString"] == ops.EDGE_VALUE
