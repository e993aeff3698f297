"""Build the template merged into `chalice package`, and check the merged result.

`chalice package --merge-template FILE` deep-merges FILE into the template Chalice
generates (dicts merge key by key, anything else is replaced by FILE's value).
scripts/package runs Chalice twice: once plain, to learn what it generates, then with
the file this script builds:

    build   infrastructure/template.json (everything shared: VPC, Aurora, Redis, S3 +
            CloudFront, secrets, IAM, gateway responses, Globals) plus, for every SQS
            event source Chalice generated (one per `@app.on_sqs_message`):
              <Fn>Queue              the queue, named as app.py consumes it, with
              <Fn>DeadLetterQueue    its DLQ (<name>-dlq; RedrivePolicy maxReceiveCount 5)
              <Fn>DeadLetterAlarm    an alarm when anything lands in the DLQ
              <Fn>.Events.<Fn>SqsEventSource.Properties:
                FunctionResponseTypes [ReportBatchItemFailures] (the consumers return
                batchItemFailures) and Queue -> the queue resource (so CloudFormation
                creates the queue before the event source mapping)
            VisibilityTimeout is 6 x the function's timeout (AWS's guidance for SQS
            event sources); plus what operations.py generates for every function, the
            API and every alarm (tracing, log groups, alarms, async failure queues, the
            canary, the dashboard). template.json wins over anything generated, so a
            queue that needs other settings is tuned by declaring the same keys there.
    check   the merged template: every SQS consumer is wired as above, every queue has
            a DLQ, no resource was left without a Type by the merge (a renamed Chalice
            function), the functions get the VPC, SECRETS_ARN and the database settings,
            and operations.check (which also runs the SAM transform offline).

    python infrastructure/merge_template.py build PLAIN_SAM_JSON -o MERGE_JSON
    python infrastructure/merge_template.py check PLAIN_SAM_JSON MERGED_SAM_JSON
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import operations  # infrastructure/operations.py: tracing, logs, alarms, async DLQs, API stage, dashboard

HERE = Path(__file__).resolve().parent
BASE_TEMPLATE = HERE / "template.json"
VISIBILITY_FACTOR = 6
MAX_RECEIVE_COUNT = 5
DLQ_RETENTION_S = 14 * 24 * 3600
QUEUE_RETENTION_S = 4 * 24 * 3600
CHALICE_DEFAULT_TIMEOUT_S = 60
REQUIRED_ENV = ("SECRETS_ARN", "REDIS_URL", "DATABASE_URL", "DATABASE_SECRET_ARN")
# How Chalice names the queue of `@app.on_sqs_message(queue="name")`.
_CHALICE_QUEUE_ARN = re.compile(
    r"^arn:\$\{AWS::Partition\}:sqs:\$\{AWS::Region\}:\$\{AWS::AccountId\}:([A-Za-z0-9_-]+)$"
)
_SUB_ARN = re.compile(r"^\$\{([A-Za-z0-9]+)\.Arn\}$")


@dataclass(frozen=True)
class Consumer:
    """One SQS event source of the Chalice template."""

    function: str  # logical id of the AWS::Serverless::Function, e.g. SystemEvents
    event: str  # key under Events, e.g. SystemEventsSqsEventSource
    queue: str  # queue name, e.g. mewayz-system
    timeout: int  # the function's timeout in seconds

    @property
    def queue_id(self) -> str:
        return f"{self.function}Queue"

    @property
    def dlq_id(self) -> str:
        return f"{self.function}DeadLetterQueue"

    @property
    def alarm_id(self) -> str:
        return f"{self.function}DeadLetterAlarm"


def consumers(chalice_template: dict[str, Any]) -> list[Consumer]:
    """The SQS consumers of a plain `chalice package` template (queues named, not ARNs)."""
    found = []
    for fn_id, res in chalice_template.get("Resources", {}).items():
        if res.get("Type") != "AWS::Serverless::Function":
            continue
        props = res.get("Properties", {})
        for event_id, event in (props.get("Events") or {}).items():
            if event.get("Type") != "SQS":
                continue
            queue = event.get("Properties", {}).get("Queue")
            m = _CHALICE_QUEUE_ARN.match(queue.get("Fn::Sub", "")) if isinstance(queue, dict) else None
            if m is None:
                continue  # @app.on_sqs_message(queue_arn=...): a queue owned elsewhere
            found.append(Consumer(fn_id, event_id, m.group(1), int(props.get("Timeout") or CHALICE_DEFAULT_TIMEOUT_S)))
    return found


def deep_merge(top: Any, bottom: Any) -> Any:
    """What Chalice's TemplateDeepMerger does: `top` wins, dicts merge recursively."""
    if isinstance(top, dict) and isinstance(bottom, dict):
        merged = dict(bottom)
        for key, value in top.items():
            merged[key] = deep_merge(value, bottom.get(key))
        return merged
    return top


def queue_resources(c: Consumer) -> dict[str, Any]:
    return {
        c.dlq_id: {
            "Type": "AWS::SQS::Queue",
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
            "Properties": {
                "QueueName": f"{c.queue}-dlq",
                "MessageRetentionPeriod": DLQ_RETENTION_S,
                "SqsManagedSseEnabled": True,
            },
        },
        c.queue_id: {
            "Type": "AWS::SQS::Queue",
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
            "Properties": {
                "QueueName": c.queue,
                "VisibilityTimeout": VISIBILITY_FACTOR * c.timeout,
                "MessageRetentionPeriod": QUEUE_RETENTION_S,
                "SqsManagedSseEnabled": True,
                "RedrivePolicy": {
                    "deadLetterTargetArn": {"Fn::GetAtt": [c.dlq_id, "Arn"]},
                    "maxReceiveCount": MAX_RECEIVE_COUNT,
                },
            },
        },
        c.alarm_id: {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmDescription": f"Events of {c.queue} failed {MAX_RECEIVE_COUNT} times and wait in {c.queue}-dlq.",
                "Namespace": "AWS/SQS",
                "MetricName": "ApproximateNumberOfMessagesVisible",
                "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [c.dlq_id, "QueueName"]}}],
                "Statistic": "Maximum",
                "Period": 300,
                "EvaluationPeriods": 1,
                "Threshold": 0,
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching",
            },
        },
        c.function: {
            "Properties": {
                "Events": {
                    c.event: {
                        "Properties": {
                            "Queue": {"Fn::Sub": f"${{{c.queue_id}.Arn}}"},
                            "FunctionResponseTypes": ["ReportBatchItemFailures"],
                        }
                    }
                }
            }
        },
    }


def build(chalice_template: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    generated: dict[str, Any] = {"Resources": operations.generate(chalice_template), "Outputs": {}}
    for c in consumers(chalice_template):
        generated["Resources"] = deep_merge(queue_resources(c), generated["Resources"])
        generated["Outputs"][f"{c.queue_id}Url"] = {"Value": {"Ref": c.queue_id}}
    return operations.finish(deep_merge(copy.deepcopy(base), generated))


def _queue_target(ref: Any) -> str | None:
    if isinstance(ref, dict) and isinstance(ref.get("Fn::Sub"), str):
        m = _SUB_ARN.match(ref["Fn::Sub"])
        return m.group(1) if m else None
    if isinstance(ref, dict) and isinstance(ref.get("Fn::GetAtt"), list) and ref["Fn::GetAtt"][1:] == ["Arn"]:
        return str(ref["Fn::GetAtt"][0])
    return None


def check(chalice_template: dict[str, Any], merged: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    resources: dict[str, Any] = merged.get("Resources", {})
    problems += [
        f"{name}: no Type (infrastructure/template.json merges into a resource Chalice no longer generates)"
        for name, res in resources.items()
        if "Type" not in res
    ]
    for c in consumers(chalice_template):
        where = f"{c.function}.Events.{c.event}"
        props = (
            resources.get(c.function, {}).get("Properties", {}).get("Events", {}).get(c.event, {}).get("Properties", {})
        )
        if "ReportBatchItemFailures" not in (props.get("FunctionResponseTypes") or []):
            problems.append(f"{where}: FunctionResponseTypes lacks ReportBatchItemFailures")
        target = _queue_target(props.get("Queue"))
        queue = resources.get(target or "", {})
        if queue.get("Type") != "AWS::SQS::Queue":
            problems.append(f"{where}: Queue does not point at an AWS::SQS::Queue of the template")
            continue
        qprops = queue.get("Properties", {})
        if qprops.get("QueueName") != c.queue:
            problems.append(f"{target}: QueueName {qprops.get('QueueName')!r}, but app.py consumes {c.queue!r}")
        if int(qprops.get("VisibilityTimeout", 30)) < VISIBILITY_FACTOR * c.timeout:
            problems.append(
                f"{target}: VisibilityTimeout < {VISIBILITY_FACTOR} x {c.function}'s timeout ({c.timeout}s)"
            )
    dlqs = {
        (res.get("Properties", {}).get("RedrivePolicy") or {})
        .get("deadLetterTargetArn", {})
        .get("Fn::GetAtt", [None])[0]
        for res in resources.values()
    } | operations.dead_letter_queues(resources)
    for name, res in resources.items():
        if res.get("Type") != "AWS::SQS::Queue" or name in dlqs:
            continue
        redrive = res.get("Properties", {}).get("RedrivePolicy") or {}
        if int(redrive.get("maxReceiveCount", 0)) != MAX_RECEIVE_COUNT:
            problems.append(f"{name}: needs a RedrivePolicy to a DLQ with maxReceiveCount {MAX_RECEIVE_COUNT}")
    fn_globals = merged.get("Globals", {}).get("Function", {})
    if not fn_globals.get("VpcConfig"):
        problems.append("Globals.Function.VpcConfig is missing: the functions could not reach Aurora or Redis")
    env = fn_globals.get("Environment", {}).get("Variables", {})
    problems += [f"Globals.Function.Environment.Variables.{k} is missing" for k in REQUIRED_ENV if k not in env]
    return problems + operations.check(chalice_template, merged)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="write the template to merge")
    b.add_argument("chalice_template", type=Path, help="sam.json of a plain `chalice package`")
    b.add_argument("-o", "--output", type=Path, required=True)
    b.add_argument("--base", type=Path, default=BASE_TEMPLATE)
    c = sub.add_parser("check", help="check a merged template")
    c.add_argument("chalice_template", type=Path, help="sam.json of a plain `chalice package`")
    c.add_argument("merged_template", type=Path)
    args = parser.parse_args(argv)

    plain = json.loads(args.chalice_template.read_text())
    if args.command == "build":
        merge = build(plain, json.loads(args.base.read_text()))
        args.output.write_text(json.dumps(merge, indent=2) + "\n")
        queues = ", ".join(f"{c.queue} -> {c.function}" for c in consumers(plain)) or "none"
        print(f"merge template: {args.base.name} + SQS consumers: {queues}")
        return 0
    problems = check(plain, json.loads(args.merged_template.read_text()))
    for p in problems:
        print(f"  - {p}", file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s) in the merged template", file=sys.stderr)
        return 1
    print("merged template checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
