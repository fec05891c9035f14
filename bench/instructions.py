"""Where a cold start's instructions go: a function's imports counted stage by stage.

Milliseconds of a cold start move with the machine's load; instructions do not: callgrind
counts the same for the same interpreter, inputs and environment, whatever else the machine
does. Each stage runs in a fresh interpreter of the function, as bench/cold_child.py runs it
(its Python with `-I -S -B`, its sys.path, its environment and folder), and imports what the
stage before it imported and one thing more; the difference is that thing's cost. The stages
go from the interpreter alone, through what the boto3-only baseline imports, the libraries
our handler adds one by one, to the handler module itself (our layer and function code), and
end with what the function's first request adds before it connects: the database CA bundle
loaded into a TLS context (which the boto3-only baseline loads too: the same work).

What the cold-start target's miss is made of, in a figure that does not depend on the load.
"""

import re
import shutil
import subprocess
from typing import Any

from local_stack.runtime.functions import LocalFunction

FUNCTION = "CustomersRdsFunction"  # the API function the target is furthest from
STAGES: tuple[tuple[str, str], ...] = (
    ("the interpreter alone", "pass"),
    ("boto3 and pymysql (what the boto3-only baseline imports)", "import boto3, pymysql"),
    (
        "Powertools Logger, Metrics and Tracer, created",
        "from aws_lambda_powertools import Logger, Metrics, Tracer\nLogger(); Metrics(); Tracer()",
    ),
    ("pydantic", "import pydantic"),
    (
        "Powertools' REST resolver with request validation",
        "from aws_lambda_powertools.event_handler import APIGatewayRestResolver\n"
        "APIGatewayRestResolver(enable_validation=True)",
    ),
    ("the handler module: our layer and function code", "import {module}"),
    (
        "the database CA bundle in a TLS context (first request; the baseline loads it too)",
        "from customer_platform.database import tls_context\ntls_context()",
    ),
)
BASELINE_STAGE = 1  # the stage whose total the boto3-only baseline's imports are
HANDLER_STAGE = 5  # ours: everything the handler module imports
COLLECTED = re.compile(r"Collected : (\d+)")


def _count(function: LocalFunction, endpoint_url: str, program: str) -> int:
    """Instructions of one fresh interpreter of `function` running `program`."""
    spec = function.pool.spec
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise RuntimeError("valgrind is not installed: the instruction counts need callgrind")
    path = [p for p in function.environment["PYTHONPATH"].split(":") if p]
    setup = f"import sys\nsys.path[:0] = {path!r}\n"
    process = subprocess.run(  # noqa: S603 - valgrind on the function's interpreter
        [
            valgrind,
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            str(spec.interpreter),
            "-I",
            "-S",
            "-B",
            "-c",
            setup + program,
        ],
        cwd=spec.task_dir,
        env=function.environment | {"AWS_ENDPOINT_URL": endpoint_url},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    match = COLLECTED.search(process.stderr)
    if process.returncode != 0 or match is None:
        raise RuntimeError(f"callgrind exit {process.returncode}: {process.stderr[-1500:]}")
    return int(match.group(1))


def run(function: LocalFunction, endpoint_url: str, stages: int | None = None) -> dict[str, Any]:
    """The cumulative stages of `function`'s cold path (the first `stages` of them), each
    with its instructions and what it added to the stage before."""
    module = function.pool.spec.handler.rpartition(".")[0]
    programs: list[str] = []
    rows: list[dict[str, Any]] = []
    previous = 0
    for label, program in STAGES[:stages]:
        programs.append(program.format(module=module))
        total = _count(function, endpoint_url, "\n".join(programs))
        rows.append({"stage": label, "instructions": total, "added": total - previous})
        previous = total
    result: dict[str, Any] = {
        "function": function.logical_id,
        "tool": "valgrind --tool=callgrind (instructions executed)",
        "stages": rows,
    }
    if len(rows) == len(STAGES):
        baseline = rows[BASELINE_STAGE]["instructions"]
        ours = rows[HANDLER_STAGE]["instructions"]
        result["ours_vs_baseline_imports"] = round(ours / baseline, 2)
        result["over_the_baseline"] = ours - baseline
    return result
