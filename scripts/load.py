"""Load on this machine: N worker processes invoking the Lambda handler in-process.

Each worker is a fresh interpreter (spawned, like a new Lambda instance) that imports
app.py and calls `app.app(event, context)` with API Gateway proxy events (or an event
function such as a schedule) against the real MariaDB and Redis, until its share of
--requests is done or --duration has passed. The request mix comes from the plug-ins in
scripts/loads/<area>.py (weighted kinds, fixtures made once, and a lost-write check);
see scripts/loads/README.md. Afterwards every accepted write and event is looked up in
the database: `lost_writes` must be 0.

Run through scripts/load (it prepares the load database); `run_load()` is also what the
bench plug-in scripts/benches/operations.py calls.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
import traceback
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LOADS = ROOT / "scripts" / "loads"
# The app's per-token / per-IP API limits would turn a load run into a test of the limiter;
# the load measures capacity, so they are raised for its processes (WAF and API Gateway
# throttling bound real traffic before the app does).
# The Stripe webhook secret is the load's own (scripts/loads/payments.py signs with it).
LOAD_ENV = {
    "API_RATE_PER_MINUTE": "100000000",
    "PAYMENTS_RATE_PER_MINUTE": "100000000",
    "ANALYTICS_COLLECT_RATE_PER_MINUTE": "100000000",
    "EVENTS_BACKEND": "inprocess",
    "STRIPE_WEBHOOK_SECRET": "whsec_mewayz_load",
}
ERROR_SAMPLES = 5


def plugins(only: set[str] | None = None) -> dict[str, ModuleType]:
    if str(LOADS) not in sys.path:
        sys.path.insert(0, str(LOADS))
    found = {}
    for path in sorted(LOADS.glob("*.py")):
        if path.name.startswith("_") or (only and path.stem not in only):
            continue
        spec = importlib.util.spec_from_file_location(f"load_{path.stem}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        found[path.stem] = module
    return found


class _Context:
    """What the Lambda runtime passes as `context`."""

    function_name = "mewayz-load"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:mewayz-load"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 29_000


@contextlib.contextmanager
def _quiet_stdout() -> Any:
    """Powertools logs JSON to stdout on every invocation: paid for, but not printed."""
    sys.stdout.flush()
    saved, devnull = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def _worker(
    index: int,
    areas: list[str],
    fixtures: dict[str, Any],
    budget: int,
    duration: float,
    ready: Any,
    go: Any,
    results: Any,
) -> None:
    os.environ.update(LOAD_ENV)
    sys.path.insert(0, str(ROOT))
    from _base import api_event

    try:
        with _quiet_stdout():
            import app as mewayz

            mods = plugins(set(areas))
            kinds = [k for m in mods.values() for k in m.KINDS]
            weights = [k.weight for k in kinds]
            rng = random.Random(1000 + index)
            latencies: dict[str, list[float]] = {k.name: [] for k in kinds}
            errors: dict[str, int] = {}
            samples: list[str] = []
            accepted: dict[str, list[Any]] = {}

            def invoke(call: Any) -> str | None:
                """One invocation; the problem (None = success), recording what it accepted."""
                try:
                    if call.function:
                        response: dict[str, Any] = {"statusCode": 200, "body": "null"}
                        getattr(mewayz, call.function)(call.event or {}, _Context())
                    else:
                        response = mewayz.app(api_event(call), _Context())
                except Exception:  # noqa: BLE001 - an exception is an error of this request
                    return traceback.format_exc(limit=3)[-300:]
                if response["statusCode"] not in call.ok:
                    return f"status {response['statusCode']}: {str(response.get('body'))[:200]}"
                if call.record:
                    accepted.setdefault(kind.name, []).append(call.record(json.loads(response.get("body") or "null")))
                return None

            # Warm up like a Lambda instance after its first requests (templates compiled,
            # connections open): each kind once, outside the figures (its writes are checked).
            for kind in kinds:
                problem = invoke(kind.build(fixtures[kind_area(mods, kind)], rng))
                if problem:
                    errors[kind.name] = errors.get(kind.name, 0) + 1
                    samples.append(f"{kind.name} (warm-up): {problem}")
            ready.put(index)
            go.wait()
            deadline = time.perf_counter() + duration
            done = 0
            while done < budget and time.perf_counter() < deadline:
                kind = rng.choices(kinds, weights)[0]
                call = kind.build(fixtures[kind_area(mods, kind)], rng)
                started = time.perf_counter()
                problem = invoke(call)
                latencies[kind.name].append(time.perf_counter() - started)
                done += 1
                if problem:
                    errors[kind.name] = errors.get(kind.name, 0) + 1
                    if len(samples) < ERROR_SAMPLES:
                        samples.append(f"{kind.name}: {problem}")
            elapsed = time.perf_counter() - (deadline - duration)
        results.put(
            {
                "index": index,
                "latencies": latencies,
                "errors": errors,
                "samples": samples,
                "accepted": accepted,
                "elapsed": elapsed,
            }
        )
    except Exception:  # noqa: BLE001 - report, never hang the parent
        ready.put(index)
        results.put({"index": index, "crash": traceback.format_exc()})


def kind_area(mods: dict[str, ModuleType], kind: Any) -> str:
    for area, module in mods.items():
        if kind in module.KINDS:
            return area
    raise KeyError(kind.name)


@dataclass
class _SetupContext:
    run: str


def _percentile(ms: list[float], q: int) -> float:
    if len(ms) == 1:
        return ms[0]
    return statistics.quantiles(ms, n=100, method="inclusive")[q - 1]


def run_load(
    workers: int = 4, duration: float = 10.0, requests: int = 50_000, areas: set[str] | None = None
) -> dict[str, Any]:
    """Run the load; return the figures (see the module docstring)."""
    os.environ.update(LOAD_ENV)
    os.environ.setdefault("VAR_DIR", tempfile.mkdtemp(prefix="mewayz-load-"))
    sys.path.insert(0, str(ROOT))
    from chalicelib.core import cache, config, db

    config.reset()
    import app  # noqa: F401 - registers the event functions a setup's writes publish to

    mods = plugins(areas)
    ctx = _SetupContext(run=uuid.uuid4().hex[:8])
    with _quiet_stdout():
        fixtures = {area: m.setup(ctx) for area, m in mods.items()}
    db.close_all()
    cache.reset()

    mp = multiprocessing.get_context("spawn")
    ready, results, go = mp.Queue(), mp.Queue(), mp.Event()
    budget = max(1, requests // workers)
    procs = [
        mp.Process(target=_worker, args=(i, list(mods), fixtures, budget, duration, ready, go, results), daemon=True)
        for i in range(workers)
    ]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=120)
    go.set()
    outcomes = [results.get(timeout=duration + 120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        if p.is_alive():
            p.terminate()
    crashes = [o["crash"] for o in outcomes if "crash" in o]
    if crashes:
        raise RuntimeError("a load worker crashed:\n" + crashes[0])

    routes: dict[str, dict[str, Any]] = {}
    accepted: dict[str, list[Any]] = {}
    samples: list[str] = []
    for o in outcomes:
        for name, values in o["latencies"].items():
            routes.setdefault(name, {"samples": [], "errors": 0})["samples"] += values
        for name, n in o["errors"].items():
            routes[name]["errors"] += n
        for name, values in o["accepted"].items():
            accepted.setdefault(name, []).extend(values)
        samples += o["samples"]
    elapsed = max(o["elapsed"] for o in outcomes)
    total = sum(len(r["samples"]) for r in routes.values())
    table = {}
    for name, r in sorted(routes.items()):
        ms = sorted(s * 1000 for s in r["samples"])
        if ms:
            table[name] = {
                "n": len(ms),
                "p50_ms": round(statistics.median(ms), 2),
                "p99_ms": round(_percentile(ms, 99), 2),
                "errors": r["errors"],
            }

    config.reset()
    lost: dict[str, int] = {}
    for area, module in mods.items():
        for what, n in module.lost(fixtures[area], accepted).items():
            lost[f"{area}: {what}"] = n
    db.close_all()
    return {
        "workers": workers,
        "duration_s": round(elapsed, 2),
        "requests": total,
        "requests_per_s": round(total / elapsed, 1) if elapsed else 0.0,
        "errors": sum(r["errors"] for r in table.values()),
        "error_samples": samples,
        "accepted_writes": {k: len(v) for k, v in sorted(accepted.items())},
        "lost_writes": sum(lost.values()),
        "lost_by_kind": lost,
        "routes": table,
        "areas": sorted(mods),
    }


def _floor_worker(duration: float, ready: Any, go: Any, results: Any) -> None:
    sys.path.insert(0, str(ROOT))
    from chalicelib.core import cache, db

    db.fetch_one("SELECT 1 AS one")
    cache.ping()
    ready.put(1)
    go.wait()
    done, deadline = 0, time.perf_counter() + duration
    while time.perf_counter() < deadline:
        db.fetch_one("SELECT 1 AS one")
        cache.ping()
        done += 1
    results.put(done)


def run_floor(workers: int = 4, duration: float = 3.0) -> float:
    """Round trips per second of the same number of processes doing only `SELECT 1` + a
    Redis PING: the most this machine could serve, to read the load figure against."""
    mp = multiprocessing.get_context("spawn")
    ready, results, go = mp.Queue(), mp.Queue(), mp.Event()
    procs = [mp.Process(target=_floor_worker, args=(duration, ready, go, results), daemon=True) for _ in range(workers)]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=120)
    go.set()
    total = sum(results.get(timeout=duration + 60) for _ in procs)
    for p in procs:
        p.join(timeout=30)
    return round(total / duration, 1)


def table(result: dict[str, Any]) -> str:
    lines = [
        f"load: {result['workers']} workers, {result['duration_s']} s, areas: {', '.join(result['areas'])}",
        f"  {'route':<30} {'n':>7} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}",
    ]
    for name, r in result["routes"].items():
        lines.append(f"  {name:<30} {r['n']:>7} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['errors']:>7}")
    lines.append(
        f"  {result['requests']} requests = {result['requests_per_s']} req/s; errors {result['errors']}; "
        f"lost writes {result['lost_writes']} (checked: "
        + ", ".join(f"{k} {v}" for k, v in result["accepted_writes"].items())
        + ")"
    )
    lines += [f"  ! {s}" for s in result["error_samples"]]
    lines += [f"  ! lost {n}: {what}" for what, n in result["lost_by_kind"].items() if n]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4, help="worker processes (default 4)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds at most (default 10)")
    parser.add_argument(
        "--requests", type=int, default=50_000, help="requests at most, over all workers (default 50000)"
    )
    parser.add_argument("--areas", default="", help="comma-separated plug-ins of scripts/loads (default: all)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    args = parser.parse_args(argv)
    if not 1 <= args.workers <= 64 or args.duration <= 0 or args.duration > 3600 or args.requests < 1:
        parser.error("--workers 1..64, --duration (0, 3600], --requests >= 1")
    areas = {a.strip() for a in args.areas.split(",") if a.strip()} or None
    result = run_load(args.workers, args.duration, args.requests, areas)
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 0 if result["errors"] == 0 and result["lost_writes"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
