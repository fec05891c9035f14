"""The template with the documents CDN switched on passes the same gates as the default:
`sam validate --lint`, cfn-lint and checkov (which drop resources whose Condition is false
under the parameter defaults, so `make validate checkov` alone never sees CloudFront)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from local_stack.template.transform import TEMPLATE

pytestmark = pytest.mark.xdist_group("documents-cdn-template")

CDN_OFF = '''  EnableDocumentsCdn:
    Type: String
    Default: "false"'''
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def cdn_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = TEMPLATE.read_text()
    assert source.count(CDN_OFF) == 1, "the EnableDocumentsCdn parameter changed shape"
    copy = tmp_path_factory.mktemp("cdn") / "template.yaml"
    copy.write_text(source.replace(CDN_OFF, CDN_OFF.replace('"false"', '"true"')))
    return copy


def run(*command: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"AWS_DEFAULT_REGION": "us-east-1", "SAM_CLI_TELEMETRY": "0"}
    return subprocess.run(  # noqa: S603 - fixed tools from this venv
        command, capture_output=True, text=True, env=env, timeout=300, check=False
    )


def test_sam_validate_lint_passes_with_the_cdn_on(cdn_template: Path):
    result = run(
        str(BIN / "sam"),
        "validate",
        "--lint",
        "--region",
        "us-east-1",
        "--template",
        str(cdn_template),
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint_passes_with_the_cdn_on(cdn_template: Path):
    result = run(str(BIN / "cfn-lint"), str(cdn_template))

    assert result.returncode == 0, result.stdout + result.stderr


def test_checkov_finds_nothing_with_the_cdn_on(cdn_template: Path):
    result = run(
        str(BIN / "checkov"),
        "--quiet",
        "--compact",
        "--skip-download",
        "--framework",
        "cloudformation",
        "--file",
        str(cdn_template),
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Failed checks: 0" in result.stdout
    assert (
        "DocumentsDistribution"
        in run(
            str(BIN / "checkov"),
            "--compact",
            "--skip-download",
            "--framework",
            "cloudformation",
            "--file",
            str(cdn_template),
            "--check",
            "CKV_AWS_34",
        ).stdout
    )  # the distribution was scanned at all
