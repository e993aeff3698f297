"""What changes outside local stages: HSTS, Secure cookies, EMF metrics on stdout."""

from __future__ import annotations

import json

import pytest

from chalicelib.core import config
from tests.conftest import ROOT, Api


@pytest.fixture
def prod_api(chalice_app, monkeypatch: pytest.MonkeyPatch) -> Api:
    """A client on the prod stage of .chalice/config.json (its environment applies per request)."""
    from chalice.test import Client

    monkeypatch.setenv("SECRET_KEY", "p" * 48)  # prod refuses the development key
    config.reset()
    return Api(Client(chalice_app, stage_name="prod", project_dir=str(ROOT)))


def test_hsts_outside_local_stages_only(prod_api, api) -> None:
    assert prod_api.get("/api/health").header("strict-transport-security") == "max-age=63072000; includeSubDomains"
    config.reset()
    assert api.get("/api/health").header("strict-transport-security") is None


def test_cookies_are_secure_httponly_lax_outside_local_stages(prod_api) -> None:
    sent = prod_api.get("/login").header("set-cookie")
    sent = sent if isinstance(sent, list) else [sent]
    cookie = next(c for c in sent if c and c.startswith("mw_anon="))  # the login form's CSRF cookie
    attributes = {part.strip() for part in cookie.split(";")}
    assert {"Secure", "HttpOnly", "SameSite=Lax", "Path=/"} <= attributes, cookie


def test_metrics_leave_as_emf_with_a_per_route_latency(prod_api, capsys) -> None:
    prod_api.get("/api/health")
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    assert documents, "one EMF document per invocation"
    emf = documents[-1]
    metric_names = {m["Name"] for d in emf["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
    assert "Latency" in metric_names
    assert emf["operation"] == "GET /api/health"
    assert emf["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Mewayz/prod"
    [latency_ms] = emf["Latency"]
    assert 0 <= latency_ms < 60_000
