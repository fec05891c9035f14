"""One cold start in a bare interpreter: import the handler, build its clients, serve an event.

Run by bench/coldstart.py as `python -I -S -B cold_child.py SPEC.json`, never imported:
`-I -S` leaves only the standard library on sys.path, `-B` writes no bytecode (Lambda's
/var/task and /opt are read-only, so what a package does not ship precompiled is compiled
again by every execution environment). The spec puts on sys.path exactly what a Lambda
execution environment has: the function's folder (/var/task), its layers (/opt/python)
and the packages the runtime ships (boto3 and its dependencies).

Before the clock starts, this script has imported what the runtime's own bootstrap has
loaded before it imports a handler (json, importlib, time, os); after it, everything is
timed: the handler module's import, the clients its first real request would build
(`customer_platform.aws` getters, the Powertools SecretsProvider), and the events in the
spec, each one that needs no network (a 405, an ignored record). The spec's `result` file
receives the phases in nanoseconds, the number of modules loaded and what each event
returned.
"""

import importlib
import json
import os
import sys
import time


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

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def main(spec_file: str) -> None:
    with open(spec_file) as file:  # not pathlib: it is not loaded yet, and must not be
        spec = json.load(file)

    started = time.perf_counter_ns()
    sys.path[:0] = spec["path"]
    module_name, _, attribute = spec["handler"].rpartition(".")
    handler = getattr(importlib.import_module(module_name), attribute)
    imported = time.perf_counter_ns()
    if spec["clients"]:
        aws = importlib.import_module("customer_platform.aws")
        for client in spec["clients"]:
            getattr(aws, client)()
        if "secretsmanager" in spec["clients"]:
            importlib.import_module("customer_platform.secrets").provider()
    clients = time.perf_counter_ns()
    responses = [
        handler(event, LambdaContext(spec["function_name"], spec["memory"]))
        for event in spec["events"]
    ]
    served = time.perf_counter_ns()

    with open(spec["result"], "w") as file:
        json.dump(
            {
                "import_ns": imported - started,
                "clients_ns": clients - imported,
                "events_ns": served - clients,
                "total_ns": served - started,
                "modules": len(sys.modules),
                "responses": responses,
            },
            file,
            default=str,
        )


if __name__ == "__main__":
    main(sys.argv[1])
