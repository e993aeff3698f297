"""Structured logs and metrics (Powertools Logger and Metrics/EMF), created on first use.

The middleware in app.py opens an invocation scope: it stamps request id, stage and
route on every log line, times the route, and flushes metrics once at the end.
In AWS the metrics leave as EMF lines on stdout; on local stages they are only counted
in-process (`totals()`), so a laptop's terminal is not flooded with JSON.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from chalicelib.core import config

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Metrics

_lock = threading.Lock()
_logger: Logger | None = None
_metrics: Metrics | None = None
_totals: Counter[str] = Counter()
_SCOPE_KEYS = ["request_id", "route", "method", "event_source", "user_id"]


def logger() -> Logger:
    global _logger
    if _logger is None:
        with _lock:
            if _logger is None:
                from aws_lambda_powertools import Logger

                s = config.get_settings()
                _logger = Logger(service="mewayz", level=s.log_level, stage=s.stage, version=s.version)
    return _logger


def metrics() -> Metrics:
    global _metrics
    if _metrics is None:
        with _lock:
            if _metrics is None:
                from aws_lambda_powertools import Metrics

                s = config.get_settings()
                _metrics = Metrics(namespace=f"Mewayz/{s.stage}", service="mewayz")
    return _metrics


def reset() -> None:
    """Forget the Metrics object, whose namespace follows the stage it was made under
    (tests switch stages; a function instance never does). The Logger stays: Powertools
    configures the underlying logger once per process."""
    global _metrics
    with _lock:
        _metrics = None


def count(name: str, value: float = 1) -> None:
    from aws_lambda_powertools.metrics import MetricUnit

    _totals[name] += value
    metrics().add_metric(name=name, unit=MetricUnit.Count, value=value)


# What every alarmed metric carries, and nothing else: a CloudWatch alarm matches a metric
# only with exactly its dimensions, while the invocation's metrics also carry its
# `operation` (see `invocation`). infrastructure/operations.py builds each alarm from these.
ALARM_DIMENSIONS = {"service": "mewayz"}
_alarms: dict[str, str] = {}


def declare_alarm(name: str, description: str) -> None:
    """A metric that pages someone at its first datum (see `alarm_count`): declared by the
    module that emits it, at import time, so the stack gets its alarm with no hand edit
    (infrastructure/operations.py imports app.py and reads `alarms()`)."""
    _alarms[name] = description


def alarms() -> dict[str, str]:
    """Declared alarmed metrics: name -> what it means and what to do (the alarm's description)."""
    return dict(_alarms)


def alarm_count(name: str, value: float = 1) -> None:
    """`count`, and the same datum on its own with only ALARM_DIMENSIONS: what the stack's
    alarm on a declared metric watches. Emitted at once outside local stages (so a gauge
    reported every run, even 0, lets its alarm clear). An undeclared name raises on local
    stages (tests catch it) and is logged as an error in AWS, where it is often called from
    an error path whose own exception must not be replaced."""
    s = config.get_settings()
    if name not in _alarms:
        if s.is_local:  # tests and scripts/dev: fail loudly, so the declaration gets written
            raise LookupError(f"{name!r} is not a declared alarm metric (observability.declare_alarm)")
        # In AWS never replace the failure being reported: emit it, and say no alarm watches it.
        logger().error("metric emitted for an alarm that was never declared", extra={"metric": name})
    count(name, value)
    if s.is_local:
        return
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    with single_metric(
        name=name, unit=MetricUnit.Count, value=value, namespace=f"Mewayz/{s.stage}",
        default_dimensions=ALARM_DIMENSIONS,
    ):  # fmt: skip
        pass


def timing(name: str, milliseconds: float) -> None:
    from aws_lambda_powertools.metrics import MetricUnit

    metrics().add_metric(name=name, unit=MetricUnit.Milliseconds, value=milliseconds)


def totals() -> Counter[str]:
    """Counts since the process started (what local stages have instead of CloudWatch)."""
    return _totals


def new_request_id() -> str:
    return uuid.uuid4().hex


@contextmanager
def invocation(**keys: str) -> Iterator[None]:
    """Scope one invocation: log keys on, latency measured, metrics flushed at the end."""
    log = logger()
    log.append_keys(**keys)
    started = time.perf_counter()
    try:
        yield
    finally:
        elapsed_ms = (time.perf_counter() - started) * 1000
        label = keys.get("route") or keys.get("event_source") or "unknown"
        m = metrics()
        m.add_dimension(name="operation", value=label[:250])
        timing("Latency", elapsed_ms)
        if config.get_settings().is_local:
            m.clear_metrics()
        else:
            m.flush_metrics()
        log.remove_keys(_SCOPE_KEYS)
