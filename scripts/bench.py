"""Cold-start and per-request cost of the Mewayz Lambda handler on this machine.

Run through `scripts/bench` (it migrates the database first). Not a test: it prints
figures, each beside a reference measured in the same run on the same machine.

Cold start: `import app` timed inside fresh interpreters (median of --runs), beside a
bare Chalice app with one route: from the repo with the venv (bytecode cached), and from
the unzipped bundle (--bundle, default dist/prod/deployment.zip when it exists) alone on
sys.path, with the .pyc scripts/package ships and without them (/var/task is read-only,
so without them Lambda compiles every imported module on every cold start).

Per request: GET /api/health and GET / through the Lambda entry point `app.app(event,
context)` with an API Gateway REST proxy event, interleaved with the floor (a bare pymysql
`SELECT 1` on an open connection + a Redis PING on an open client) and with a bare Chalice
app's route through the same event; then each case again back-to-back (hot server threads,
cheapest round trips). Ratio = route p50 / floor p50 of the same mode.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATABASE_URL = "mysql://mewayz:mewayz@127.0.0.1:3306/mewayz"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
IMPORT_GOAL_MS = 150.0
HEALTH_GOAL_RATIO = 2.0

BARE_APP = """
from chalice import Chalice

app = Chalice(app_name="bare")


@app.route("/api/health")
def health():
    return {"status": "healthy"}
"""

IMPORT_PROBE = """
import sys, time
sys.path[:0] = {paths!r}
t = time.perf_counter()
import {module}
print((time.perf_counter() - t) * 1000)
"""


# ---- cold start ------------------------------------------------------------------------


def import_ms(paths: list[Path], module: str, env: dict[str, str], flags: list[str]) -> float:
    out = subprocess.run(
        [sys.executable, *flags, "-c", IMPORT_PROBE.format(paths=[str(p) for p in paths], module=module)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def medians(subjects: dict[str, tuple[list[Path], str, list[str]]], runs: int, env: dict[str, str]) -> dict[str, float]:
    """Median import time of each subject, in fresh interpreters, interleaved (drift hits all alike)."""
    for paths, module, flags in subjects.values():  # warm the OS file cache (and bytecode caches)
        import_ms(paths, module, env, flags)
    samples: dict[str, list[float]] = {name: [] for name in subjects}
    for _ in range(runs):
        for name, (paths, module, flags) in subjects.items():
            samples[name].append(import_ms(paths, module, env, flags))
    return {name: statistics.median(s) for name, s in samples.items()}


def cold_start(runs: int, env: dict[str, str], bundle: Path | None) -> dict[str, Any]:
    """`import app` beside a bare Chalice app: from the repo (venv, bytecode cached) and,
    when a bundle exists, from the unzipped deployment.zip with and without its .pyc."""
    with tempfile.TemporaryDirectory(prefix="mewayz-bench-") as tmp:
        bare_dir = Path(tmp, "bare")
        bare_dir.mkdir()
        (bare_dir / "bare_app.py").write_text(BARE_APP)
        # -I: no user site, no PYTHON* variables, cwd not on sys.path.
        m = medians({"app": ([ROOT], "app", ["-I"]), "bare": ([bare_dir], "bare_app", ["-I"])}, runs, env)
        result: dict[str, Any] = {
            "runs": runs,
            "repo": {"app_ms": m["app"], "bare_chalice_ms": m["bare"], "ratio": m["app"] / m["bare"]},
            "bundle": None,
        }
        if bundle is None:
            return result
        # The bundle alone (-S: no site-packages), as in /var/task; -B: nothing written.
        with_pyc, without_pyc = Path(tmp, "with-pyc"), Path(tmp, "without-pyc")
        with zipfile.ZipFile(bundle) as z:
            z.extractall(with_pyc)
            z.extractall(without_pyc, [n for n in z.namelist() if not n.endswith(".pyc")])
        flags = ["-I", "-S", "-B"]
        m = medians(
            {
                "app_pyc": ([with_pyc], "app", flags),
                "bare_pyc": ([bare_dir, with_pyc], "bare_app", flags),
                "app_nopyc": ([without_pyc], "app", flags),
                "bare_nopyc": ([bare_dir, without_pyc], "bare_app", flags),
            },
            max(5, runs * 2 // 3),
            env,
        )
        result["bundle"] = {
            "runs": max(5, runs * 2 // 3),
            "path": str(bundle),
            "with_pyc": {
                "app_ms": m["app_pyc"],
                "bare_chalice_ms": m["bare_pyc"],
                "ratio": m["app_pyc"] / m["bare_pyc"],
            },
            "without_pyc": {
                "app_ms": m["app_nopyc"],
                "bare_chalice_ms": m["bare_nopyc"],
                "ratio": m["app_nopyc"] / m["bare_nopyc"],
            },
        }
    return result


# ---- per request -----------------------------------------------------------------------


class LambdaContext:
    """What the Lambda runtime passes as `context` (the attributes code may read)."""

    function_name = "mewayz-local-APIHandler"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:mewayz-local-APIHandler"
    memory_limit_in_mb = 512
    log_group_name = "/aws/lambda/mewayz-local-APIHandler"
    log_stream_name = "2024/01/01/[$LATEST]0123456789abcdef"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 29_000


def proxy_event(path: str, *, accept: str = "application/json") -> dict[str, Any]:
    """An API Gateway REST (v1) proxy event for GET `path`, as Chalice's API receives it."""
    headers = {
        "Accept": accept,
        "Accept-Encoding": "gzip, deflate, br",
        "CloudFront-Forwarded-Proto": "https",
        "CloudFront-Is-Desktop-Viewer": "true",
        "CloudFront-Viewer-Country": "US",
        "Host": "abcdef1234.execute-api.us-east-1.amazonaws.com",
        "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) bench",
        "Via": "2.0 0123456789abcdef.cloudfront.net (CloudFront)",
        "X-Amz-Cf-Id": "x3k1Qm0bV9_5jV8b8hZ4eW0g1q2w3e4r5t6y7u8i9o0p==",
        "X-Amzn-Trace-Id": "Root=1-65a1b2c3-0123456789abcdef01234567",
        "X-Forwarded-For": "203.0.113.7, 130.176.0.1",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
    }
    return {
        "resource": path,
        "path": path,
        "httpMethod": "GET",
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "body": None,
        "isBase64Encoded": False,
        "requestContext": {
            "resourceId": "a1b2c3",
            "resourcePath": path,
            "httpMethod": "GET",
            "extendedRequestId": "RzN8XFkPIAMFbKw=",
            "requestTime": "01/Jan/2024:00:00:00 +0000",
            "path": "/api" + path,
            "accountId": "123456789012",
            "protocol": "HTTP/1.1",
            "stage": "api",
            "domainPrefix": "abcdef1234",
            "requestTimeEpoch": 1704067200000,
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "identity": {"sourceIp": "203.0.113.7", "userAgent": "Mozilla/5.0 (X11; Linux x86_64) bench"},
            "domainName": "abcdef1234.execute-api.us-east-1.amazonaws.com",
            "apiId": "abcdef1234",
        },
    }


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Send fd 1 to /dev/null (Powertools writes logs to stdout): log formatting is still
    paid for, as in Lambda, but the terminal does not slow the loop down."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def deliver_concurrently(handler: Any, ctx: Any, make_event: Any, n: int = 10) -> list[int]:
    """`n` invocations of the Lambda handler released at the same instant, as a webhook's
    redeliveries reach concurrent instances; their status codes. `make_event()` builds each
    one's API Gateway event (signed per delivery)."""
    import threading

    from chalicelib.core import db

    start = threading.Barrier(n)
    statuses: list[int] = []

    def deliver() -> None:
        event = make_event()
        start.wait()
        try:
            statuses.append(handler(event, ctx)["statusCode"])
        finally:
            db.release()

    threads = [threading.Thread(target=deliver) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return statuses


def percentiles(samples_s: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples_s)
    return {
        "p50_ms": statistics.median(ms),
        "p99_ms": statistics.quantiles(ms, n=100, method="inclusive")[98],
        "mean_ms": statistics.fmean(ms),
        "n": len(ms),
    }


def per_request(iterations: int, warmup: int, database_url: str, redis_url: str) -> dict[str, Any]:
    import pymysql
    import redis

    sys.path.insert(0, str(ROOT))
    import app as mewayz
    from chalicelib.core.db import ConnectionParams

    bare_ns: dict[str, Any] = {}
    exec(compile(BARE_APP, "bare_app.py", "exec"), bare_ns)  # noqa: S102 - our own constant
    bare = bare_ns["app"]

    p = ConnectionParams.from_url(database_url)
    conn = pymysql.connect(
        host=p.host, port=p.port, user=p.user, password=p.password, database=p.database, autocommit=True
    )
    cur = conn.cursor()
    rds = redis.Redis.from_url(redis_url)

    def floor() -> None:
        cur.execute("SELECT 1")
        cur.fetchone()
        rds.ping()

    health_event, landing_event = proxy_event("/api/health"), proxy_event("/", accept="text/html")
    ctx = LambdaContext()
    expected = {"health": 200, "landing": 200, "bare": 200}

    def route(handler: Any, event: dict[str, Any], name: str) -> Callable[[], None]:
        def call() -> None:
            response = handler(event, ctx)
            if response["statusCode"] != expected[name]:
                raise RuntimeError(f"{name}: HTTP {response['statusCode']}: {str(response.get('body'))[:300]}")

        return call

    cases: dict[str, Callable[[], None]] = {
        "floor": floor,
        "health": route(mewayz.app, health_event, "health"),
        "landing": route(mewayz.app, landing_event, "landing"),
        "bare": route(bare, health_event, "bare"),
    }
    clock = time.perf_counter
    interleaved: dict[str, list[float]] = {name: [] for name in cases}
    back_to_back: dict[str, list[float]] = {name: [] for name in cases}
    with quiet_stdout():
        for _ in range(warmup):
            for call in cases.values():
                call()
        # Interleaved: each round runs every case once, so the database and Redis see a
        # request's worth of other work between two calls, as with real traffic.
        for _ in range(iterations):
            for name, call in cases.items():
                t = clock()
                call()
                interleaved[name].append(clock() - t)
        # Back-to-back: one case at a time, the server threads stay hot, round trips are
        # at their cheapest, so the Python cost weighs most.
        for name, call in cases.items():
            for _ in range(warmup):
                call()
            for _ in range(iterations):
                t = clock()
                call()
                back_to_back[name].append(clock() - t)
    conn.close()
    rds.close()

    def summarise(samples: dict[str, list[float]]) -> dict[str, Any]:
        stats = {name: percentiles(s) for name, s in samples.items()}
        floor_p50 = stats["floor"]["p50_ms"]
        for name in ("health", "landing", "bare"):
            stats[name]["ratio_to_floor"] = stats[name]["p50_ms"] / floor_p50
        stats["health"]["over_floor_ms"] = stats["health"]["p50_ms"] - floor_p50
        return stats

    return {
        "iterations": iterations,
        "warmup": warmup,
        "interleaved": summarise(interleaved),
        "back_to_back": summarise(back_to_back),
    }


# ---- report ------------------------------------------------------------------------------


def machine() -> str:
    return f"{platform.system()} {platform.machine()}, Python {platform.python_version()}, {os.cpu_count()} CPUs"


def table(result: dict[str, Any]) -> str:
    cs, rq = result["cold_start"], result["per_request"]
    repo, bundle = cs["repo"], cs["bundle"]
    lines = [
        f"Mewayz bench: {result['machine']}; STAGE={result['stage']}",
        "",
        f"Cold start: `import app` in a fresh interpreter, median of {cs['runs']}",
        f"  {'':44}{'import app':>12}{'bare Chalice':>14}{'ratio':>8}",
        f"  {'repo + venv (bytecode cached)':44}{repo['app_ms']:>9.1f} ms{repo['bare_chalice_ms']:>11.1f} ms{repo['ratio']:>7.2f}x",
    ]
    if bundle:
        for key, label in (
            ("with_pyc", "bundle alone, with its .pyc (as shipped)"),
            ("without_pyc", "bundle alone, .pyc removed"),
        ):
            b = bundle[key]
            lines.append(f"  {label:44}{b['app_ms']:>9.1f} ms{b['bare_chalice_ms']:>11.1f} ms{b['ratio']:>7.2f}x")
        lines.append(f"  (bundle rows: median of {bundle['runs']}; {bundle['path']})")
    else:
        lines.append("  (no bundle measured: run scripts/package prod, or pass --bundle ZIP)")
    shipped = bundle["with_pyc"]["app_ms"] if bundle else repo["app_ms"]
    lines += [
        f"  goal: import app < {IMPORT_GOAL_MS:.0f} ms: {'OK' if shipped < IMPORT_GOAL_MS else 'OVER'}"
        f" ({shipped:.1f} ms, {'as shipped' if bundle else 'repo'})",
        "",
        f"Per request: app.app(event, context) with an API Gateway REST proxy event, "
        f"{rq['iterations']} iterations after {rq['warmup']} warm-up",
        f"  {'':32}{'--- interleaved ---':>28}{'--- back-to-back ---':>29}",
        f"  {'':32}{'p50':>9}{'p99':>10}{'/floor':>9}{'p50':>10}{'p99':>10}{'/floor':>9}",
    ]
    rows = [
        ("floor: SELECT 1 + Redis PING", "floor"),
        ("GET /api/health", "health"),
        ("GET / (landing page)", "landing"),
        ("bare Chalice route (dispatch)", "bare"),
    ]
    for label, key in rows:
        cells = ""
        for mode in ("interleaved", "back_to_back"):
            s = rq[mode][key]
            ratio = 1.0 if key == "floor" else s["ratio_to_floor"]
            cells += f"{s['p50_ms']:>9.3f}{s['p99_ms']:>10.3f}{ratio:>8.2f}x"
        lines.append(f"  {label:32}{cells}")
    lines.append("  (ms; /floor = p50 / floor p50 of the same mode)")
    for mode, label in (("interleaved", "interleaved"), ("back_to_back", "back-to-back")):
        h = rq[mode]["health"]
        verdict = "OK" if h["ratio_to_floor"] <= HEALTH_GOAL_RATIO else "OVER"
        lines.append(
            f"  goal GET /api/health <= {HEALTH_GOAL_RATIO:.0f}x floor, {label}: {verdict} "
            f"({h['ratio_to_floor']:.2f}x; {h['over_floor_ms']:.3f} ms above the floor)"
        )
    return "\n".join(lines)


def area_benches() -> dict[str, Any]:
    """Each product area's figures live in scripts/benches/<area>.py: `run(args) -> dict`
    (the JSON under the area's key) and `table(result) -> str`; optional `add_arguments(parser)`."""
    import importlib.util

    found: dict[str, Any] = {}
    for path in sorted((ROOT / "scripts" / "benches").glob("*.py")):
        if path.name.startswith("_"):
            continue
        spec = importlib.util.spec_from_file_location(f"bench_{path.stem}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        found[path.stem] = module
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.add_argument(
        "--only", default="", help="comma-separated parts to run: foundation and/or area names (default: all)"
    )
    parser.add_argument("--runs", type=int, default=15, help="fresh interpreters per import figure (default 15)")
    parser.add_argument("--iterations", type=int, default=2000, help="requests per route (default 2000)")
    parser.add_argument("--warmup", type=int, default=200, help="unmeasured requests per route first (default 200)")
    parser.add_argument(
        "--bundle", type=Path, help="deployment.zip to measure (default dist/prod/deployment.zip if any)"
    )
    areas = area_benches()
    for module in areas.values():
        if hasattr(module, "add_arguments"):
            module.add_arguments(parser)
    args = parser.parse_args(argv)
    only = {part.strip() for part in args.only.split(",") if part.strip()}

    os.environ["STAGE"] = "local"
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ.setdefault("REDIS_URL", DEFAULT_REDIS_URL)
    os.environ.pop("SECRETS_ARN", None)
    env = dict(os.environ)

    bundle = args.bundle or (ROOT / "dist" / "prod" / "deployment.zip")
    if not bundle.is_file():
        if args.bundle:
            parser.error(f"{bundle} does not exist")
        bundle = None
    started = time.perf_counter()
    result: dict[str, Any] = {"machine": machine(), "stage": "local"}
    if not only or "foundation" in only:
        result["cold_start"] = cold_start(args.runs, env, bundle)
        result["per_request"] = per_request(args.iterations, args.warmup, env["DATABASE_URL"], env["REDIS_URL"])
        result["goals"] = {"import_app_ms": IMPORT_GOAL_MS, "health_ratio_to_floor": HEALTH_GOAL_RATIO}
    for name, module in areas.items():
        if not only or name in only:
            with quiet_stdout():
                result[name] = module.run(args)
    result["elapsed_s"] = round(time.perf_counter() - started, 1)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    if "cold_start" in result:
        print(table(result))
    for name, module in areas.items():
        if name in result:
            print(f"\n== {name} ==")
            print(module.table(result[name]))
    print(f"\n({result['elapsed_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
