"""What every function, the API and every alarm get without anyone remembering to add it.

Used by merge_template.py `build` (generate) and `check` (verify), over what a plain
`chalice package` generated from app.py, so a new `@app.schedule`, `@app.on_sqs_message`,
`@app.lambda_function` or route is covered the day it is written:

    every function      Tracing Active (X-Ray); <Fn>LogGroup (/aws/lambda/<name>, retention
                        LogRetentionDays); <Fn>ErrorsAlarm and <Fn>ThrottlesAlarm
    asynchronous events (Schedule, CloudWatchEvent, EventBridgeRule: what EventBridge invokes)
                        <Fn>FailedQueue (mewayz-<fn>-failed) as both the rule target's DLQ
                        (EventBridge could not invoke) and the function's on-failure
                        destination (it ran and failed MaximumRetryAttempts + 1 times), its
                        queue policy, and <Fn>FailedAlarm when anything lands there
    deploy order        every function but Migrate DependsOn the Migrations custom resource
                        (template.json), which runs migrate with the new code first
    the API function    AutoPublishAlias `live` + DeploymentPreference Canary10Percent5Minutes
                        rolled back by Api5xxAlarm; API Gateway invokes the alias
    the API stage       a name (the alarms' ApiName), X-Ray tracing, JSON access logs,
                        default throttling (ApiThrottlingBurstLimit / ApiThrottlingRateLimit)
    app metrics         <Metric>Alarm on every metric the app declares with
                        core/observability.declare_alarm (read by importing app.py), in the
                        stage's namespace (Mewayz/<stage>) on exactly ALARM_DIMENSIONS, the
                        dimensions observability.alarm_count emits it with
    every alarm         AlarmActions and OKActions to AlarmTopic
    every DLQ           the ES6000 suppression (a DLQ has no redrive policy of its own)
    Dashboard           one CloudWatch dashboard: the state of every alarm, then each
                        alarm's metric against its threshold
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ASYNC_EVENT_TYPES = ("Schedule", "CloudWatchEvent", "EventBridgeRule")
ASYNC_RETRY_ATTEMPTS = 2  # Lambda's default, stated: a schedule that fails runs twice more
ASYNC_MAX_EVENT_AGE_S = 3600
FAILED_QUEUE_RETENTION_S = 14 * 24 * 3600
API_ALIAS = "live"
DEPLOYMENT_TYPE = "Canary10Percent5Minutes"
ALARM_TOPIC = "AlarmTopic"
API_5XX_ALARM = "Api5xxAlarm"
DASHBOARD = "Dashboard"
# Deploy order: the Migrations custom resource (template.json) invokes the migrate function,
# whose code CloudFormation has just updated; every other function DependsOn it, so no new
# code runs before its migrations, and a failed migration rolls the update back.
MIGRATE_FUNCTION = "Migrate"
MIGRATIONS = "Migrations"
DLQ_LINT_REASON = "ES6000"  # see infrastructure/README.md, "Serverless rules"
ROOT = Path(__file__).resolve().parents[1]


def _app() -> Any:
    """app.py, imported as `chalice package` does (nothing connects at import time)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import app

    return app


def declared_alarms() -> tuple[dict[str, str], dict[str, str]]:
    """The app's alarmed metrics (name -> description) and the dimensions they carry: what
    the modules emitting them declared with core/observability.declare_alarm, read by
    importing app.py (as `chalice package` does), so an area's new alarm needs no edit here."""
    _app()  # importing it runs every area's declare_alarm
    from chalicelib.core import observability

    return observability.alarms(), dict(observability.ALARM_DIMENSIONS)


ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "extendedRequestId": "$context.extendedRequestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "path": "$context.path",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "latencyMs": "$context.responseLatency",
    "integrationLatencyMs": "$context.integrationLatency",
    "integrationStatus": "$context.integrationStatus",
    "wafStatus": "$context.waf.status",
    "xrayTraceId": "$context.xrayTraceId",
    "userAgent": "$context.identity.userAgent",
}
_FUNCTION_ARN_IN_URI = re.compile(r"\$\{([A-Za-z0-9]+)\.Arn\}")


@dataclass(frozen=True)
class Function:
    """One AWS::Serverless::Function of the plain Chalice template."""

    id: str
    events: dict[str, str] = field(default_factory=dict)  # event id -> SAM event type

    @property
    def async_events(self) -> list[str]:
        return [e for e, kind in self.events.items() if kind in ASYNC_EVENT_TYPES]

    @property
    def failed_queue_id(self) -> str:
        return f"{self.id}FailedQueue"

    @property
    def failed_queue_name(self) -> str:
        return "mewayz-" + re.sub(r"(?<!^)(?=[A-Z])", "-", self.id).lower() + "-failed"


def functions(plain: dict[str, Any]) -> list[Function]:
    found = []
    for fn_id, res in plain.get("Resources", {}).items():
        if res.get("Type") != "AWS::Serverless::Function":
            continue
        events = res.get("Properties", {}).get("Events") or {}
        found.append(Function(fn_id, {e: str(ev.get("Type")) for e, ev in events.items()}))
    return found


def stage_of(plain: dict[str, Any]) -> str:
    """The STAGE every Chalice function gets from .chalice/config.json."""
    for res in plain.get("Resources", {}).values():
        if res.get("Type") == "AWS::Serverless::Function":
            stage = res.get("Properties", {}).get("Environment", {}).get("Variables", {}).get("STAGE")
            if stage:
                return str(stage)
    return "prod"


def api_integrations(plain: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(path, method, function id) of every Lambda integration of the Chalice RestAPI."""
    body = plain.get("Resources", {}).get("RestAPI", {}).get("Properties", {}).get("DefinitionBody") or {}
    found = []
    for path, methods in (body.get("paths") or {}).items():
        for method, spec in methods.items():
            uri = (spec or {}).get("x-amazon-apigateway-integration", {}).get("uri", {})
            m = _FUNCTION_ARN_IN_URI.search(uri.get("Fn::Sub", "") if isinstance(uri, dict) else "")
            if m:
                found.append((path, method, m.group(1)))
    return found


def _alarm(
    description: str, namespace: str, metric: str, dimensions: list[dict[str, Any]], **kw: Any
) -> dict[str, Any]:
    props: dict[str, Any] = {
        "AlarmDescription": description,
        "Namespace": namespace,
        "MetricName": metric,
        "Dimensions": dimensions,
        "Statistic": "Sum",
        "Period": 300,
        "EvaluationPeriods": 1,
        "Threshold": 0,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
    }
    props.update(kw)
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": props}


def function_resources(fn: Function) -> dict[str, Any]:
    by_name = [{"Name": "FunctionName", "Value": {"Ref": fn.id}}]
    out: dict[str, Any] = {
        fn.id: {"Properties": {"Tracing": "Active"}},
        f"{fn.id}LogGroup": {
            "Type": "AWS::Logs::LogGroup",
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
            "Properties": {
                "LogGroupName": {"Fn::Sub": f"/aws/lambda/${{{fn.id}}}"},
                "RetentionInDays": {"Ref": "LogRetentionDays"},
            },
        },
        f"{fn.id}ErrorsAlarm": _alarm(
            f"{fn.id} raised errors (unhandled exceptions or timeouts).", "AWS/Lambda", "Errors", by_name
        ),
        f"{fn.id}ThrottlesAlarm": _alarm(
            f"{fn.id} was throttled (account or reserved concurrency reached).", "AWS/Lambda", "Throttles", by_name
        ),
    }
    if not fn.async_events:
        return out
    queue_arn = {"Fn::GetAtt": [fn.failed_queue_id, "Arn"]}
    out[fn.failed_queue_id] = {
        "Type": "AWS::SQS::Queue",
        "DeletionPolicy": "Delete",
        "UpdateReplacePolicy": "Delete",
        "Properties": {
            "QueueName": fn.failed_queue_name,
            "MessageRetentionPeriod": FAILED_QUEUE_RETENTION_S,
            "SqsManagedSseEnabled": True,
        },
    }
    out[f"{fn.id}FailedQueuePolicy"] = {
        "Type": "AWS::SQS::QueuePolicy",
        "Properties": {
            "Queues": [{"Ref": fn.failed_queue_id}],
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "EventBridgeTargetDeadLetters",
                        "Effect": "Allow",
                        "Principal": {"Service": "events.amazonaws.com"},
                        "Action": "sqs:SendMessage",
                        "Resource": queue_arn,
                        "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
                    }
                ],
            },
        },
    }
    out[f"{fn.id}FailedAlarm"] = _alarm(
        f"{fn.id} failed an asynchronous invocation (after {ASYNC_RETRY_ATTEMPTS} retries) or EventBridge could "
        f"not invoke it: the event waits in {fn.failed_queue_name}.",
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        [{"Name": "QueueName", "Value": {"Fn::GetAtt": [fn.failed_queue_id, "QueueName"]}}],
        Statistic="Maximum",
    )
    out[fn.id]["Properties"]["EventInvokeConfig"] = {
        "MaximumRetryAttempts": ASYNC_RETRY_ATTEMPTS,
        "MaximumEventAgeInSeconds": ASYNC_MAX_EVENT_AGE_S,
        "DestinationConfig": {"OnFailure": {"Type": "SQS", "Destination": queue_arn}},
    }
    out[fn.id]["Properties"]["Events"] = {
        event: {"Properties": {"DeadLetterConfig": {"Arn": queue_arn}}} for event in fn.async_events
    }
    return out


def api_resources(plain: dict[str, Any]) -> dict[str, Any]:
    integrations = api_integrations(plain)
    if not integrations:
        return {}
    paths: dict[str, Any] = {}
    for path, method, fn_id in integrations:
        # SAM names the alias of AutoPublishAlias <Fn>Alias<name> (its Ref is the alias ARN); SAM
        # resolves `<Fn>.Alias` in Ref but not inside a DefinitionBody's Fn::Sub.
        uri = f"arn:${{AWS::Partition}}:apigateway:${{AWS::Region}}:lambda:path/2015-03-31/functions/${{{fn_id}Alias{API_ALIAS}}}/invocations"
        paths.setdefault(path, {})[method] = {"x-amazon-apigateway-integration": {"uri": {"Fn::Sub": uri}}}
    out: dict[str, Any] = {
        "RestAPI": {
            "Properties": {
                "Name": {"Ref": "AWS::StackName"},
                "TracingEnabled": True,
                "AccessLogSetting": {
                    "DestinationArn": {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]},
                    "Format": json.dumps(ACCESS_LOG_FORMAT, separators=(",", ":")),
                },
                "MethodSettings": [
                    {
                        "HttpMethod": "*",
                        "ResourcePath": "/*",
                        "ThrottlingBurstLimit": {"Ref": "ApiThrottlingBurstLimit"},
                        "ThrottlingRateLimit": {"Ref": "ApiThrottlingRateLimit"},
                        "MetricsEnabled": False,
                    }
                ],
                "DefinitionBody": {"paths": paths},
            }
        }
    }
    for fn_id in sorted({fn for _, _, fn in integrations}):
        out[fn_id] = {
            "Properties": {
                "AutoPublishAlias": API_ALIAS,
                "DeploymentPreference": {"Type": DEPLOYMENT_TYPE, "Alarms": [{"Ref": API_5XX_ALARM}]},
            }
        }
        permission = f"{fn_id}InvokePermission"
        if permission in plain.get("Resources", {}):
            out[permission] = {"Properties": {"FunctionName": {"Ref": f"{fn_id}.Alias"}}}
    return out


def app_metric_alarms(stage: str) -> dict[str, Any]:
    """<Metric>Alarm for every declared alarm metric, on exactly the dimensions it is emitted with."""
    names, dimensions = declared_alarms()
    return {
        f"{name}Alarm": _alarm(
            description, f"Mewayz/{stage}", name, [{"Name": k, "Value": v} for k, v in dimensions.items()], Period=60
        )
        for name, description in sorted(names.items())
    }


# ---- WAF: per-IP rate limits on the routes anyone may call, from the route table ------------

# A route anyone may call (auth.public, or a page's POST open to visitors: sign in, register)
# goes to the first group one of whose prefixes it starts with (a prefix without a trailing
# "/" must match the whole path). Groups are rules even before their routes exist (pay
# buttons, the email links), so their limits are in place the day the routes arrive.
WAF_RATE_GROUPS: list[tuple[str, str, tuple[str, ...]]] = [
    ("rate-collect", "RateLimitCollect", ("/api/collect",)),
    ("rate-forms", "RateLimitForms", ("/api/forms/",)),
    ("rate-pay", "RateLimitPay", ("/api/pay/",)),
    ("rate-go", "RateLimitGo", ("/go/",)),
    ("rate-login", "RateLimitLogin", ("/login", "/api/auth/login")),
    ("rate-email", "RateLimitEmail", ("/unsubscribe/", "/confirm/", "/e/o/", "/e/c/")),
]
# Every other anonymous write (POST/PUT/PATCH/DELETE) not listed here goes to `rate-public`;
# anonymous reads outside the groups only meet the managed rules and API Gateway's throttling.
WAF_UNLIMITED: dict[str, str] = {
    "/api/webhooks/stripe": "Stripe's deliveries and retries come from a few addresses and are signed; "
    "a 429 would only delay payments (Stripe retries for 3 days)",
}
WAF_PUBLIC_RULE, WAF_PUBLIC_LIMIT = "rate-public", "RateLimitPublic"
WAF_REGEX_MAX = 200  # characters: AWS WAF's limit for a RegexString
WAF_FIRST_PRIORITY = 10
# Beacons forwarded by the sites' distribution carry this header with the stack's own id
# (template.json, origin "analytics-collect"): they all come from CloudFront's addresses, so
# rate-collect skips them (each viewer was limited at the edge by SitesWebAcl).
EDGE_HEADER = "x-mewayz-edge"
EDGE_VALUE = {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}


def anonymous_routes() -> list[tuple[str, str]]:
    """(path template, method) of every route of app.py that needs no credentials to call:
    auth.public ones, and the visitor-facing pages' writes (auth.optional_user, not GET)."""
    from chalicelib.accounts import auth

    found = []
    for path, methods in _app().app.routes.items():
        for method, entry in methods.items():
            rule = auth.rule_of(entry.view_function)
            if rule is None:
                continue
            if rule.kind == auth.PUBLIC or (rule.kind == auth.OPTIONAL_USER and method != "GET"):
                found.append((path, method))
    return sorted(found)


def _starts(path: str, prefix: str) -> bool:
    return path.startswith(prefix) if prefix.endswith("/") else path == prefix


def waf_group_of(path: str) -> str | None:
    """The named group a route path falls in, or None."""
    for name, _limit, prefixes in WAF_RATE_GROUPS:
        if any(_starts(path, p) for p in prefixes):
            return name
    return None


def _static_prefix(path: str) -> str:
    """The route's path up to its first {parameter} (all of it when it has none)."""
    return path.split("{", 1)[0]


def _waf_patterns(prefixes: list[str]) -> list[str]:
    """Regexes on the URI path (as few as fit WAF_REGEX_MAX), matching each prefix with or
    without the stage's leading /api (the execute-api URL's first segment is the stage)."""

    def one(items: list[str]) -> str:
        alternatives = [p.replace(".", "\\.") + ("" if p.endswith("/") else "$") for p in items]
        return "^(/api)?(" + "|".join(alternatives) + ")"

    chunks: list[list[str]] = [[]]
    for prefix in sorted(set(prefixes)):
        if chunks[-1] and len(one([*chunks[-1], prefix])) > WAF_REGEX_MAX:
            chunks.append([])
        chunks[-1].append(prefix)
    return [one(c) for c in chunks if c]


def waf_groups(routes: list[tuple[str, str]] | None = None) -> list[tuple[str, str, list[str]]]:
    """(rule name, limit parameter, URI path prefixes) of each rate rule: the named groups,
    then `rate-public` with the static prefixes of every other anonymous write."""
    routes = anonymous_routes() if routes is None else routes
    rest = sorted(
        {
            _static_prefix(path)
            for path, method in routes
            if method != "GET" and path not in WAF_UNLIMITED and waf_group_of(path) is None
        }
    )
    groups = [(name, limit, list(prefixes)) for name, limit, prefixes in WAF_RATE_GROUPS]
    return groups + ([(WAF_PUBLIC_RULE, WAF_PUBLIC_LIMIT, rest)] if rest else [])


def _edge_header() -> dict[str, Any]:
    return {
        "ByteMatchStatement": {
            "SearchString": EDGE_VALUE,
            "FieldToMatch": {"SingleHeader": {"Name": EDGE_HEADER}},
            "TextTransformations": [{"Priority": 0, "Type": "NONE"}],
            "PositionalConstraint": "EXACTLY",
        }
    }


def waf_rate_rules(routes: list[tuple[str, str]] | None = None) -> list[dict[str, Any]]:
    """ApiWebAcl's rate-based rules (per IP, 5-minute window, 429), one per group and regex."""
    rules: list[dict[str, Any]] = []
    for name, limit, prefixes in waf_groups(routes):
        patterns = _waf_patterns(prefixes)
        for i, pattern in enumerate(patterns):
            rule_name = name if len(patterns) == 1 else f"{name}-{i + 1}"
            scope: dict[str, Any] = {
                "RegexMatchStatement": {
                    "RegexString": pattern,
                    "FieldToMatch": {"UriPath": {}},
                    "TextTransformations": [{"Priority": 0, "Type": "NONE"}],
                }
            }
            if name == "rate-collect":
                scope = {"AndStatement": {"Statements": [scope, {"NotStatement": {"Statement": _edge_header()}}]}}
            rules.append(
                {
                    "Name": rule_name,
                    "Priority": WAF_FIRST_PRIORITY + len(rules),
                    "Action": {"Block": {"CustomResponse": {"ResponseCode": 429}}},
                    "Statement": {
                        "RateBasedStatement": {
                            "Limit": {"Ref": limit},
                            "EvaluationWindowSec": 300,
                            "AggregateKeyType": "IP",
                            "ScopeDownStatement": scope,
                        }
                    },
                    "VisibilityConfig": {
                        "SampledRequestsEnabled": True,
                        "CloudWatchMetricsEnabled": True,
                        "MetricName": rule_name,
                    },
                }
            )
    return rules


def generate(plain: dict[str, Any]) -> dict[str, Any]:
    """Resources (and keys of Chalice's resources) to merge, for every function and the API."""
    resources: dict[str, Any] = {}
    for fn in functions(plain):
        resources.update(function_resources(fn))
        if fn.id != MIGRATE_FUNCTION:
            resources[fn.id]["DependsOn"] = [MIGRATIONS]  # merged with what Chalice set (see finish)
    for key, value in api_resources(plain).items():
        if key in resources:
            resources[key]["Properties"].update(value["Properties"])
        else:
            resources[key] = value
    resources.update(app_metric_alarms(stage_of(plain)))
    return resources


# ---- finishing touches over everything the merge template holds --------------------------


def _getatt_arns(node: Any, keys: tuple[str, ...]) -> set[str]:
    """Logical ids X found as {"Fn::GetAtt": [X, "Arn"]} under any of `keys`, anywhere in node."""
    found: set[str] = set()
    if isinstance(node, dict):
        for k, v in node.items():
            if k in keys and isinstance(v, dict) and isinstance(v.get("Fn::GetAtt"), list):
                found.add(str(v["Fn::GetAtt"][0]))
            found |= _getatt_arns(v, keys)
    elif isinstance(node, list):
        for v in node:
            found |= _getatt_arns(v, keys)
    return found


def dead_letter_queues(resources: dict[str, Any]) -> set[str]:
    """Queues that receive what failed elsewhere: SQS/SNS redrive targets, EventBridge target
    DLQs and Lambda on-failure destinations."""
    ids = _getatt_arns(resources, ("deadLetterTargetArn", "Arn", "Destination"))
    return {i for i in ids if resources.get(i, {}).get("Type") == "AWS::SQS::Queue"}


def alarms(resources: dict[str, Any]) -> list[str]:
    return sorted(k for k, r in resources.items() if r.get("Type") == "AWS::CloudWatch::Alarm")


def dashboard(resources: dict[str, Any]) -> dict[str, Any]:
    ids = alarms(resources)
    widgets: list[dict[str, Any]] = []
    y = 0
    for start in range(0, len(ids), 100):  # an alarm status widget shows at most 100 alarms
        chunk = ids[start : start + 100]
        height = 2 + len(chunk) // 4
        widgets.append(
            {
                "type": "alarm",
                "x": 0,
                "y": y,
                "width": 24,
                "height": height,
                "properties": {
                    "title": "Alarms",
                    "alarms": [f"${{{a}.Arn}}" for a in chunk],
                    "sortBy": "stateUpdatedTimestamp",
                },
            }
        )
        y += height
    for i, alarm_id in enumerate(ids):
        widgets.append(
            {
                "type": "metric",
                "x": (i % 4) * 6,
                "y": y + (i // 4) * 6,
                "width": 6,
                "height": 6,
                "properties": {
                    "title": alarm_id.removesuffix("Alarm"),
                    "annotations": {"alarms": [f"${{{alarm_id}.Arn}}"]},
                    "view": "timeSeries",
                    "stacked": False,
                    "region": "${AWS::Region}",
                },
            }
        )
    return {
        "Type": "AWS::CloudWatch::Dashboard",
        "Properties": {
            "DashboardName": {"Fn::Sub": "${AWS::StackName}"},
            "DashboardBody": {"Fn::Sub": json.dumps({"widgets": widgets}, separators=(",", ":"))},
        },
    }


def finish(merge: dict[str, Any]) -> dict[str, Any]:
    """Alarm actions, DLQ lint suppressions and the dashboard, over the whole merge template."""
    resources: dict[str, Any] = merge["Resources"]
    topic = [{"Ref": ALARM_TOPIC}]
    for alarm_id in alarms(resources):
        props = resources[alarm_id]["Properties"]
        props.setdefault("AlarmActions", topic)
        props.setdefault("OKActions", topic)
    for queue_id in dead_letter_queues(resources):
        meta = resources[queue_id].setdefault("Metadata", {}).setdefault("cfn-lint", {}).setdefault("config", {})
        ignored = meta.setdefault("ignore_checks", [])
        if DLQ_LINT_REASON not in ignored:
            ignored.append(DLQ_LINT_REASON)
    resources[DASHBOARD] = dashboard(resources)
    if "ApiWebAcl" in resources:
        rules = resources["ApiWebAcl"]["Properties"]["Rules"]
        rules[:] = [r for r in rules if not str(r.get("Name", "")).startswith("rate-")] + waf_rate_rules()
    return merge


def check(plain: dict[str, Any], merged: dict[str, Any]) -> list[str]:
    """What `generate` and `finish` promise, verified on the merged template."""
    problems: list[str] = []
    resources: dict[str, Any] = merged.get("Resources", {})
    log_groups = {
        json.dumps(r.get("Properties", {}).get("LogGroupName"))
        for r in resources.values()
        if r.get("Type") == "AWS::Logs::LogGroup" and r.get("Properties", {}).get("RetentionInDays")
    }
    for fn in functions(plain):
        props = resources.get(fn.id, {}).get("Properties", {})
        if props.get("Tracing") != "Active":
            problems.append(f"{fn.id}: Tracing is not Active")
        if json.dumps({"Fn::Sub": f"/aws/lambda/${{{fn.id}}}"}) not in log_groups:
            problems.append(f"{fn.id}: no log group with a retention")
        for alarm in ("ErrorsAlarm", "ThrottlesAlarm"):
            if resources.get(f"{fn.id}{alarm}", {}).get("Type") != "AWS::CloudWatch::Alarm":
                problems.append(f"{fn.id}: no {alarm}")
        if fn.async_events:
            on_failure = props.get("EventInvokeConfig", {}).get("DestinationConfig", {}).get("OnFailure", {})
            if not on_failure.get("Destination"):
                problems.append(f"{fn.id}: asynchronous but without an on-failure destination")
            for event in fn.async_events:
                if not props.get("Events", {}).get(event, {}).get("Properties", {}).get("DeadLetterConfig"):
                    problems.append(f"{fn.id}.Events.{event}: EventBridge target without a dead-letter queue")
    migrations = resources.get(MIGRATIONS, {})
    if migrations.get("Properties", {}).get("ServiceToken") != {"Fn::GetAtt": [MIGRATE_FUNCTION, "Arn"]}:
        problems.append(f"{MIGRATIONS}: not a custom resource served by the {MIGRATE_FUNCTION} function")
    for fn in functions(plain):
        depends = resources.get(fn.id, {}).get("DependsOn", [])
        depends = [depends] if isinstance(depends, str) else depends
        if fn.id != MIGRATE_FUNCTION and MIGRATIONS not in depends:
            problems.append(f"{fn.id}: does not DependsOn {MIGRATIONS} (its new code could run before them)")
    for _, _, fn_id in api_integrations(plain):
        props = resources.get(fn_id, {}).get("Properties", {})
        if props.get("DeploymentPreference", {}).get("Type") != DEPLOYMENT_TYPE:
            problems.append(f"{fn_id}: serves the API but has no {DEPLOYMENT_TYPE} DeploymentPreference")
    for alarm_id in alarms(resources):
        if {"Ref": ALARM_TOPIC} not in resources[alarm_id]["Properties"].get("AlarmActions", []):
            problems.append(f"{alarm_id}: does not notify {ALARM_TOPIC}")
    body = json.dumps(resources.get(DASHBOARD, {}).get("Properties", {}).get("DashboardBody"))
    problems += [f"{a}: not on the dashboard" for a in alarms(resources) if f"${{{a}.Arn}}" not in body]
    return problems + sam_transform_problems(merged)


def sam_transform_problems(merged: dict[str, Any]) -> list[str]:
    """Run the SAM transform offline (aws-sam-translator, as CloudFormation will) and check
    what this module relies on: the API alias SAM names <Fn>Alias<name>, EventBridge targets
    with their DLQ. Skipped (no problem reported) where the translator is not installed."""
    try:
        import logging
        import os

        from samtranslator.translator.transform import transform
    except ImportError:
        return []

    class _NoManagedPolicies:
        @staticmethod
        def load() -> dict[str, str]:
            return {}

    logging.getLogger("samtranslator").setLevel(logging.ERROR)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    template = json.loads(json.dumps(merged))
    template["Transform"] = "AWS::Serverless-2016-10-31"  # the SecretsManager transform is CloudFormation's
    for res in template.get("Resources", {}).values():
        if res.get("Type") == "AWS::Serverless::Function":
            res["Properties"]["CodeUri"] = "s3://bucket/deployment.zip"
    try:
        out = transform(template, {"AWS::Region": os.environ["AWS_DEFAULT_REGION"]}, _NoManagedPolicies())
    except Exception as exc:  # noqa: BLE001 - the translator's own message is the report
        return [f"SAM transform failed: {exc}"]
    resources = out.get("Resources", {})
    problems = []
    for fn_id in {fn for _, _, fn in api_integrations(merged)} | {
        k for k, r in merged.get("Resources", {}).items() if "AutoPublishAlias" in r.get("Properties", {})
    }:
        alias = f"{fn_id}Alias{API_ALIAS}"
        if resources.get(alias, {}).get("Type") != "AWS::Lambda::Alias":
            problems.append(f"SAM transform: no {alias} (the API integrations invoke it)")
    for rule_id, rule in resources.items():
        if rule.get("Type") == "AWS::Events::Rule":
            problems += [
                f"SAM transform: {rule_id} target {t.get('Id')} has no DeadLetterConfig"
                for t in rule["Properties"].get("Targets", [])
                if not t.get("DeadLetterConfig")
            ]
    return problems
