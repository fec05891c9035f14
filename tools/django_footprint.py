"""What the Django variant weighs, measured on this machine: its layer and its cold import.

    .venv/bin/python -m tools.django_footprint     # writes docs/customers-django.json

Indications for docs/customers-django.md, not benchmarks: `make bench` measures the
official figures (a cold start with its first request, warm latency, the arm64 build's
package sizes) in one run with every other function. This needs no stack:

* each layer as the local runtime builds it (local_stack/runtime/build.py, the layer's own
  Makefile, for this machine's platform), zipped in memory as `sam package` zips it and
  summed unzipped (bench.sizes.measure). Django's layer is pure Python, so its arm64 build
  has the same size; the shared layer's compiled wheels differ slightly by architecture;
* the import of each customers API's handler module (`import app`: the cold start's init
  phase without its first request) in fresh `python3.13 -I -S -B` processes whose sys.path
  is the function's folder, its layers and the runtime folder, with the function's
  template variables (placeholders: nothing is fetched at import). The median and the
  fastest of RUNS, the two functions taking turns so that the machine's load weighs on
  both alike.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.sizes import measure
from local_stack.paths import ROOT
from local_stack.runtime.build import Builder, find_interpreter
from local_stack.template.transform import load_template

OUTPUT = ROOT / "docs" / "customers-django.json"
LAYERS = ("SharedLayer", "DjangoLayer")
FUNCTIONS = ("CustomersRdsFunction", "CustomersDjangoFunction")
RUNS = 15
MB = 1_000_000

_IMPORT = """
import sys, time
sys.path[:0] = {path!r}
started = time.perf_counter()
import app
print(time.perf_counter() - started)
"""


def _variables(logical_id: str) -> dict[str, str]:
    """The function's template variables: parameters at their defaults, placeholders for
    the names of resources (nothing is called at import)."""
    template = load_template()
    props = template.transformed["Resources"][logical_id]["Properties"]
    declared = props.get("Environment", {}).get("Variables", {})
    defaults = template.parameter_defaults()

    def value(name: str, given: Any) -> str:
        if isinstance(given, str):
            return given
        if isinstance(given, dict) and given.get("Ref") in defaults:
            return defaults[given["Ref"]]
        return f"{name.lower()}-placeholder"

    return {name: value(name, given) for name, given in declared.items()}


def import_command(builder: Builder, logical_id: str) -> tuple[list[str], dict[str, str]]:
    """How to import the function's handler in a fresh process, and its environment."""
    template = load_template()
    source = template.functions[logical_id]
    layer_dirs = [
        builder.layer(layer, template.layers[layer], "makefile") for layer in source.layer_ids
    ]
    path = [
        str(builder.function(logical_id, source.code_dir)),
        *(str(layer / "python") for layer in layer_dirs),
        str(builder.runtime()),
    ]
    environment = {
        "PATH": os.defpath,
        "LANG": "C.UTF-8",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": logical_id,
        "POWERTOOLS_SERVICE_NAME": "customer-platform",
        "POWERTOOLS_TRACE_DISABLED": "true",
    } | _variables(logical_id)
    command = [str(builder.interpreter.path), "-I", "-S", "-B", "-c", _IMPORT.format(path=path)]
    return command, environment


def import_seconds(command: list[str], environment: dict[str, str]) -> float:
    done = subprocess.run(  # noqa: S603 - the runtime's interpreter, fixed code
        command, env=environment, capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"importing app failed:\n{done.stderr[-2000:]}")
    return float(done.stdout.strip().splitlines()[-1])


def measure_all(runs: int) -> dict[str, Any]:
    template = load_template()
    builder = Builder(find_interpreter("python3.13"))
    layers = {}
    for logical_id in LAYERS:
        folder = builder.layer(logical_id, template.layers[logical_id], "makefile")
        zipped, unzipped = measure(folder)
        layers[logical_id] = {
            "zipped_mb": round(zipped / MB, 1),
            "unzipped_mb": round(unzipped / MB, 1),
        }
    commands = {logical_id: import_command(builder, logical_id) for logical_id in FUNCTIONS}
    timings: dict[str, list[float]] = {logical_id: [] for logical_id in FUNCTIONS}
    for _ in range(runs):  # interleaved, so that the machine's load weighs on both alike
        for logical_id, (command, environment) in commands.items():
            timings[logical_id].append(import_seconds(command, environment))
    imports = {
        logical_id: {
            "median_ms": round(statistics.median(seconds) * 1000),
            "min_ms": round(min(seconds) * 1000),
            "runs": runs,
        }
        for logical_id, seconds in timings.items()
    }
    return {
        "measured": time.strftime("%Y-%m-%d", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f}",
        "python": builder.interpreter.version,
        "layers": layers,
        "imports": imports,
    }


def quoted(figures: dict[str, Any]) -> list[str]:
    """The sentences docs/customers-django.md quotes, word for word (a test compares)."""
    shared, django = figures["layers"]["SharedLayer"], figures["layers"]["DjangoLayer"]
    rds, drf = (
        figures["imports"]["CustomersRdsFunction"],
        figures["imports"]["CustomersDjangoFunction"],
    )
    return [
        f"DjangoLayer: {django['unzipped_mb']} MB unzipped, {django['zipped_mb']} MB zipped "
        f"(the shared layer: {shared['unzipped_mb']} MB, {shared['zipped_mb']} MB)",
        f"importing the handler: {drf['median_ms']} ms for customers-django, "
        f"{rds['median_ms']} ms for customers-rds (medians of {drf['runs']} fresh "
        f"python{figures['python']} processes; the fastest: {drf['min_ms']} ms and "
        f"{rds['min_ms']} ms; {figures['machine']})",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # for the SAM transform; no call
    figures = measure_all(args.runs)
    args.output.write_text(json.dumps(figures, indent=2) + "\n")
    print("\n".join(quoted(figures)))
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
