"""Start one built function the way the Lambda Python runtime does, in a bare interpreter.

Run by tests/build/test_sam_build.py as `python -I -S -B lambda_runtime_shim.py SPEC.json`:
`-I -S` leaves only the standard library on sys.path (no site-packages, no PYTHON*
variables, not even this file's folder). The spec then puts on sys.path exactly what a
Lambda execution environment has: the function's folder (/var/task), its layers
(/opt/python) and the packages the runtime itself ships (boto3 and its dependencies).

The spec (JSON) holds `path` (those folders, in order), `handler` (template.yaml's
`Handler`, e.g. `app.lambda_handler`), `function_name`, `memory`, `timeout`, `events` (API
Gateway events to invoke the handler with, in order, like warm invocations) and `result`
(where to write the outcome as JSON). Any failure to import or call the handler raises, so
the process exits non-zero with the traceback on stderr.
"""

import importlib
import inspect
import json
import os
import sys
import sysconfig
import time
import uuid
from pathlib import Path
from typing import Any


class LambdaContext:
    """The attributes of the runtime's context object that handlers and Powertools read."""

    def __init__(self, function_name: str, memory: int, timeout: int) -> None:
        region = os.environ.get("AWS_REGION", "us-east-1")
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:123456789012:function:{function_name}"
        self.memory_limit_in_mb = memory
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "2026/01/01/[$LATEST]0123456789abcdef"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _foreign_modules(allowed: list[str]) -> list[str]:
    """Modules loaded from anywhere but the allowed folders and the standard library."""
    paths = sysconfig.get_paths()
    stdlib = [os.path.abspath(paths[key]) for key in ("stdlib", "platstdlib")]
    foreign = []
    for name, module in sorted(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if not file or os.path.abspath(file) == os.path.abspath(__file__):
            continue  # built-in, namespace package, or this script
        file = os.path.abspath(file)
        if any(file.startswith(root + os.sep) for root in allowed):
            continue
        in_stdlib = any(file.startswith(root + os.sep) for root in stdlib)
        if in_stdlib and f"{os.sep}site-packages{os.sep}" not in file:
            continue
        foreign.append(f"{name} ({file})")
    return foreign


def main(spec_file: str) -> None:
    spec: dict[str, Any] = json.loads(Path(spec_file).read_text())
    allowed = [os.path.abspath(folder) for folder in spec["path"]]
    sys.path[:0] = allowed

    # What the runtime's bootstrap does with the Handler setting.
    module_name, _, function_name = spec["handler"].rpartition(".")
    module = importlib.import_module(module_name.replace("/", "."))
    handler = getattr(module, function_name)
    if not callable(handler):
        raise TypeError(f"{spec['handler']} is a {type(handler).__name__}, not a function")
    inspect.signature(handler).bind({}, None)  # the runtime calls handler(event, context)

    responses = []
    for event in spec["events"]:
        context = LambdaContext(spec["function_name"], spec["memory"], spec["timeout"])
        responses.append(handler(event, context))

    Path(spec["result"]).write_text(
        json.dumps(
            {
                "module_file": getattr(module, "__file__", None),
                "responses": responses,
                "foreign_modules": _foreign_modules(allowed),
            },
            default=str,
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
