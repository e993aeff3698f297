"""Every alarm the stack builds on an app metric watches exactly what the code emits.

The alarms come from core/observability.declare_alarm (infrastructure/operations.py
imports app.py); a CloudWatch alarm matches a metric only with the same namespace, name
and complete dimension set, so each declared metric is emitted here the way the code
emits it, inside an invocation on the prod stage, and its EMF lines are compared.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from typing import Any

import pytest

from chalicelib.core import config, observability
from tests.conftest import ROOT


def _operations() -> Any:
    if "operations" not in sys.modules:
        spec = importlib.util.spec_from_file_location("operations", ROOT / "infrastructure" / "operations.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["operations"] = module
        spec.loader.exec_module(module)
    return sys.modules["operations"]


def test_the_known_alarms_are_declared() -> None:
    import app  # noqa: F401 - the declarations run when the areas are imported

    assert {"StripeEventFailed", "OutboxDeadLetters"} <= set(observability.alarms())


def test_each_alarm_matches_the_emf_datum_alarm_count_writes(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("STAGE", "prod")
    monkeypatch.setenv("SECRET_KEY", "p" * 48)
    config.reset()
    observability.reset()
    alarms = _operations().app_metric_alarms("prod")
    try:
        for name in observability.alarms():
            capsys.readouterr()
            with observability.invocation(request_id="t", route="/api/anything"):
                observability.alarm_count(name, 3)
            documents = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith('{"_aws"')]
            alarm = alarms[f"{name}Alarm"]["Properties"]
            assert alarm["MetricName"] == name and alarm["Namespace"] == "Mewayz/prod"
            watched = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
            seen = []
            for emf in documents:
                [directive] = emf["_aws"]["CloudWatchMetrics"]
                [dimension_names] = directive["Dimensions"]
                if name in emf and {k: emf[k] for k in dimension_names} == watched:
                    assert directive["Namespace"] == alarm["Namespace"]
                    seen.append(emf[name])
            # Exactly one datum the alarm sees (the invocation's own copy carries `operation`).
            assert seen in ([3], [[3]], [3.0], [[3.0]]), (name, documents)
    finally:
        config.reset()
        observability.reset()


def test_an_undeclared_alarm_metric_fails_loudly() -> None:
    with pytest.raises(LookupError):
        observability.alarm_count("NoSuchAlarmMetric")


def test_the_stack_has_an_alarm_for_every_declared_metric_and_no_other() -> None:
    declared = set(observability.alarms())
    built = {k.removesuffix("Alarm") for k in _operations().app_metric_alarms("test")}
    assert built == declared


def test_outside_local_stages_an_undeclared_metric_is_emitted_and_logged_not_raised(
    monkeypatch: pytest.MonkeyPatch, capsys, caplog
) -> None:
    """In AWS alarm_count is often called while reporting a failure: it must not replace it."""
    monkeypatch.setenv("STAGE", "prod")
    monkeypatch.setenv("SECRET_KEY", "p" * 48)
    config.reset()
    observability.reset()
    try:
        observability.alarm_count("NoSuchAlarmMetric")
        assert any("never declared" in r.getMessage() for r in caplog.records)
        assert '"NoSuchAlarmMetric"' in capsys.readouterr().out  # the EMF datum still left
    finally:
        config.reset()
        observability.reset()
