"""`sam build` produces functions that start: the right handler, every module, every dependency.

template.yaml targets python3.13 on arm64, whose native wheels (pydantic_core) cannot load
on every machine that runs the tests. So the test builds the same template retargeted at
the running interpreter and machine (Runtime, layer BuildMethod and architectures; nothing
else changes), then starts each built function in a bare interpreter whose sys.path holds
only what Lambda provides: the function's folder, its layers and the runtime's own boto3.
A wrong `Handler`, a module left out of the build or a dependency missing from
layers/shared/requirements.txt fails here, not after a deploy.

`make build` builds the real target (python3.13, arm64) without Docker.
"""

import copy
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from importlib.metadata import distributions
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from local_stack.paths import ROOT

# The module's build fixture runs `sam build` with a 900 s limit in the first test's setup.
from local_stack.template.transform import TEMPLATE, SamTemplate, load_template, load_yaml

# The module's build fixture runs `sam build` with a 900 s limit in the first test's setup.
pytestmark = [pytest.mark.build, pytest.mark.xdist_group("sam-build"), pytest.mark.timeout(1200)]

RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"
LAMBDA_ARCHITECTURES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}
# What the Lambda Python runtime itself puts on sys.path (/var/runtime): boto3 and its
# dependencies. Everything else a function imports must come from its folder or a layer.
LAMBDA_RUNTIME_PACKAGES = (
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "dateutil",
    "urllib3",
    "six",
    "snapshot_restore_py",  # SnapStart's runtime hooks (customer_platform/snapstart.py)
)
SHIM = Path(__file__).with_name("lambda_runtime_shim.py")
REGION = "us-east-1"
PSEUDO_PARAMETERS = {
    "AWS::AccountId": "123456789012",
    "AWS::Region": REGION,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "customer-platform",
}
# Nothing listens on the discard port: an AWS call a probe should not make fails at once
# (and shows as a 500) instead of reaching for the internet.
UNREACHABLE_AWS = "http://127.0.0.1:9"
# A method no route of this stack answers (PUT replaces a customer), on a path that has
# routes: the resolver answers 405 itself, so no AWS call is needed. If a function ever
# routes PATCH on an API path, the probe picks another method for that path.
PROBE_METHODS = ("PATCH", "PUT", "DELETE", "POST", "GET")

SOURCE = load_yaml(TEMPLATE)
FUNCTIONS = sorted(
    logical_id
    for logical_id, resource in SOURCE["Resources"].items()
    if resource["Type"] == "AWS::Serverless::Function"
)


@dataclass(frozen=True)
class Build:
    build_dir: Path
    template: dict[str, Any]  # .aws-sam/build/template.yaml of the local build
    runtime_dir: Path  # stands in for the Lambda runtime's /var/runtime
    work_dir: Path


def _lambda_architecture() -> str:
    machine = platform.machine().lower()
    if machine not in LAMBDA_ARCHITECTURES:
        pytest.fail(f"Lambda has no architecture for this machine ({machine}); run on x86_64/arm64")
    return LAMBDA_ARCHITECTURES[machine]


def retarget(source: dict[str, Any], runtime: str, architecture: str) -> dict[str, Any]:
    """template.yaml with its Python runtime and architecture set to `runtime`/`architecture`."""
    template = copy.deepcopy(source)
    functions = [template.get("Globals", {}).get("Function", {})] + [
        resource.get("Properties", {})
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Serverless::Function"
    ]
    for props in functions:
        if str(props.get("Runtime", "")).startswith("python"):
            props["Runtime"] = runtime
        if "Architectures" in props:
            props["Architectures"] = [architecture]
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::Serverless::LayerVersion":
            continue
        props = resource.setdefault("Properties", {})
        metadata = resource.setdefault("Metadata", {})
        if str(metadata.get("BuildMethod", "")).startswith("python"):
            metadata["BuildMethod"] = runtime
        if "BuildArchitecture" in metadata:
            metadata["BuildArchitecture"] = architecture
        if "CompatibleRuntimes" in props:
            props["CompatibleRuntimes"] = [runtime]
        if "CompatibleArchitectures" in props:
            props["CompatibleArchitectures"] = [architecture]
    return template


def _require_build_tools(env: dict[str, str]) -> Path:
    sam = Path(sys.executable).with_name("sam")
    if not sam.exists():
        pytest.fail(
            f"aws-sam-cli is not installed next to {sys.executable}: run `make venv` "
            "(requirements/dev.txt pins it) and run the tests with .venv/bin/pytest"
        )
    python = shutil.which(RUNTIME, path=env["PATH"])
    check = f"import sys, pip; sys.exit(sys.version_info[:2] != {sys.version_info[:2]!r})"
    if python is None or subprocess.run([python, "-c", check], check=False).returncode != 0:  # noqa: S603
        pytest.fail(
            f"sam build for {RUNTIME} needs a working `{RUNTIME}` with pip on PATH "
            f"(found: {python}); install Python {sys.version_info.major}."
            f"{sys.version_info.minor} with pip, or recreate the venv with `make venv`"
        )
    return sam


def _lambda_runtime_dir(root: Path) -> Path:
    """A folder with only the packages the Lambda runtime provides, linked from this venv."""
    root.mkdir()
    for name in LAMBDA_RUNTIME_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            pytest.fail(f"{name} (part of the Lambda runtime) is missing here: run `make venv`")
        source = Path(spec.origin)
        if spec.submodule_search_locations:  # a package: link its folder
            source = source.parent
        (root / source.name).symlink_to(source, target_is_directory=source.is_dir())
    return root


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    """template.yaml built once for this interpreter and machine, into a temporary folder."""
    work = tmp_path_factory.mktemp("sam-build")
    env = os.environ | {
        # sam looks the build interpreter up on PATH as `python3.X`: use this one (the venv's
        # python also brings the pip that installs the layer's requirements).
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        "SAM_CLI_TELEMETRY": "0",
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", REGION),
        "AWS_EC2_METADATA_DISABLED": "true",
        # the layer's Makefile fetches wheels for this interpreter and machine instead
        "LAYER_PYTHON_VERSION": f"{sys.version_info.major}.{sys.version_info.minor}",
        "LAYER_PLATFORM": f"manylinux2014_{platform.machine()}",
        "PYTHON": sys.executable,
    }
    sam = _require_build_tools(env)
    template = work / "template.json"
    template.write_text(json.dumps(retarget(SOURCE, RUNTIME, _lambda_architecture()), indent=1))
    build_dir = work / "build"
    command = [
        str(sam),
        "build",
        "--template",
        str(template),
        "--base-dir",  # CodeUri/ContentUri stay relative to the project, as in template.yaml
        str(ROOT),
        "--build-dir",
        str(build_dir),
        "--parallel",
    ]
    # cwd outside the project: samconfig.toml's [build] options belong to `make build`.
    result = subprocess.run(  # noqa: S603
        command, cwd=work, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    if result.returncode != 0:
        pytest.fail(
            f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout[-4000:]}\n"
            f"{result.stderr[-4000:]}"
        )
    return Build(
        build_dir=build_dir,
        template=load_yaml(build_dir / "template.yaml"),
        runtime_dir=_lambda_runtime_dir(work / "lambda-runtime"),
        work_dir=work,
    )


def _layer_folders(build: Build, logical_id: str) -> list[Path]:
    """What a function's layers put on sys.path, in order (/opt/python and its site-packages)."""
    globals_ = build.template.get("Globals", {}).get("Function", {})
    props = build.template["Resources"][logical_id]["Properties"]
    folders = []
    # SAM appends a function's own Layers to the Globals' (lists in Globals are additive).
    for layer in [*globals_.get("Layers", []), *props.get("Layers", [])]:
        if not (isinstance(layer, dict) and "Ref" in layer):
            pytest.fail(f"{logical_id}: layer {layer!r} is not built from this template")
        content = (
            build.build_dir / build.template["Resources"][layer["Ref"]]["Properties"]["ContentUri"]
        )
        folders += [content / "python", content / "python" / "lib" / RUNTIME / "site-packages"]
    return [folder for folder in folders if folder.is_dir()]


def _placeholder(value: Any, parameters: dict[str, str]) -> str:
    """A plain string for an environment value: parameter defaults, else a readable stand-in."""
    if not isinstance(value, dict):
        return str(value)
    (function, argument), *_ = value.items()
    if function == "Ref":
        return parameters.get(argument) or PSEUDO_PARAMETERS.get(argument) or f"{argument}-local"
    if function == "Fn::GetAtt":
        parts = argument if isinstance(argument, list) else argument.split(".")
        return "-".join(str(part) for part in parts) + "-local"
    return f"{function.removeprefix('Fn::').lower()}-local"


@cache
def _transformed() -> SamTemplate:
    return load_template()


def _environment(logical_id: str, function_dir: Path, handler: str) -> dict[str, str]:
    """template.yaml's variables for the function plus what Lambda sets; fake credentials."""
    template = _transformed()
    props = template.transformed["Resources"][logical_id]["Properties"]
    declared = props.get("Environment", {}).get("Variables", {})
    parameters = template.parameter_defaults()
    return (
        {
            "PATH": os.defpath,
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": UNREACHABLE_AWS,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{RUNTIME}",
            "AWS_LAMBDA_FUNCTION_NAME": logical_id,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(props.get("MemorySize", 128)),
            "LAMBDA_TASK_ROOT": str(function_dir),
            "_HANDLER": handler,
        }
        | {name: _placeholder(value, parameters) for name, value in declared.items()}
        | {"POWERTOOLS_TRACE_DISABLED": "true"}
    )


def _api_probes(events: dict[str, Any]) -> list[dict[str, Any]]:
    """For each API path of the function, a proxy event with a method the path does not route."""
    routed: dict[str, set[str]] = {}
    for event in events.values():
        if event.get("Type") == "Api":
            routed.setdefault(event["Properties"]["Path"], set()).add(
                event["Properties"]["Method"].upper()
            )
    probes = []
    for resource, methods in sorted(routed.items()):
        method = "PATCH" if "ANY" in methods else next(m for m in PROBE_METHODS if m not in methods)
        path = "/".join(
            "placeholder-id" if segment.startswith("{") else segment
            for segment in resource.split("/")
        )
        path_parameters = {
            segment.strip("{}+"): "placeholder-id"
            for segment in resource.split("/")
            if segment.startswith("{")
        }
        headers = {"Host": "api.example.com", "Content-Type": "application/json"}
        probes.append(
            {
                "resource": resource,
                "path": path,
                "httpMethod": method,
                "headers": headers,
                "multiValueHeaders": {key: [value] for key, value in headers.items()},
                "queryStringParameters": None,
                "multiValueQueryStringParameters": None,
                "pathParameters": path_parameters or None,
                "stageVariables": None,
                "requestContext": {
                    "resourceId": "abc123",
                    "resourcePath": resource,
                    "httpMethod": method,
                    "path": f"/v1{path}",
                    "stage": "v1",
                    "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
                    "accountId": "123456789012",
                    "apiId": "1234567890",
                    "protocol": "HTTP/1.1",
                    "requestTimeEpoch": 1_767_225_600_000,
                    "identity": {"sourceIp": "127.0.0.1", "userAgent": "build-test"},
                    "domainName": "api.example.com",
                },
                "body": "{}",
                "isBase64Encoded": False,
            }
        )
    return probes


def _headers(response: dict[str, Any]) -> dict[str, str]:
    merged = {
        key.lower(): ", ".join(v) for key, v in (response.get("multiValueHeaders") or {}).items()
    }
    return merged | {key.lower(): v for key, v in (response.get("headers") or {}).items()}


def test_template_declares_functions() -> None:
    assert FUNCTIONS, "template.yaml declares no AWS::Serverless::Function"


def test_layers_hold_their_pinned_requirements(build: Build) -> None:
    for logical_id, resource in SOURCE["Resources"].items():
        if resource["Type"] != "AWS::Serverless::LayerVersion":
            continue
        requirements = ROOT / resource["Properties"]["ContentUri"] / "requirements.txt"
        if not requirements.exists():
            continue
        built = (
            build.build_dir / build.template["Resources"][logical_id]["Properties"]["ContentUri"]
        )
        installed = {
            canonicalize_name(dist.metadata["Name"]): dist.version
            for dist in distributions(path=[str(built / "python")])
        }
        pins = (line.split("#", 1)[0].strip() for line in requirements.read_text().splitlines())
        for pin in filter(None, pins):
            requirement = Requirement(pin)
            name = canonicalize_name(requirement.name)
            assert name in installed, f"{logical_id}: {requirement.name} missing from the build"
            assert requirement.specifier.contains(installed[name], prereleases=True), (
                f"{logical_id}: {requirement.name} {installed[name]} built, {pin} pinned"
            )


def test_layers_do_not_shadow_the_runtimes_sdk(build: Build) -> None:
    """/opt/python precedes the runtime's own packages on sys.path: a botocore here would
    replace the runtime's under its boto3."""
    for logical_id, resource in SOURCE["Resources"].items():
        if resource["Type"] != "AWS::Serverless::LayerVersion":
            continue
        built = (
            build.build_dir / build.template["Resources"][logical_id]["Properties"]["ContentUri"]
        )
        shipped = {
            canonicalize_name(d.metadata["Name"])
            for d in distributions(path=[str(built / "python")])
        }
        assert not shipped & {"boto3", "botocore", "s3transfer"}, logical_id


def test_layers_ship_bytecode_for_their_runtime(build: Build) -> None:
    """/opt is read-only in Lambda: a module without a usable .pyc is compiled again by every
    new execution environment. Each module needs its unchecked-hash .pyc for the runtime
    (here retargeted to this interpreter), valid whatever mtimes the zip gives the sources."""
    cache_tag = sys.implementation.cache_tag
    magic = importlib.util.MAGIC_NUMBER
    for logical_id, resource in SOURCE["Resources"].items():
        if resource["Type"] != "AWS::Serverless::LayerVersion":
            continue
        built = (
            build.build_dir / build.template["Resources"][logical_id]["Properties"]["ContentUri"]
        )
        sources = sorted((built / "python").rglob("*.py"))
        assert sources, logical_id
        for source in sources:
            compiled = source.parent / "__pycache__" / f"{source.stem}.{cache_tag}.pyc"
            assert compiled.is_file(), f"{logical_id}: no {compiled.name} for {source}"
            header = compiled.read_bytes()[:8]
            assert header[:4] == magic, f"{compiled}: compiled for another Python"
            assert int.from_bytes(header[4:8], "little") == 0b01, f"{compiled}: not unchecked-hash"


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_built_function_starts_like_lambda(build: Build, logical_id: str) -> None:
    props = build.template["Resources"][logical_id]["Properties"]
    globals_ = build.template.get("Globals", {}).get("Function", {})
    function_dir = build.build_dir / props["CodeUri"]
    handler = props["Handler"]
    probes = _api_probes(props.get("Events", {}))
    timeout = int(props.get("Timeout", globals_.get("Timeout", 3)))
    result_file = build.work_dir / f"{logical_id}.result.json"
    spec_file = build.work_dir / f"{logical_id}.spec.json"
    spec_file.write_text(
        json.dumps(
            {
                "path": [
                    str(function_dir),
                    *map(str, _layer_folders(build, logical_id)),
                    str(build.runtime_dir),
                ],
                "handler": handler,
                "function_name": logical_id,
                "memory": int(props.get("MemorySize", globals_.get("MemorySize", 128))),
                "timeout": timeout,
                "events": probes,
                "result": str(result_file),
            }
        )
    )

    process = subprocess.run(  # noqa: S603
        [sys.executable, "-I", "-S", "-B", str(SHIM), str(spec_file)],
        cwd=function_dir,
        env=_environment(logical_id, function_dir, handler),
        capture_output=True,
        text=True,
        timeout=60 + timeout * max(1, len(probes)),
        check=False,
    )

    logs = f"stdout:\n{process.stdout[-4000:]}\nstderr:\n{process.stderr[-4000:]}"
    if process.returncode != 0:
        pytest.fail(f"{logical_id} (Handler: {handler}) did not start:\n{logs}")
    outcome = json.loads(result_file.read_text())
    assert outcome["foreign_modules"] == [], "imported from outside the build and the runtime"
    assert Path(outcome["module_file"]).is_relative_to(function_dir), outcome["module_file"]
    for probe, response in zip(probes, outcome["responses"], strict=True):
        request = f"{probe['httpMethod']} {probe['path']}"
        assert response["statusCode"] == 405, f"{request}: {response}\n{logs}"
        headers = _headers(response)
        assert headers.get("content-type", "").startswith("application/json"), response
        assert isinstance(json.loads(response["body"])["message"], str), response
        assert probe["httpMethod"] not in headers.get("allow", ""), response
