"""Sites figures for scripts/bench (JSON under "sites"), each beside a floor of the same run.

- publish: a 20-page site with 30 blocks a page, end to end through the local event path
  (POST publish through the Lambda handler; the in-process backend then renders, stores
  and switches the live version): wall time, and the share of it spent rendering HTML.
- serve: a published page through the local server (`chalice local`, what scripts/dev
  runs) beside Python's `http.server` serving the same file, both separate processes,
  requests interleaved, a new connection each; p50 ratio (goal <= 1.5x).
- editor_read: the editor's site-with-pages read (GET /api/sites/{id}/pages through the
  Lambda handler, and the editor page GET /sites/{id}): queries per request for a 1-page
  and the 20-page site (constant), and p50 beside the foundation's floor (a bare
  `SELECT 1` + Redis `PING`).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PAGES, BLOCKS = 20, 30
SERVE_GOAL = 1.5


def add_arguments(parser: Any) -> None:
    parser.add_argument("--sites-requests", type=int, default=400, help="sites: requests per serving case")
    parser.add_argument("--sites-reads", type=int, default=300, help="sites: editor reads per case")


def _blocks(page: int) -> list[dict[str, Any]]:
    kinds = [
        {"type": "link", "label": "A link to somewhere", "url": "https://example.com/a"},
        {"type": "text", "markdown": "Some **bold** words and [a link](https://example.com)."},
        {"type": "heading", "text": "A heading"},
        {"type": "social", "links": [{"network": "instagram", "url": "https://instagram.com/x"}]},
        {"type": "faq", "items": [{"question": "Why?", "answer": "Because."}]},
        {"type": "divider"},
    ]
    return [dict(kinds[(page + i) % len(kinds)]) for i in range(BLOCKS)]


def _ok(response: dict[str, Any]) -> None:
    if response["statusCode"] != 200:
        raise RuntimeError(f"HTTP {response['statusCode']}: {str(response.get('body'))[:200]}")


def _resource(app: Any, path: str) -> tuple[str, dict[str, str]]:
    """The route template a concrete path matches, and its parameters."""
    parts = path.strip("/").split("/")
    for template in sorted(app.routes, key=lambda t: t.count("{")):
        tparts = template.strip("/").split("/")
        if len(tparts) != len(parts):
            continue
        params = {}
        for t, p in zip(tparts, parts, strict=True):
            if t.startswith("{"):
                params[t[1:-1]] = p
            elif t != p:
                break
        else:
            return template, params
    raise LookupError(path)


def _ms(samples: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples)
    return {"p50_ms": statistics.median(ms), "p90_ms": ms[int(len(ms) * 0.9) - 1], "n": len(ms)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


@contextlib.contextmanager
def _process(args: list[str], port: int, env: dict[str, str]) -> Iterator[None]:
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait(port)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _get(port: int, path: str, host: str | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": host or f"127.0.0.1:{port}", "Accept": "text/html"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _bench_module() -> Any:
    """scripts/bench.py (the running __main__ under scripts/bench, else loaded from its file)."""
    main = sys.modules.get("__main__")
    if main is not None and hasattr(main, "proxy_event"):
        return main
    import importlib.util

    spec = importlib.util.spec_from_file_location("mewayz_bench", ROOT / "scripts" / "bench.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(args: Any) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    os.environ["EVENTS_BACKEND"] = "inprocess"
    os.environ["API_RATE_PER_MINUTE"] = "100000000"  # measure the route, not the limiter's 429
    from chalicelib.core import config, db, migrate

    config.reset()
    migrate.apply(config.get_settings().database_url)
    from chalicelib.accounts import service as accounts_service
    from chalicelib.accounts import store as accounts_store
    from chalicelib.core import storage
    from chalicelib.sites import handlers, service

    email = "bench-sites@example.com"
    old = accounts_store.get_user_by_email(email)
    if old:
        accounts_store.delete_user(old.id)
    user = accounts_store.get_user(accounts_store.insert_user("Bench", email, "x", verified=True))
    accounts_store.set_plan(user.id, "enterprise", None)
    user = accounts_store.get_user(user.id)
    token = accounts_service.issue_token(user, "bench", ["*"]).plaintext
    try:
        return _run(args, user, token, service, handlers, storage, db)
    finally:
        for site in service.list_for_owner(user.id, 100):
            storage.delete_prefix(f"sites/{site.id}/")
        accounts_store.delete_user(user.id)


def _run(args: Any, user: Any, token: str, service: Any, handlers: Any, storage: Any, db: Any) -> dict[str, Any]:
    import app as mewayz

    bench = _bench_module()
    LambdaContext, proxy_event = bench.LambdaContext, bench.proxy_event

    small = service.create_site(user, {"name": "Small", "domain": "bench-small", "template": "modern"})
    big = service.create_site(user, {"name": "Big", "domain": "bench-big", "template": "professional"})
    home = service.list_pages(user, big.id)[0]
    service.update_page(user, big.id, home.id, {"blocks": _blocks(0)})
    for i in range(1, PAGES):
        service.create_page(user, big.id, {"slug": f"page-{i}", "title": f"Page {i}", "blocks": _blocks(i)})
    ctx = LambdaContext()

    def call(method: str, path: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
        """`path` like /api/sites/12/pages through the Lambda entry point, as API Gateway sends it."""
        resource, params = _resource(mewayz.app, path)
        event = proxy_event(path)
        event.update({"httpMethod": method, "resource": resource, "pathParameters": params or None})
        event["requestContext"].update({"httpMethod": method, "resourcePath": resource})
        event["headers"].update({"Authorization": f"Bearer {token}", **(headers or {})})
        event["multiValueHeaders"] = {k: [v] for k, v in event["headers"].items()}
        return mewayz.app(event, ctx)

    # ---- publish ---------------------------------------------------------------------------
    rendering = {"s": 0.0}
    real_render = handlers.render_page

    def timed(*a: Any) -> str:
        t = time.perf_counter()
        try:
            return real_render(*a)
        finally:
            rendering["s"] += time.perf_counter() - t

    handlers.render_page = timed
    publishes = []
    try:
        for _ in range(3):
            rendering["s"] = 0.0
            t = time.perf_counter()
            response = call("POST", f"/api/sites/{big.id}/publish")
            elapsed = time.perf_counter() - t
            if response["statusCode"] != 202:
                raise RuntimeError(f"publish: HTTP {response['statusCode']}: {response['body'][:300]}")
            publishes.append((elapsed, rendering["s"]))
    finally:
        handlers.render_page = real_render
    elapsed, render_s = sorted(publishes)[1]
    live = service.get_site(user, big.id)
    publish = {
        "pages": PAGES,
        "blocks_per_page": BLOCKS,
        "median_of": len(publishes),
        "total_ms": elapsed * 1000,
        "rendering_ms": render_s * 1000,
        "rendering_share": render_s / elapsed,
        "per_page_ms": elapsed * 1000 / PAGES,
        "live_version": live.live_version,
    }

    # ---- serving ----------------------------------------------------------------------------
    key = service.page_key(big.id, live.live_version, "page-3")
    body = storage.get(key).body
    folder = Path(tempfile.mkdtemp(prefix="mewayz-bench-serve-"))
    (folder / "page-3").mkdir()
    (folder / "page-3" / "index.html").write_bytes(body)
    app_port, file_port = _free_port(), _free_port()
    env = {**os.environ, "PUBLIC_URL": f"http://127.0.0.1:{app_port}", "EVENTS_BACKEND": "inprocess"}
    venv_bin = Path(sys.executable).parent
    path = f"/s/{big.domain}/page-3"
    serve: dict[str, Any]
    try:
        with _process([str(venv_bin / "chalice"), "local", "--no-autoreload", "--host", "127.0.0.1", "--port",
                       str(app_port), "--stage", "local"], app_port, env), \
             _process([sys.executable, "-m", "http.server", str(file_port), "--bind", "127.0.0.1", "--directory",
                       str(folder)], file_port, env):  # fmt: skip
            status, served = _get(app_port, path)
            if status != 200 or served != body:
                raise RuntimeError(f"local server: HTTP {status}, {len(served)} bytes")
            if _get(file_port, "/page-3/")[1] != body:
                raise RuntimeError("http.server did not serve the same file")
            cases: dict[str, Callable[[], Any]] = {
                "local_server": lambda: _get(app_port, path),
                "by_host_header": lambda: _get(app_port, "/page-3", host=big.domain),
                "http_server": lambda: _get(file_port, "/page-3/"),
            }
            samples: dict[str, list[float]] = {name: [] for name in cases}
            for _ in range(30):
                for fn in cases.values():
                    fn()
            for _ in range(args.sites_requests):
                for name, fn in cases.items():
                    t = time.perf_counter()
                    fn()
                    samples[name].append(time.perf_counter() - t)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    stats = {name: _ms(s) for name, s in samples.items()}
    floor = stats["http_server"]["p50_ms"]
    serve = {
        "bytes": len(body),
        **stats,
        "ratio": stats["local_server"]["p50_ms"] / floor,
        "by_host_ratio": stats["by_host_header"]["p50_ms"] / floor,
        "goal_ratio": SERVE_GOAL,
    }

    # ---- the editor's read --------------------------------------------------------------------
    import pymysql
    import pymysql.cursors
    import redis

    from chalicelib.core import config, sessions

    queries = {"n": 0}
    original = pymysql.cursors.Cursor.execute

    def counting(self: Any, query: Any, args_: Any = None) -> Any:
        queries["n"] += 1
        return original(self, query, args_)

    session = sessions.create(user.id)
    cookie = {"Cookie": f"{sessions.SESSION_COOKIE}={session.id}", "Accept": "text/html"}

    def count(method: str, path: str, headers: dict[str, str] | None = None) -> int:
        call(method, path, headers)  # warm: the first call may prove a pooled connection
        queries["n"] = 0
        pymysql.cursors.Cursor.execute = counting  # type: ignore[method-assign]
        try:
            response = call(method, path, headers)
        finally:
            pymysql.cursors.Cursor.execute = original  # type: ignore[method-assign]
        if response["statusCode"] != 200:
            raise RuntimeError(f"{path}: HTTP {response['statusCode']}")
        return queries["n"]

    per_request = {
        "api_pages_1_page": count("GET", f"/api/sites/{small.id}/pages"),
        "api_pages_20_pages": count("GET", f"/api/sites/{big.id}/pages"),
        "editor_page_1_page": count("GET", f"/sites/{small.id}", cookie),
        "editor_page_20_pages": count("GET", f"/sites/{big.id}", cookie),
    }
    from chalicelib.core.db import ConnectionParams

    p = ConnectionParams.from_url(config.get_settings().database_url)
    conn = pymysql.connect(host=p.host, port=p.port, user=p.user, password=p.password, database=p.database,
                           autocommit=True)  # fmt: skip
    cur = conn.cursor()
    rds = redis.Redis.from_url(config.get_settings().redis_url)

    def floor_call() -> None:
        cur.execute("SELECT 1")
        cur.fetchone()
        rds.ping()

    read_cases: dict[str, Callable[[], Any]] = {
        "floor": floor_call,
        "api_pages_20_pages": lambda: _ok(call("GET", f"/api/sites/{big.id}/pages")),
        "editor_read_service": lambda: service.site_with_pages(user, big.id),
    }
    read_samples: dict[str, list[float]] = {name: [] for name in read_cases}
    for _ in range(20):
        for fn in read_cases.values():
            fn()
    for _ in range(args.sites_reads):
        for name, fn in read_cases.items():
            t = time.perf_counter()
            fn()
            read_samples[name].append(time.perf_counter() - t)
        db.release()
    conn.close()
    rds.close()
    read_stats = {name: _ms(s) for name, s in read_samples.items()}
    floor_p50 = read_stats["floor"]["p50_ms"]
    for name in ("api_pages_20_pages", "editor_read_service"):
        read_stats[name]["ratio_to_floor"] = read_stats[name]["p50_ms"] / floor_p50
    return {
        "publish": publish,
        "serve": serve,
        "editor_read": {"queries_per_request": per_request, **read_stats},
    }


def table(result: dict[str, Any]) -> str:
    pub, serve, read = result["publish"], result["serve"], result["editor_read"]
    q = read["queries_per_request"]
    lines = [
        f"Publish {pub['pages']} pages x {pub['blocks_per_page']} blocks (local event path, median of {pub['median_of']}):",
        f"  {pub['total_ms']:.0f} ms end to end ({pub['per_page_ms']:.1f} ms a page); rendering "
        f"{pub['rendering_ms']:.0f} ms = {pub['rendering_share'] * 100:.0f} %",
        f"Serving a published page ({serve['bytes']:,} bytes), p50 (p90), new connection each:",
        f"  python -m http.server (floor)   {serve['http_server']['p50_ms']:.2f} ({serve['http_server']['p90_ms']:.2f}) ms",
        f"  chalice local, /s/<domain>/...  {serve['local_server']['p50_ms']:.2f} ({serve['local_server']['p90_ms']:.2f}) ms"
        f"  {serve['ratio']:.2f}x (goal <= {serve['goal_ratio']}x)",
        f"  chalice local, by Host header   {serve['by_host_header']['p50_ms']:.2f} ({serve['by_host_header']['p90_ms']:.2f}) ms"
        f"  {serve['by_host_ratio']:.2f}x",
        "Editor's site-with-pages read:",
        f"  queries: API 1 page {q['api_pages_1_page']}, 20 pages {q['api_pages_20_pages']}; "
        f"editor page 1 page {q['editor_page_1_page']}, 20 pages {q['editor_page_20_pages']}",
        f"  floor (SELECT 1 + PING)            {read['floor']['p50_ms']:.2f} ms",
        f"  GET /api/sites/{{id}}/pages (20x30) {read['api_pages_20_pages']['p50_ms']:.2f} ms  "
        f"{read['api_pages_20_pages']['ratio_to_floor']:.1f}x",
        f"  service.site_with_pages (20x30)    {read['editor_read_service']['p50_ms']:.2f} ms  "
        f"{read['editor_read_service']['ratio_to_floor']:.1f}x",
    ]
    return "\n".join(lines)
