"""`scripts/deploy prod --dry-run` describes the stack without AWS credentials or network."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PYPI_UNREACHABLE = 75

pytestmark = pytest.mark.slow  # packages the prod stage (chalice package, cfn-lint): ~25 s


def test_deploy_prod_dry_run_lists_resources_and_parameters_without_credentials(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),  # no ~/.aws
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",  # never ask the instance metadata service
    }
    proc = subprocess.run(
        [str(ROOT / "scripts" / "deploy"), "prod", "--dry-run", "--outdir", str(tmp_path / "prod")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if proc.returncode == PYPI_UNREACHABLE:
        pytest.skip("chalice package could not reach PyPI for the Linux wheels")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "dry run (--dry-run): nothing is sent to AWS" in out
    assert "cfn-lint + serverless rules: no errors or warnings" in proc.stderr
    total = int(re.search(r"stack mewayz-prod \(stage prod\): (\d+) resources", out).group(1))
    listed = re.findall(r"^  ((?:AWS|Custom)::\S+) \((\d+)\)$", out, re.M)
    assert sum(int(n) for _, n in listed) == total
    types = dict(listed)
    for kind in ("AWS::Serverless::Function", "AWS::RDS::DBProxy", "AWS::WAFv2::WebACL", "AWS::CloudWatch::Dashboard"):
        assert kind in types, kind
    assert "    NatGatewayB (if NatPerAz)" in out
    # New code never runs before its migrations: migrate first, then everything else.
    assert "  1. new code for Migrate (what Migrations needs)" in out
    assert "  2. Migrations [Custom::Migrations] invokes Migrate" in out
    assert re.search(r"^  3\. new code for the \d+ other functions \(DependsOn Migrations\)$", out, re.M)
    assert "  4. APIHandler: traffic shifts through its alias, Canary10Percent5Minutes" in out
    assert re.search(r"^  AlarmEmail = \"\"  \[String\]", out, re.M)
    assert re.search(r"^  StripeSecretKey = \"\"", out, re.M)

    # The same template without --dry-run and without credentials: a dry run too, and it
    # refuses --execute rather than guessing.
    again = subprocess.run(
        [
            str(ROOT / "scripts" / "deploy"),
            "prod",
            "--template",
            str(tmp_path / "prod"),
            "--parameter",
            "StripeSecretKey=sk_live_x",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert again.returncode == 0 and "dry run (no AWS credentials)" in again.stdout
    assert re.search(r"^  StripeSecretKey = \*\*\*\*", again.stdout, re.M), "NoEcho values are not printed"
    refused = subprocess.run(
        [str(ROOT / "scripts" / "deploy"), "prod", "--template", str(tmp_path / "prod"), "--execute"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert refused.returncode == 2 and "needs AWS credentials" in refused.stderr
