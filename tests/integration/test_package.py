"""`scripts/package` makes a Lambda bundle that runs on its own, and a template wired for SQS.

The bundle is unzipped and imported in a separate interpreter started with -I -S -B: no
site-packages, no PYTHONPATH, no repo on sys.path — only the bundle and the standard
library, as close to the Lambda runtime as this machine gets (Lambda adds boto3, which
nothing imports before first use).

Skips (loudly) only when `chalice package` cannot reach PyPI to download the Linux
wheels: scripts/package detects that case and exits 75.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYPI_UNREACHABLE = 75  # scripts/package's exit status when PyPI cannot be reached
STAGE = "test"

# About 35 s here: chalice package (Linux wheels from PyPI), .pyc for the whole bundle, cfn-lint.
pytestmark = pytest.mark.slow

# Runs inside the unzipped bundle (cwd). Prints one JSON document on stdout.
PROBE = r"""
import json, os, sys
bundle = os.getcwd()
sys.path.insert(0, bundle)

import app
from chalicelib.core import migrate, web
from yoyo import read_migrations


def event(path, accept):
    headers = {"Accept": accept, "Host": "abc123.execute-api.us-east-1.amazonaws.com", "User-Agent": "test"}
    return {
        "resource": path, "path": path, "httpMethod": "GET",
        "headers": headers, "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "pathParameters": None, "stageVariables": None, "body": None, "isBase64Encoded": False,
        "requestContext": {
            "resourcePath": path, "httpMethod": "GET", "path": "/api" + path, "stage": "api",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef", "identity": {"sourceIp": "203.0.113.7"},
        },
    }


page = app.app(event("/", "text/html"), None)
manifest = json.loads((web.static_dir() / "manifest.json").read_text())
css = "/static/" + manifest["app.css"]
asset = app.app(dict(event("/static/{name}", "text/css"), path=css, pathParameters={"name": manifest["app.css"]}), None)

stdlib = os.path.dirname(os.__file__)
outside = sorted(
    name for name, mod in list(sys.modules.items())
    if getattr(mod, "__file__", None)
    and not os.path.realpath(mod.__file__).startswith((os.path.realpath(bundle) + os.sep, os.path.realpath(stdlib)))
)
print(json.dumps({
    "sys_path": sys.path,
    "app_file": app.__file__,
    "outside_modules": outside,
    "templates_dir": str(web.templates_dir()),
    "static_dir": str(web.static_dir()),
    "page": {"status": page["statusCode"], "headers": page["headers"], "body": page["body"]},
    "css": {"path": css, "status": asset["statusCode"], "headers": asset["headers"]},
    "migrations_dir": str(migrate.MIGRATIONS_DIR),
    "migrations": sorted(m.id for m in read_migrations(str(migrate.MIGRATIONS_DIR))),
    "sqs_queues": sorted(s.queue for s in app.app.event_sources if type(s).__name__ == "SQSEventConfig"),
    "functions": sorted({s.name for s in app.app.event_sources} | {f.name for f in app.app.pure_lambda_functions}),
}))
"""


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("package")
    proc = subprocess.run(
        [str(ROOT / "scripts" / "package"), STAGE, str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    output = proc.stdout + proc.stderr
    if proc.returncode == PYPI_UNREACHABLE:
        pytest.skip(f"chalice package could not reach PyPI for the Linux wheels: {output.strip().splitlines()[-1]}")
    assert proc.returncode == 0, f"scripts/package {STAGE} failed ({proc.returncode}):\n{output}"
    assert (out / "deployment.zip").is_file() and (out / "sam.json").is_file(), output
    return out


@pytest.fixture(scope="module")
def bundle(package: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bundle")
    with zipfile.ZipFile(package / "deployment.zip") as z:
        z.extractall(root)
    return root


@pytest.fixture(scope="module")
def probe(bundle: Path) -> dict[str, Any]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "STAGE": STAGE,
        "DATABASE_URL": os.environ.get("DATABASE_URL", ""),
        "REDIS_URL": os.environ.get("REDIS_URL", ""),
        "AWS_DEFAULT_REGION": "us-east-1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    proc = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", PROBE],
        cwd=bundle,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, f"the bundle does not run on its own:\n{proc.stderr}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_bundle_imports_without_the_repo_or_site_packages(probe: dict[str, Any], bundle: Path) -> None:
    assert str(ROOT) not in probe["sys_path"] and "" not in probe["sys_path"]
    assert not any("site-packages" in p for p in probe["sys_path"]), probe["sys_path"]
    assert Path(probe["app_file"]).parent == bundle
    assert probe["outside_modules"] == [], "modules loaded from outside the bundle"


def test_bundle_renders_the_landing_page_from_bundled_templates_and_assets(
    probe: dict[str, Any], bundle: Path, api: Any
) -> None:
    assert probe["templates_dir"] == str(bundle / "chalicelib" / "templates")
    assert probe["static_dir"] == str(bundle / "chalicelib" / "static")
    page = probe["page"]
    assert page["status"] == 200, page["body"][:2000]
    assert page["headers"]["Content-Type"].startswith("text/html")
    html = page["body"]

    title = re.search(r"<title>(.*?)</title>", html, re.S)
    assert title and "Mewayz" in title.group(1)
    # The same title the source tree renders: the bundle ships the current templates.
    source_title = re.search(r"<title>(.*?)</title>", api.get("/", headers={"accept": "text/html"}).text, re.S)
    assert source_title and title.group(1) == source_title.group(1)

    css = re.search(r'href="(/static/app\.[0-9a-f]{8}\.css)"', html)
    assert css, "the asset manifest did not resolve app.css to its hashed name"
    assert css.group(1) == probe["css"]["path"]
    assert (bundle / "chalicelib" / "static" / css.group(1).removeprefix("/static/")).is_file()
    assert probe["css"]["status"] == 200
    assert probe["css"]["headers"]["Content-Type"].startswith("text/css")


def test_bundle_ships_the_migrations(probe: dict[str, Any], bundle: Path) -> None:
    shipped = sorted(p.name for p in (bundle / "chalicelib" / "migrations").glob("*.sql"))
    source = sorted(p.name for p in (ROOT / "chalicelib" / "migrations").glob("*.sql"))
    assert shipped == source and shipped
    assert Path(probe["migrations_dir"]) == bundle / "chalicelib" / "migrations"
    expected = sorted({name.removesuffix(".sql") for name in source if not name.endswith(".rollback.sql")}
                      | {p.stem for p in (ROOT / "chalicelib" / "migrations").glob("*.py")})  # fmt: skip
    assert probe["migrations"] == expected


def test_bundle_ships_bytecode_for_its_runtime(package: Path) -> None:
    # /var/task is read-only: without .pyc in the zip, every cold start compiles.
    tag = sys.implementation.cache_tag
    with zipfile.ZipFile(package / "deployment.zip") as z:
        names = set(z.namelist())
    sources = [n for n in names if n.endswith(".py") and (n == "app.py" or n.startswith(("chalicelib/", "chalice/")))]
    missing = [
        n
        for n in sources
        if f"{n.rpartition('/')[0]}/__pycache__/{n.rpartition('/')[2][:-3]}.{tag}.pyc".lstrip("/") not in names
    ]
    assert sources and not missing, missing[:5]


def test_template_wires_every_sqs_consumer_to_its_queue_and_dlq(package: Path, probe: dict[str, Any]) -> None:
    template = json.loads((package / "sam.json").read_text())
    resources = template["Resources"]
    assert "mewayz-system" in probe["sqs_queues"]

    wired: dict[str, str] = {}
    for fn_id, fn in resources.items():
        if fn["Type"] != "AWS::Serverless::Function":
            continue
        for event_id, event in (fn["Properties"].get("Events") or {}).items():
            if event["Type"] != "SQS":
                continue
            props = event["Properties"]
            assert props.get("FunctionResponseTypes") == ["ReportBatchItemFailures"], (fn_id, event_id)
            target = re.fullmatch(r"\$\{(\w+)\.Arn\}", props["Queue"].get("Fn::Sub", ""))
            assert target, f"{fn_id}.{event_id}: Queue should reference the queue resource, got {props['Queue']}"
            queue = resources[target.group(1)]
            assert queue["Type"] == "AWS::SQS::Queue"
            q = queue["Properties"]
            assert q["VisibilityTimeout"] >= 6 * fn["Properties"]["Timeout"]
            redrive = q["RedrivePolicy"]
            assert redrive["maxReceiveCount"] == 5
            dlq = resources[redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]]
            assert dlq["Type"] == "AWS::SQS::Queue"
            assert dlq["Properties"]["QueueName"] == q["QueueName"] + "-dlq"
            wired[q["QueueName"]] = fn_id
    assert sorted(wired) == probe["sqs_queues"], "every @app.on_sqs_message queue is declared and wired"


def test_template_has_the_shared_infrastructure(package: Path) -> None:
    template = json.loads((package / "sam.json").read_text())
    types = {r["Type"] for r in template["Resources"].values()}
    assert {
        "AWS::EC2::VPC",
        "AWS::RDS::DBCluster",
        "AWS::ElastiCache::ReplicationGroup",
        "AWS::S3::Bucket",
        "AWS::CloudFront::Distribution",
        "AWS::SecretsManager::Secret",
    } <= types
    function_globals = template["Globals"]["Function"]
    assert function_globals["VpcConfig"]["SubnetIds"]
    assert function_globals["Environment"]["Variables"]["SECRETS_ARN"] == {"Ref": "AppSecret"}
    responses = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"][
        "x-amazon-apigateway-gateway-responses"
    ]
    unknown_path = responses["MISSING_AUTHENTICATION_TOKEN"]
    assert unknown_path["statusCode"] == "404"
    assert json.loads(unknown_path["responseTemplates"]["application/json"]) == {
        "error": {"code": "not_found", "message": "Nothing lives at this address."}
    }
    assert {"DEFAULT_4XX", "DEFAULT_5XX"} <= set(responses)


# ---- operations (issue 14): the same package, both rule sets, what every function gets ----


def _lint(template: Path, *extra: str) -> tuple[int, str]:
    proc = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "cfn-lint"), *extra, "--", str(template)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


def test_template_passes_cfn_lint_and_the_serverless_rules(package: Path) -> None:
    # One run checks both rule sets: cfn-lint's own plus the serverless rules appended.
    rc, out = _lint(package / "sam.json", "--append-rules", "cfn_lint_serverless.rules")
    assert rc & 6 == 0, f"cfn-lint / serverless rules findings:\n{out}"
    # The only rule switched off anywhere: ES6000 ("needs a redrive policy"), on queues that
    # are themselves where failures land (infrastructure/README.md, "Serverless rules").
    resources = json.loads((package / "sam.json").read_text())["Resources"]
    ignored = {
        name: res["Metadata"]["cfn-lint"]["config"]["ignore_checks"]
        for name, res in resources.items()
        if res.get("Metadata", {}).get("cfn-lint")
    }
    assert ignored and set(map(tuple, ignored.values())) == {("ES6000",)}
    redrive_targets = {
        r["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for r in resources.values()
        if r["Type"] in ("AWS::SQS::Queue", "AWS::SNS::Subscription") and "RedrivePolicy" in r.get("Properties", {})
    }
    failure_destinations = {
        r["Properties"]["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
        for r in resources.values()
        if r["Type"] == "AWS::Serverless::Function" and "EventInvokeConfig" in r["Properties"]
    }
    assert set(ignored) == redrive_targets | failure_destinations


def test_the_serverless_rules_do_flag_what_the_merge_adds(package: Path, tmp_path: Path) -> None:
    """Take the generated settings away again and the serverless rules report them: the
    clean run above is the merge's doing, not rules that never fire."""
    template = json.loads((package / "sam.json").read_text())
    resources = template["Resources"]
    resources["EventCanary"]["Properties"]["Tracing"] = "PassThrough"
    del resources["EventCanaryLogGroup"]
    del resources["EventCanary"]["Properties"]["EventInvokeConfig"]
    del resources["RestAPI"]["Properties"]["AccessLogSetting"]
    for name in ("AccountsEventsDeadLetterQueue",):
        del resources[name]["Metadata"]
    stripped = tmp_path / "stripped.json"
    stripped.write_text(json.dumps(template))
    _, out = _lint(stripped, "--append-rules", "cfn_lint_serverless.rules")
    for finding in (
        "WS1000 Lambda function EventCanary",
        "WS1004 Lambda function EventCanary",
        "ES1007 Lambda function event EventCanary",
        "ES2000 API Gateway stage RestAPI",
        "ES6000 SQS Queue AccountsEventsDeadLetterQueue",
    ):
        assert finding in out, out


def test_every_function_gets_tracing_logs_alarms_and_async_failure_queues(package: Path) -> None:
    template = json.loads((package / "sam.json").read_text())
    resources = template["Resources"]
    functions = {k: r for k, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
    assert {"APIHandler", "Migrate", "SystemEvents", "EventCanary", "EventOutboxRelay"} <= set(functions)
    alarms = {k for k, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    for fn_id, fn in functions.items():
        props = fn["Properties"]
        assert props["Tracing"] == "Active", fn_id
        log_group = resources[f"{fn_id}LogGroup"]["Properties"]
        assert log_group["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/${{{fn_id}}}"}
        assert log_group["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        assert {f"{fn_id}ErrorsAlarm", f"{fn_id}ThrottlesAlarm"} <= alarms
        for event_id, event in (props.get("Events") or {}).items():
            if event["Type"] != "Schedule":
                continue
            queue = event["Properties"]["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
            assert props["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0] == queue
            assert resources[queue]["Type"] == "AWS::SQS::Queue", (fn_id, event_id)
            assert f"{fn_id}FailedAlarm" in alarms
    # Every alarm pages the topic and is on the one dashboard.
    body = json.dumps(resources["Dashboard"]["Properties"]["DashboardBody"])
    for alarm in alarms:
        assert resources[alarm]["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}], alarm
        assert f"${{{alarm}.Arn}}" in body, alarm
    # The alarms the issue names exist already, whether or not their metric is emitted yet.
    assert {
        "Api5xxAlarm",
        "ApiLatencyAlarm",
        "DatabaseCpuAlarm",
        "DatabaseConnectionsAlarm",
        "CachePrimaryMemoryAlarm",
        "SesBounceRateAlarm",
        "SesComplaintRateAlarm",
        "StripeEventFailedAlarm",
    } <= alarms
    assert resources["SesBounceRateAlarm"]["Properties"]["Threshold"] == 0.05
    assert resources["SesComplaintRateAlarm"]["Properties"]["Threshold"] == 0.001
    assert resources["StripeEventFailedAlarm"]["Properties"]["Namespace"] == f"Mewayz/{STAGE}"


def test_every_function_of_app_py_is_in_the_stack_and_waits_for_the_migrations(
    package: Path, probe: dict[str, Any]
) -> None:
    """Derived, not listed: each function app.py declares (a new area's event functions and
    schedules included) is a stack function with its log group and alarms, and every one
    but migrate DependsOn the Migrations custom resource that runs migrate first."""
    resources = json.loads((package / "sam.json").read_text())["Resources"]
    functions = {k for k, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
    declared = {"".join(part.capitalize() for part in name.split("_")) for name in probe["functions"]}
    assert functions == declared | {"APIHandler"}
    for fn_id in functions:
        assert f"{fn_id}LogGroup" in resources and f"{fn_id}ErrorsAlarm" in resources, fn_id
    migrations = resources["Migrations"]
    assert migrations["Type"] == "Custom::Migrations"
    assert migrations["Properties"]["ServiceToken"] == {"Fn::GetAtt": ["Migrate", "Arn"]}
    for fn_id in functions - {"Migrate"}:
        assert "Migrations" in resources[fn_id]["DependsOn"], fn_id
    assert "Migrations" not in json.dumps(resources["Migrate"].get("DependsOn", []))


def test_api_canary_stage_settings_and_waf(package: Path) -> None:
    resources = json.loads((package / "sam.json").read_text())["Resources"]
    api = resources["RestAPI"]["Properties"]
    assert api["TracingEnabled"] is True
    assert json.loads(api["AccessLogSetting"]["Format"])["requestId"] == "$context.requestId"
    (default,) = [m for m in api["MethodSettings"] if m["ResourcePath"] == "/*" and m["HttpMethod"] == "*"]
    assert default["ThrottlingBurstLimit"] == {"Ref": "ApiThrottlingBurstLimit"}
    handler = resources["APIHandler"]["Properties"]
    assert handler["AutoPublishAlias"] == "live"
    assert handler["DeploymentPreference"] == {"Type": "Canary10Percent5Minutes", "Alarms": [{"Ref": "Api5xxAlarm"}]}
    # Every route invokes the alias (what the canary shifts), not $LATEST.
    uris = [
        spec["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
        for methods in api["DefinitionBody"]["paths"].values()
        for spec in methods.values()
        if spec["x-amazon-apigateway-integration"].get("type") != "mock"  # CORS preflights (/api/collect)
    ]
    assert uris and all("${APIHandlerAliaslive}" in u for u in uris)
    assert resources["APIHandlerInvokePermission"]["Properties"]["FunctionName"] == {"Ref": "APIHandler.Alias"}
    rules = {r["Name"]: r for r in resources["ApiWebAcl"]["Properties"]["Rules"]}
    assert {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"} <= set(rules)

    def regex(rule: dict[str, Any]) -> str:
        scope = rule["Statement"]["RateBasedStatement"]["ScopeDownStatement"]
        scope = scope["AndStatement"]["Statements"][0] if "AndStatement" in scope else scope
        return scope["RegexMatchStatement"]["RegexString"]

    paths = {"/api/collect", "/api/forms/1", "/api/pay/1", "/go/abc", "/api/auth/login", "/login", "/unsubscribe/t"}
    limited = {
        p
        for p in paths | {f"/api{p}" for p in paths}
        for r in rules.values()
        if "RateBasedStatement" in r["Statement"] and re.search(regex(r), p)
    }
    # Both through a custom domain (/api/...) and the execute-api URL's stage prefix (/api/api/...).
    assert limited == paths | {f"/api{p}" for p in paths}
    assert not re.search(regex(rules["rate-go"]), "/api/sites/go/1")
    assert len({r["Priority"] for r in rules.values()}) == len(rules)
    # Beacons the sites' distribution forwards carry the header rate-collect skips them by.
    origin = next(
        o
        for o in resources["SitesDistribution"]["Properties"]["DistributionConfig"]["Origins"]
        if o["Id"] == "analytics-collect"
    )
    [header] = origin["OriginCustomHeaders"]
    skipped = rules["rate-collect"]["Statement"]["RateBasedStatement"]["ScopeDownStatement"]["AndStatement"]
    match = skipped["Statements"][1]["NotStatement"]["Statement"]["ByteMatchStatement"]
    assert match["FieldToMatch"]["SingleHeader"]["Name"] == header["HeaderName"].lower()
    assert match["SearchString"] == header["HeaderValue"]
    assert resources["SitesDistribution"]["Properties"]["DistributionConfig"]["WebACLId"]["Fn::If"][0] == "InUsEast1"


def test_functions_connect_through_the_proxy_as_the_app_user_and_only_migrate_holds_the_master(package: Path) -> None:
    template = json.loads((package / "sam.json").read_text())
    resources = template["Resources"]
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert env["DATABASE_SECRET_ARN"] == {"Ref": "AppDatabaseSecret"}
    assert "DatabaseProxy.Endpoint" in env["DATABASE_URL"]["Fn::Sub"]
    assert "DatabaseProxyReader.Endpoint" in env["DATABASE_READER_URL"]["Fn::Sub"]
    assert env["DB_TLS"] == "true"
    assert "DATABASE_URL" not in resources["AppSecret"]["Properties"]["SecretString"]["Fn::Sub"]
    migrate_fn = resources["Migrate"]["Properties"]
    assert migrate_fn["Environment"]["Variables"]["DATABASE_SECRET_ARN"] == {"Ref": "DatabaseSecret"}
    assert migrate_fn["Role"] == {"Fn::GetAtt": ["MigrateRole", "Arn"]}
    # Who may read the master secret: the migrate role, the proxy, rotation. Not the shared role.
    readers = {
        name
        for name, res in resources.items()
        if res["Type"] in ("AWS::IAM::Role", "AWS::IAM::ManagedPolicy")
        and '{"Ref": "DatabaseSecret"}' in json.dumps(res)
    }
    assert readers == {"MigrateRole", "DatabaseProxyRole"}
    rotations = {
        r["Properties"]["SecretId"]["Ref"]: r["Properties"]["HostedRotationLambda"]["RotationType"]
        for r in resources.values()
        if r["Type"] == "AWS::SecretsManager::RotationSchedule"
    }
    assert rotations == {"DatabaseSecret": "MySQLSingleUser", "AppDatabaseSecret": "MySQLMultiUser"}
    assert "AWS::SecretsManager-2024-09-16" in template["Transform"]
    assert resources["DatabaseProxy"]["Properties"]["RequireTLS"] is True
    assert resources["DatabaseProxyReader"]["Properties"]["TargetRole"] == "READ_ONLY"
    assert "CacheAuthSecret" in resources["Cache"]["Properties"]["AuthToken"]["Fn::Sub"]
