"""scripts/load: a short bounded run through the Lambda handler, 0 errors, 0 lost writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.slow  # spawns worker processes: ~10 s


def test_short_load_run_has_no_errors_and_loses_no_write(test_database: str) -> None:
    env = dict(os.environ)  # the suite's test database, Redis db and key prefix
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "load.py"),
            "--workers",
            "2",
            "--duration",
            "3",
            "--requests",
            "300",
            "--json",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    assert result["errors"] == 0, result["error_samples"]
    assert result["lost_writes"] == 0, result["lost_by_kind"]
    # Bounded: never more than asked, and it did real work of every kind of area.
    assert 0 < result["requests"] <= 300
    assert result["duration_s"] < 3 + 2
    assert result["workers"] == 2 and {"accounts", "analytics", "payments", "system"} <= set(result["areas"])
    for write in ("POST /api/tokens", "POST /api/collect", "POST /api/webhooks/stripe"):
        assert result["accepted_writes"].get(write, 0) > 0, write
    assert {"GET /api/health", "GET /dashboard", "POST /api/tokens", "POST /api/collect"} <= set(result["routes"])
    for route in result["routes"].values():
        assert route["p50_ms"] <= route["p99_ms"]


def test_the_lost_write_check_finds_a_write_that_is_not_there(test_database: str) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    import load

    accounts: Any = load.plugins({"accounts"})["accounts"]
    fixtures = {"mails_before": 0}
    assert accounts.lost(fixtures, {"POST /api/tokens": [987654321], "POST /api/auth/register": []}) == {
        "api tokens": 1,
        "registered users": 0,
        "verification mail events": 0,
    }
    system: Any = load.plugins({"system"})["system"]
    assert system.lost({"canaries_before": 0}, {"schedule event_canary": [1, 1]}) == {"event canaries": 2}
    payments: Any = load.plugins({"payments"})["payments"]
    assert payments.lost({}, {"POST /api/webhooks/stripe": [["evt_never_delivered", "987654321"]] * 2}) == {
        "stripe events stored": 1,
        "stripe deliveries counted": 2,
        "stripe events applied once": 1,
        "stripe events claimed": 1,
        "transactions paid": 1,
    }
    analytics: Any = load.plugins({"analytics"})["analytics"]
    fixtures = {"site": {"id": 987654321}, "events_before": 0}
    assert analytics.lost(fixtures, {"POST /api/collect": [1, 1, 1]}) == {"collected beacons": 3}
