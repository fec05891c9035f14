"""Package sizes from `make build` (sam build for python3.13 on arm64), beside Lambda's limits.

Each function's folder and each layer in .aws-sam/build is zipped in memory as `sam
package` zips it (deflate), and its files are summed unzipped. Lambda's limits: 50 MB
for a zip uploaded directly (larger ones go through S3), and 250 MB unzipped for a
function together with all of its layers.
"""

import io
import os
import subprocess
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.harness import REPO, progress
from local_stack.template.transform import load_yaml

BUILD_DIR = REPO / ".aws-sam" / "build"
ZIPPED_LIMIT = 50 * 1024 * 1024  # direct upload of a deployment package
UNZIPPED_LIMIT = 250 * 1024 * 1024  # function + all its layers, unzipped


@dataclass
class Package:
    name: str
    kind: str  # "function" or "layer"
    zipped: int
    unzipped: int
    layers: list[str] = field(default_factory=list)
    unzipped_with_layers: int = 0


@dataclass
class SizesResult:
    packages: list[Package] = field(default_factory=list)
    error: str | None = None


def measure(folder: Path) -> tuple[int, int]:
    """(zipped, unzipped) bytes of everything under `folder`."""
    buffer = io.BytesIO()
    unzipped = 0
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
                unzipped += path.stat().st_size
    return len(buffer.getvalue()), unzipped


def run() -> SizesResult:
    progress("sizes: make build (sam build, python3.13 arm64)")
    build = subprocess.run(  # noqa: S603 - the project's own Makefile target
        [os.environ.get("MAKE", "make"), "--no-print-directory", "build"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if build.returncode != 0:
        return SizesResult(error=f"make build failed:\n{(build.stdout + build.stderr)[-1500:]}")
    template: dict[str, Any] = load_yaml(BUILD_DIR / "template.yaml")
    resources: dict[str, Any] = template["Resources"]
    globals_ = template.get("Globals", {}).get("Function", {})
    result = SizesResult()
    layers: dict[str, Package] = {}
    for logical_id, resource in sorted(resources.items()):
        if resource["Type"] == "AWS::Serverless::LayerVersion":
            zipped, unzipped = measure(BUILD_DIR / resource["Properties"]["ContentUri"])
            layers[logical_id] = Package(logical_id, "layer", zipped, unzipped)
    for logical_id, resource in sorted(resources.items()):
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        zipped, unzipped = measure(BUILD_DIR / props["CodeUri"])
        # SAM appends a function's own Layers to the Globals' (the Django function: the
        # shared layer, then the Django layer), as Lambda then loads them
        uses = [
            layer["Ref"]
            for layer in [*globals_.get("Layers", []), *props.get("Layers", [])]
            if isinstance(layer, dict) and layer.get("Ref") in layers
        ]
        package = Package(logical_id, "function", zipped, unzipped, uses)
        package.unzipped_with_layers = unzipped + sum(layers[name].unzipped for name in uses)
        result.packages.append(package)
    result.packages.extend(layers.values())
    return result
