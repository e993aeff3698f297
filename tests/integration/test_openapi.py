"""GET /api/openapi.json stays true to the route table, both ways."""

from __future__ import annotations

from chalicelib.core import web


def _registered_api_operations(chalice_app) -> set[tuple[str, str]]:
    return {
        (path, method.lower())
        for path, methods in chalice_app.routes.items()
        if path.startswith("/api/") and not web.is_fallback_route(path)
        for method in methods
    }


def _documented_operations(spec: dict) -> set[tuple[str, str]]:
    verbs = {"get", "post", "put", "patch", "delete"}
    return {(path, verb) for path, item in spec["paths"].items() for verb in item if verb in verbs}


def test_every_api_route_is_documented_and_every_documented_route_exists(api, chalice_app) -> None:
    r = api.get("/api/openapi.json")
    assert r.status == 200
    spec = r.json
    assert spec["openapi"].startswith("3.1")
    registered = _registered_api_operations(chalice_app)
    documented = _documented_operations(spec)
    assert registered - documented == set(), "routes missing from the OpenAPI document"
    assert documented - registered == set(), "documented routes that do not exist"


def test_every_operation_declares_responses_and_references_resolve(api) -> None:
    spec = api.get("/api/openapi.json").json
    schemas = spec["components"]["schemas"]

    def refs(node):
        if isinstance(node, dict):
            if "$ref" in node:
                yield node["$ref"]
            for v in node.values():
                yield from refs(v)
        elif isinstance(node, list):
            for v in node:
                yield from refs(v)

    for ref in refs(spec):
        assert ref.startswith("#/components/schemas/")
        assert ref.rsplit("/", 1)[1] in schemas, ref
    for path, item in spec["paths"].items():
        for verb, op in item.items():
            assert op.get("responses"), (path, verb)
            params = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert params == {part[1:-1] for part in path.split("/") if part.startswith("{")}, (path, verb)
