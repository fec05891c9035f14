"""One cold start in a bare interpreter: import the handler and serve a first real request.

Run by bench/coldstart.py as `python -I -S -B cold_child.py SPEC.json`, never imported:
`-I -S` leaves only the standard library on sys.path, `-B` writes no bytecode (Lambda's
/var/task and /opt are read-only). The spec puts on sys.path exactly what the function's
execution environment has under the local runtime: its built folder, its layer and the
runtime folder (awslambdaric, boto3); the environment variables are the function's own,
so the first request reads its secret, connects to MySQL and calls the local AWS endpoint
as the function does.

Timed from before the handler's import to after the first event: import, the clients and
connections that request builds, and the request itself. With `record` in the spec (an
untimed discovery run), the AWS calls (service, operation, parameters) and SQL statements
the request made are written out, for the boto3-only baseline to make the same ones.
"""

import importlib
import json
import os
import sys
import time
from typing import Any


class LambdaContext:
    """The attributes of the runtime's context object that handlers and Powertools read."""

    def __init__(self, function_name: str, memory: int) -> None:
        region = os.environ.get("AWS_REGION", "us-east-1")
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:123456789012:function:{function_name}"
        self.memory_limit_in_mb = memory
        self.aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "2026/01/01/[$LATEST]0123456789abcdef"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + 30

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _record(calls: list, statements: list) -> None:  # type: ignore[type-arg]
    """Note every AWS call and SQL statement (discovery run only: this imports botocore
    and pymysql before the clock would start, so it is never timed)."""
    from botocore import handlers  # noqa: PLC0415

    def before_call(params: dict, model: Any, **_: object) -> None:  # type: ignore[type-arg]
        calls.append([model.service_model.service_name, model.name, params])

    handlers.BUILTIN_HANDLERS.append(("before-parameter-build", before_call))
    try:
        from pymysql import cursors  # noqa: PLC0415
    except ImportError:
        return
    execute, executemany = cursors.Cursor.execute, cursors.Cursor.executemany

    def recorded_execute(self: object, query: str, args: object = None) -> object:
        statements.append(["execute", query, args])
        return execute(self, query, args)

    def recorded_executemany(self: object, query: str, args: object) -> object:
        statements.append(["executemany", query, args])
        return executemany(self, query, args)

    cursors.Cursor.execute = recorded_execute
    cursors.Cursor.executemany = recorded_executemany


def main(spec_file: str) -> None:
    with open(spec_file) as file:  # not pathlib: it is not loaded yet, and must not be
        spec = json.load(file)
    sys.path[:0] = spec["path"]
    calls: list = []  # type: ignore[type-arg]
    statements: list = []  # type: ignore[type-arg]
    if spec.get("record"):
        _record(calls, statements)

    started = time.perf_counter_ns()
    module_name, _, attribute = spec["handler"].rpartition(".")
    handler = getattr(importlib.import_module(module_name), attribute)
    imported = time.perf_counter_ns()
    response = handler(spec["event"], LambdaContext(spec["function_name"], spec["memory"]))
    served = time.perf_counter_ns()

    with open(spec["result"], "w") as file:
        json.dump(
            {
                "import_ns": imported - started,
                "first_request_ns": served - imported,
                "total_ns": served - started,
                "modules": len(sys.modules),
                "response": response,
                "calls": calls,
                "statements": statements,
            },
            file,
            default=str,
        )


if __name__ == "__main__":
    main(sys.argv[1])
