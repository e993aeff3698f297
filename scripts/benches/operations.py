"""Operations (issue 14): throughput of scripts/load with 4 workers, and its lost writes.

`load_requests_per_s` is the request mix of scripts/loads/* (dashboard reads, API writes,
collect beacons, signed Stripe webhook deliveries, health, the event canary; later areas
add theirs) through the Lambda handler in 4 worker
processes; beside it, `floor_requests_per_s`: the same 4 processes doing only a `SELECT 1`
and a Redis PING, measured in the same run. `load_lost_writes` must be 0.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import Any

WORKERS = 4


def _load_module() -> Any:
    """scripts/load.py, imported by name (its spawned workers import it again by that name)."""
    scripts = str(Path(__file__).resolve().parents[1])
    if scripts not in sys.path:
        sys.path.insert(0, scripts)
    return importlib.import_module("load")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--operations-duration", type=float, default=15.0, help="seconds of load (default 15)")


def run(args: argparse.Namespace) -> dict[str, Any]:
    load = _load_module()
    duration = float(getattr(args, "operations_duration", 15.0))
    floor = load.run_floor(WORKERS, min(5.0, duration))
    result = load.run_load(workers=WORKERS, duration=duration)
    return {
        "load_requests_per_s": result["requests_per_s"],
        "floor_requests_per_s": floor,
        "ratio_to_floor": round(result["requests_per_s"] / floor, 3) if floor else None,
        "load_lost_writes": result["lost_writes"],
        "load_errors": result["errors"],
        "workers": WORKERS,
        "duration_s": result["duration_s"],
        "requests": result["requests"],
        "routes": result["routes"],
        "accepted_writes": result["accepted_writes"],
    }


def table(result: dict[str, Any]) -> str:
    lines = [
        f"load, {result['workers']} workers, {result['duration_s']} s: {result['load_requests_per_s']} req/s "
        f"(floor SELECT 1 + PING: {result['floor_requests_per_s']} /s; ratio {result['ratio_to_floor']})",
        f"errors {result['load_errors']}, lost writes {result['load_lost_writes']} "
        f"(checked: {', '.join(f'{k} {v}' for k, v in result['accepted_writes'].items())})",
        f"  {'route':<30} {'n':>7} {'p50 ms':>8} {'p99 ms':>8}",
    ]
    lines += [f"  {k:<30} {r['n']:>7} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f}" for k, r in result["routes"].items()]
    return "\n".join(lines)
