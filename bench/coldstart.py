"""Cold starts: every function of template.yaml in a fresh interpreter, beside a boto3 baseline.

    .venv/bin/python -m bench.coldstart [--runs 5] [--importtime CustomersDynamoDBFunction]

For each function, three kinds of fresh interpreter (bench/cold_child.py, `python -I -S
-B`), interleaved over `--runs` rounds, median reported:

ours          the function as deployed: Tracing Active (Powertools Tracer loads the X-Ray
              SDK and patches the libraries it supports), template.yaml's environment
              variables, import + the clients its first request builds + one event that
              needs no network (a 405 for an API function, a record the consumer ignores)
ours, no X-Ray the same with POWERTOOLS_TRACE_DISABLED=true: what tracing costs
baseline      a minimal handler that imports boto3 and builds the same clients at import

The interpreter is the template's runtime (python3.13, found on PATH as `make build` finds
it), else this one. sys.path is what Lambda gives a function: its folder, the shared layer
built by layers/shared/Makefile for this interpreter and machine (the same recipe `sam
build` runs, so with the same precompiled bytecode), and a copy of this venv's boto3,
botocore, s3transfer, jmespath, dateutil, urllib3 and six, compiled for the interpreter as
the Lambda runtime ships its own.

`--importtime FUNCTION` runs that function once under `python -X importtime` and prints
the heaviest imports of its cold path.
"""

import argparse
import copy
import importlib.util
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.harness import REPO, Series, progress
from local_stack.template import TEMPLATE, load_yaml

CHILD = Path(__file__).with_name("cold_child.py")
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")
UNREACHABLE_AWS = "http://127.0.0.1:9"  # nothing listens: an unexpected AWS call fails at once
REGION = "us-east-1"
PSEUDO_PARAMETERS = {
    "AWS::AccountId": "123456789012",
    "AWS::Region": REGION,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "customer-platform",
}
TRACE_HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
VARIANTS = ("ours", "ours_no_xray", "baseline")


@dataclass
class ColdFunction:
    logical_id: str
    folder: Path  # functions/<name>
    handler: str
    memory: int
    environment: dict[str, str]
    clients: list[str]
    events: list[dict[str, Any]]
    event_kind: str
    series: dict[str, Series] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    modules: dict[str, int] = field(default_factory=dict)

    def p50_ms(self, variant: str) -> float | None:
        series = self.series.get(variant)
        return series.p50_ms() if series is not None and len(series) else None


@dataclass
class ColdResults:
    interpreter: str
    python_version: str
    runs: int
    functions: list[ColdFunction]
    error: str | None = None


# -- what each function needs ------------------------------------------------------------


def _placeholder(value: Any, parameters: dict[str, str]) -> str:
    """A plain string for an environment value: parameter defaults, else a stand-in."""
    if not isinstance(value, dict):
        return str(value)
    (function, argument), *_ = value.items()
    if function == "Ref":
        return parameters.get(argument) or PSEUDO_PARAMETERS.get(argument) or f"{argument}-local"
    if function == "Fn::GetAtt":
        parts = argument if isinstance(argument, list) else str(argument).split(".")
        return "-".join(str(part) for part in parts) + "-local"
    return f"{function.removeprefix('Fn::').lower()}-local"


def clients_of(app_source: str) -> list[str]:
    """The boto3 clients a function's first requests build: the `customer_platform.aws`
    getters its handler module calls, and Secrets Manager when it reads a secret."""
    clients = sorted(set(re.findall(r"\baws\.(\w+)\(", app_source)))
    if re.search(r"secret_credentials|secret_keyed_codec|secrets\.get_secret", app_source):
        clients = sorted({*clients, "secretsmanager"})
    return clients


def _events_file(name: str) -> Any:
    return json.loads((REPO / "events" / name).read_text())


def _api_probe(resource: str, methods: set[str]) -> dict[str, Any]:
    """A proxy event for a method the path does not route: the resolver answers 405 itself."""
    method = next(m for m in ("PATCH", "PUT", "DELETE", "POST", "GET") if m not in methods)
    path = "/".join("placeholder-id" if s.startswith("{") else s for s in resource.split("/"))
    parameters = {s.strip("{}+"): "placeholder-id" for s in resource.split("/") if "{" in s}
    headers = {"Host": "api.example.com", "Content-Type": "application/json"}
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {key: [value] for key, value in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": parameters or None,
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
            "identity": {"sourceIp": "127.0.0.1", "userAgent": "bench"},
            "domainName": "api.example.com",
        },
        "body": "{}",
        "isBase64Encoded": False,
    }


def first_event(logical_id: str, events: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    """One event the function serves without the network, and what it is."""
    routes: dict[str, set[str]] = {}
    for event in events.values():
        if event.get("Type") == "Api":
            props = event["Properties"]
            routes.setdefault(props["Path"], set()).add(props["Method"].upper())
    if routes:
        resource = sorted(routes)[0]
        probe = _api_probe(resource, routes[resource])
        return [probe], f"{probe['httpMethod']} {resource}, answered 405 by the resolver"
    if logical_id == "CustomerEventsPublisherFunction":
        batch = _events_file("customer_events_publisher/stream-batch.json")
        guards = [
            r for r in batch["Records"] if r["dynamodb"]["Keys"]["pk"]["S"].startswith("EMAIL#")
        ]
        return [{"Records": guards[:1]}], "a stream record of an email guard (skipped)"
    if logical_id == "DocumentUploadedFunction":
        event = copy.deepcopy(_events_file("document_uploaded/object-created-orphan.json"))
        event["Records"][0]["s3"]["bucket"]["name"] = "another-bucket"
        return [event], "an S3 notification from another bucket (ignored)"
    if logical_id == "WelcomeEmailFunction":
        batch = copy.deepcopy(_events_file("welcome_email/sqs-mixed-batch.json"))
        record = batch["Records"][0]
        body = json.loads(record["body"])
        body["eventType"] = "CustomerUpdated"
        record["body"] = json.dumps(body)
        return [{"Records": [record]}], "an SQS record that is not a creation (ignored)"
    return [], "none (every event needs the network): import and clients only"


def functions_of_template() -> list[ColdFunction]:
    source = load_yaml(TEMPLATE)
    globals_ = source.get("Globals", {}).get("Function", {})
    parameters = {
        name: str(spec["Default"])
        for name, spec in source.get("Parameters", {}).items()
        if "Default" in spec
    }
    functions = []
    for logical_id, resource in sorted(source["Resources"].items()):
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        variables = dict(globals_.get("Environment", {}).get("Variables", {}))
        variables |= props.get("Environment", {}).get("Variables", {})
        folder = REPO / props["CodeUri"]
        module = props["Handler"].rpartition(".")[0]
        events, kind = first_event(logical_id, props.get("Events", {}))
        functions.append(
            ColdFunction(
                logical_id=logical_id,
                folder=folder,
                handler=props["Handler"],
                memory=int(props.get("MemorySize", globals_.get("MemorySize", 128))),
                environment={k: _placeholder(v, parameters) for k, v in variables.items()},
                clients=clients_of((folder / f"{module.replace('.', '/')}.py").read_text()),
                events=events,
                event_kind=kind,
            )
        )
    return functions


# -- the environment ----------------------------------------------------------------------


def find_interpreter() -> tuple[str, str]:
    """The template's runtime (python3.13) when on PATH, else this interpreter."""
    runtime = load_yaml(TEMPLATE).get("Globals", {}).get("Function", {}).get("Runtime", "")
    candidate = shutil.which(str(runtime)) if str(runtime).startswith("python") else None
    for interpreter in filter(None, (candidate, sys.executable)):
        probe = subprocess.run(  # noqa: S603 - an interpreter found on PATH, fixed code
            [interpreter, "-I", "-c", "import platform; print(platform.python_version())"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0:
            return interpreter, probe.stdout.strip()
    raise RuntimeError("no Python interpreter to run cold starts with")


def build_layer(work: Path, interpreter: str, version: str) -> Path:
    """layers/shared/Makefile's build-SharedLayer, for `interpreter` on this machine."""
    major_minor = ".".join(version.split(".")[:2])
    artifacts = work / "layer"
    command = [
        os.environ.get("MAKE", "make"),
        "--no-print-directory",
        "-C",
        str(REPO / "layers" / "shared"),
        "build-SharedLayer",
        f"ARTIFACTS_DIR={artifacts}",
        f"LAYER_PYTHON_VERSION={major_minor}",
        f"LAYER_PLATFORM=manylinux2014_{platform.machine()}",
        f"PYTHON={sys.executable}",  # pip only downloads and unpacks wheels
        f"COMPILE_PYTHON={interpreter}",
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise RuntimeError(
            f"building the layer failed ({' '.join(command)}):\n{result.stdout[-2000:]}"
            f"\n{result.stderr[-2000:]}"
        )
    return artifacts / "python"


def build_runtime(work: Path, interpreter: str) -> Path:
    """A copy of the SDK the Lambda runtime ships (/var/runtime), compiled for `interpreter`
    as the runtime's own copy is; a copy, so the venv gets no foreign bytecode."""
    runtime = work / "runtime"
    runtime.mkdir()
    for name in RUNTIME_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise RuntimeError(f"{name} (part of the Lambda runtime) is missing: run make venv")
        source = Path(spec.origin)
        if spec.submodule_search_locations:
            shutil.copytree(
                source.parent,
                runtime / source.parent.name,
                ignore=shutil.ignore_patterns("__pycache__"),
            )
        else:
            shutil.copy2(source, runtime / source.name)
    subprocess.run(  # noqa: S603
        [interpreter, "-m", "compileall", "-q", "-j", "0", str(runtime)],
        capture_output=True,
        check=True,
    )
    return runtime


def baseline_module(work: Path, function: ColdFunction) -> Path:
    folder = work / "baseline" / function.logical_id
    folder.mkdir(parents=True)
    clients = "".join(f'{name} = boto3.client("{name}")\n' for name in function.clients)
    (folder / "app.py").write_text(
        f'"""boto3 and the clients {function.logical_id} uses, and nothing else."""\n\n'
        f"import boto3\n\n{clients}\n\n"
        "def lambda_handler(event, context):\n"
        '    return {"statusCode": 200}\n'
    )
    return folder


def child_environment(
    function: ColdFunction, task_root: Path, version: str, xray: bool
) -> dict[str, str]:
    runtime = "python" + ".".join(version.split(".")[:2])
    environment = {
        "PATH": os.defpath,
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_SESSION_TOKEN": "bench",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": UNREACHABLE_AWS,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime}",
        "AWS_LAMBDA_FUNCTION_NAME": function.logical_id,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory),
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "LAMBDA_TASK_ROOT": str(task_root),
        "_HANDLER": function.handler,
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",  # UDP: sending needs no listener
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "_X_AMZN_TRACE_ID": TRACE_HEADER,
    }
    environment |= function.environment
    if not xray:
        environment["POWERTOOLS_TRACE_DISABLED"] = "true"
    return environment


@dataclass
class Layout:
    work: Path
    interpreter: str
    version: str
    layer: Path
    runtime: Path
    task_roots: dict[str, Path]  # logical id -> copy of the function's folder
    baselines: dict[str, Path]


def prepare(work: Path, interpreter: str, version: str, functions: list[ColdFunction]) -> Layout:
    layer = build_layer(work, interpreter, version)
    runtime = build_runtime(work, interpreter)
    task_roots = {}
    for function in functions:
        copy_to = work / "task" / function.logical_id
        shutil.copytree(function.folder, copy_to, ignore=shutil.ignore_patterns("__pycache__"))
        task_roots[function.logical_id] = copy_to
    baselines = {f.logical_id: baseline_module(work, f) for f in functions}
    return Layout(work, interpreter, version, layer, runtime, task_roots, baselines)


def run_child(
    layout: Layout, function: ColdFunction, variant: str, extra_flags: tuple[str, ...] = ()
) -> tuple[dict[str, Any], str]:
    """One fresh interpreter; its result and its stderr."""
    task_root = (
        layout.baselines[function.logical_id]
        if variant == "baseline"
        else layout.task_roots[function.logical_id]
    )
    path = [str(task_root)]
    if variant != "baseline":
        path.append(str(layout.layer))
    path.append(str(layout.runtime))
    result_file = layout.work / "result.json"
    spec_file = layout.work / "spec.json"
    spec_file.write_text(
        json.dumps(
            {
                "path": path,
                "handler": "app.lambda_handler" if variant == "baseline" else function.handler,
                "clients": [] if variant == "baseline" else function.clients,
                "events": function.events,
                "function_name": function.logical_id,
                "memory": function.memory,
                "result": str(result_file),
            }
        )
    )
    result_file.unlink(missing_ok=True)
    process = subprocess.run(  # noqa: S603 - the runtime interpreter, our own script
        [layout.interpreter, "-I", "-S", "-B", *extra_flags, str(CHILD), str(spec_file)],
        cwd=task_root,
        env=child_environment(function, task_root, layout.version, xray=variant == "ours"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if process.returncode != 0:
        raise RuntimeError(f"exit {process.returncode}: {process.stderr[-1500:]}")
    outcome: dict[str, Any] = json.loads(result_file.read_text())
    return outcome, process.stderr


def _check(function: ColdFunction, outcome: dict[str, Any]) -> None:
    for response in outcome["responses"]:
        if isinstance(response, dict) and response.get("statusCode", 405) != 405:
            raise RuntimeError(f"unexpected response {response!r:.300}")
        if isinstance(response, dict) and response.get("batchItemFailures"):
            raise RuntimeError(f"a record failed: {response!r:.300}")


def run(runs: int, work_root: Path) -> ColdResults:
    interpreter, version = find_interpreter()
    functions = functions_of_template()
    results = ColdResults(interpreter, version, runs, functions)
    work_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cold-", dir=work_root) as directory:
        progress(f"cold start: building the layer and runtime for Python {version}")
        try:
            layout = prepare(Path(directory), interpreter, version, functions)
        except (RuntimeError, OSError, subprocess.SubprocessError) as error:
            results.error = str(error)
            return results
        for function in functions:
            for variant in VARIANTS:
                function.series[variant] = Series(
                    f"cold.{function.logical_id}.{variant}",
                    f"cold start of {function.logical_id} ({variant}): import, clients, "
                    f"first event in a fresh python{version}",
                )
        for number in range(runs):
            progress(f"cold start round {number + 1} of {runs} ({len(functions) * 3} interpreters)")
            for function in functions:
                for variant in VARIANTS:
                    if function.errors:
                        continue
                    try:
                        outcome, _ = run_child(layout, function, variant)
                        if variant != "baseline":
                            _check(function, outcome)
                    except (RuntimeError, subprocess.SubprocessError, ValueError) as error:
                        function.errors.append(f"{variant}: {error}")
                        continue
                    function.series[variant].add_ns(outcome["total_ns"])
                    function.modules[variant] = outcome["modules"]
    return results


# -- -X importtime ------------------------------------------------------------------------


def importtime(logical_id: str, top: int) -> int:
    interpreter, version = find_interpreter()
    functions = {f.logical_id: f for f in functions_of_template()}
    if logical_id not in functions:
        print(f"no function {logical_id}; one of: {', '.join(functions)}", file=sys.stderr)
        return 2
    function = functions[logical_id]
    (REPO / ".local").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="importtime-", dir=REPO / ".local") as directory:
        layout = prepare(Path(directory), interpreter, version, [function])
        outcome, stderr = run_child(layout, function, "ours", ("-X", "importtime"))
    rows = []
    for line in stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if match:
            own, cumulative, indent, name = match.groups()
            rows.append((int(cumulative), int(own), len(indent) // 2, name))
    print(
        f"{logical_id}: cold start {outcome['total_ns'] / 1e6:.1f} ms on Python {version} "
        f"(import {outcome['import_ns'] / 1e6:.1f}, clients {outcome['clients_ns'] / 1e6:.1f}, "
        f"first event {outcome['events_ns'] / 1e6:.1f}); {outcome['modules']} modules"
    )
    print(f"heaviest {top} imports (cumulative ms, self ms, depth):")
    for cumulative, own, depth, name in sorted(rows, reverse=True)[:top]:
        print(f"  {cumulative / 1000:8.1f} {own / 1000:7.1f}  {depth:2d}  {name}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--importtime", metavar="FUNCTION")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    if args.importtime:
        return importtime(args.importtime, args.top)
    results = run(args.runs, REPO / ".local" / "bench")
    if results.error:
        print(results.error, file=sys.stderr)
        return 1
    for function in results.functions:
        cells = "  ".join(
            f"{variant} {function.p50_ms(variant) or float('nan'):7.1f}" for variant in VARIANTS
        )
        print(f"{function.logical_id:34} {cells}  {'; '.join(function.errors)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
