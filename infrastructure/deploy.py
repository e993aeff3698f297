"""Deploy a packaged stage with a CloudFormation change set, or describe it (dry run).

Called by scripts/deploy after scripts/package (see its header). Without AWS credentials
(or with --dry-run) nothing talks to AWS: it prints the template's resources by type and
its parameters. With credentials:

  1. uploads deployment.zip (and the template, too large for an inline body) to
     --artifact-bucket, content-addressed, and points every function's CodeUri, and the
     `Migrations` resource's Bundle, at it;
  2. creates a change set (CREATE or UPDATE; IAM + AUTO_EXPAND for the SAM and Secrets
     Manager transforms), waits for it and prints each change;
  3. executes it after a "yes" (or --yes), and waits for the stack. Inside it, in this
     order (DEPLOY_ORDER, printed by the dry run too): the `migrate` function gets the new
     code; the `Migrations` custom resource (its Bundle changed) invokes it: migrations as
     the master user, then the app user's grants; only then do the other functions get
     theirs (each DependsOn Migrations), and the API alias shifts traffic
     (Canary10Percent5Minutes, rolled back by Api5xxAlarm). A failed migration fails the
     resource and CloudFormation rolls the update back before any other function changed;
  4. GETs /api/health on the stack's EndpointURL and fails unless it answers 200 healthy.

Migrations must therefore suit the code still running while they apply (the previous
version): add, backfill, then drop in a later release (expand/contract).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
import urllib.request
from collections import defaultdict
from pathlib import Path
from typing import Any

CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
MIGRATE_FUNCTION = "Migrate"
MIGRATIONS = "Migrations"  # the Custom::Migrations resource (infrastructure/template.json)
MAX_INLINE_TEMPLATE = 51_200  # bytes: CloudFormation's limit for TemplateBody


def has_credentials() -> bool:
    try:
        import boto3

        return boto3.Session().get_credentials() is not None
    except Exception:  # noqa: BLE001 - any failure to find credentials means "dry run"
        return False


def describe(template: dict[str, Any], stage: str, stack: str, overrides: dict[str, str]) -> str:
    resources: dict[str, Any] = template.get("Resources", {})
    by_type: dict[str, list[str]] = defaultdict(list)
    for logical_id, res in resources.items():
        kind = str(res.get("Type"))
        by_type[kind].append(logical_id + (f" (if {res['Condition']})" if res.get("Condition") else ""))
    transforms = template.get("Transform")
    lines = [
        f"stack {stack} (stage {stage}): {len(resources)} resources in {len(by_type)} types",
        f"transforms: {', '.join(transforms) if isinstance(transforms, list) else transforms}",
        "",
        "resources by type:",
    ]
    for kind in sorted(by_type):
        ids = sorted(by_type[kind])
        lines.append(f"  {kind} ({len(ids)})")
        lines += [f"    {i}" for i in ids]
    lines += ["", *deploy_order(resources)]
    lines += ["", "parameters (value = override, else default):"]
    for name, spec in template.get("Parameters", {}).items():
        value = overrides.get(name, spec.get("Default", ""))
        shown = "****" if spec.get("NoEcho") and value else json.dumps(value)
        description = str(spec.get("Description", "")).split(". ")[0]
        lines.append(f"  {name} = {shown}  [{spec.get('Type')}] {description}")
    return "\n".join(lines)


def _depends_on(res: dict[str, Any]) -> list[str]:
    depends = res.get("DependsOn", [])
    return [depends] if isinstance(depends, str) else list(depends)


def deploy_order(resources: dict[str, Any]) -> list[str]:
    """The order an update runs in, as the template's dependencies make it (what the dry run shows)."""
    functions = sorted(k for k, r in resources.items() if r.get("Type") == "AWS::Serverless::Function")
    after = [f for f in functions if MIGRATIONS in _depends_on(resources[f])]
    before = [f for f in functions if f not in after]
    canary = sorted(f for f in functions if resources[f].get("Properties", {}).get("DeploymentPreference"))
    if MIGRATIONS not in resources:
        return ["deploy order: no Migrations resource: run `migrate` yourself before new code takes traffic"]
    lines = [
        "deploy order (an update):",
        f"  1. new code for {', '.join(before)} (what Migrations needs)",
        f"  2. {MIGRATIONS} [{resources[MIGRATIONS].get('Type')}] invokes {MIGRATE_FUNCTION}: migrations, app user "
        "grants; a failure rolls the stack back here",
        f"  3. new code for the {len(after)} other functions (DependsOn {MIGRATIONS})",
    ]
    lines += [f"  4. {f}: traffic shifts through its alias, {resources[f]['Properties']['DeploymentPreference'].get('Type')}"
              for f in canary]  # fmt: skip
    lines.append("  then: GET /api/health")
    return lines


def _upload(s3: Any, bucket: str, prefix: str, body: bytes, suffix: str) -> str:
    key = f"{prefix}/{hashlib.sha256(body).hexdigest()}{suffix}"
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    return key


def _changes(cfn: Any, stack: str, change_set: str) -> list[str]:
    out, token = [], None
    while True:
        kw = {"StackName": stack, "ChangeSetName": change_set}
        if token:
            kw["NextToken"] = token
        page = cfn.describe_change_set(**kw)
        for change in page.get("Changes", []):
            rc = change.get("ResourceChange", {})
            replace = " (replacement)" if rc.get("Replacement") == "True" else ""
            out.append(f"  {rc.get('Action')}: {rc.get('LogicalResourceId')} [{rc.get('ResourceType')}]{replace}")
        token = page.get("NextToken")
        if not token:
            return out


def deploy(args: argparse.Namespace, template: dict[str, Any], overrides: dict[str, str]) -> int:
    import boto3

    session = boto3.Session()
    cfn, s3 = session.client("cloudformation"), session.client("s3")
    if not args.artifact_bucket:
        print("deploy: --artifact-bucket (or DEPLOY_BUCKET) is needed to upload the bundle", file=sys.stderr)
        return 2
    prefix = f"mewayz/{args.stage}"
    code_key = _upload(s3, args.artifact_bucket, prefix, (args.outdir / "deployment.zip").read_bytes(), ".zip")
    for res in template["Resources"].values():
        if res.get("Type") == "AWS::Serverless::Function":
            res["Properties"]["CodeUri"] = f"s3://{args.artifact_bucket}/{code_key}"
    if MIGRATIONS in template["Resources"]:  # a new bundle: the resource updates, migrate runs
        template["Resources"][MIGRATIONS]["Properties"]["Bundle"] = code_key
    body = json.dumps(template).encode()
    source: dict[str, str] = {"TemplateBody": body.decode()}
    if len(body) > MAX_INLINE_TEMPLATE:
        key = _upload(s3, args.artifact_bucket, prefix, body, ".json")
        source = {"TemplateURL": f"https://{args.artifact_bucket}.s3.amazonaws.com/{key}"}
    try:
        cfn.describe_stacks(StackName=args.stack_name)
        kind = "UPDATE"
    except cfn.exceptions.ClientError:
        kind = "CREATE"
    name = f"deploy-{time.strftime('%Y%m%d-%H%M%S')}"
    cfn.create_change_set(
        StackName=args.stack_name,
        ChangeSetName=name,
        ChangeSetType=kind,
        Capabilities=CAPABILITIES,
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in overrides.items()],
        **source,
    )
    try:
        cfn.get_waiter("change_set_create_complete").wait(StackName=args.stack_name, ChangeSetName=name)
    except Exception as exc:  # noqa: BLE001 - report CloudFormation's reason
        reason = cfn.describe_change_set(StackName=args.stack_name, ChangeSetName=name).get("StatusReason", exc)
        print(f"deploy: change set {name} failed: {reason}", file=sys.stderr)
        return 1
    print(f"change set {name} ({kind}) for {args.stack_name}:")
    print("\n".join(_changes(cfn, args.stack_name, name)) or "  (no changes)")
    if not args.yes and input("execute it? [yes/no] ").strip().lower() != "yes":
        print("not executed; the change set stays for review in the console")
        return 0
    cfn.execute_change_set(StackName=args.stack_name, ChangeSetName=name)
    waiter = "stack_create_complete" if kind == "CREATE" else "stack_update_complete"
    cfn.get_waiter(waiter).wait(StackName=args.stack_name, WaiterConfig={"Delay": 15, "MaxAttempts": 240})
    print(f"stack {args.stack_name}: {kind} complete")

    migrated = cfn.describe_stack_resource(StackName=args.stack_name, LogicalResourceId=MIGRATIONS)
    print(f"migrations: {migrated['StackResourceDetail'].get('ResourceStatusReason') or 'ran in the update'}")
    outputs = {
        o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(StackName=args.stack_name)["Stacks"][0]["Outputs"]
    }
    url = outputs["EndpointURL"].rstrip("/") + "/api/health"
    try:
        with urllib.request.urlopen(url, timeout=10) as r:  # noqa: S310 - the stack's own https URL
            health = json.loads(r.read())
            status = r.status
    except Exception as exc:  # noqa: BLE001 - any failure is a failed health check
        print(f"deploy: {url} did not answer: {exc}", file=sys.stderr)
        return 1
    print(f"health: {status} {health.get('status')} version {health.get('version')}")
    return 0 if status == 200 and health.get("status") == "healthy" else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage")
    parser.add_argument("outdir", type=Path, help="where scripts/package wrote deployment.zip and sam.json")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="describe only (the default without AWS credentials)")
    mode.add_argument("--execute", action="store_true", help="deploy; fail if there are no AWS credentials")
    parser.add_argument("--stack-name", help="default mewayz-<stage>")
    parser.add_argument("--artifact-bucket", default="", help="S3 bucket for the bundle (env DEPLOY_BUCKET)")
    parser.add_argument("--parameter", action="append", default=[], metavar="KEY=VALUE", help="a stack parameter")
    parser.add_argument("--yes", action="store_true", help="execute the change set without asking")
    args = parser.parse_args(argv)
    args.stack_name = args.stack_name or f"mewayz-{args.stage}"
    overrides = dict(p.split("=", 1) for p in args.parameter)
    template = json.loads((args.outdir / "sam.json").read_text())
    unknown = sorted(set(overrides) - set(template.get("Parameters", {})))
    if unknown:
        parser.error(f"unknown parameter(s): {', '.join(unknown)}")

    live = not args.dry_run and has_credentials()
    if args.execute and not live:
        print("deploy: --execute needs AWS credentials (none found)", file=sys.stderr)
        return 2
    if not live:
        why = "--dry-run" if args.dry_run else "no AWS credentials"
        print(f"dry run ({why}): nothing is sent to AWS\n")
        print(describe(template, args.stage, args.stack_name, overrides))
        return 0
    return deploy(args, template, overrides)


if __name__ == "__main__":
    sys.exit(main())
