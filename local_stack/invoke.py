"""`make invoke FN=<LogicalId> EVENT=events/<file>.json`: one function, one event.

Like `sam local invoke -e`, without Docker. When `make api` is running, the function runs
against that stack's resources (its moto endpoint and the environment it resolved);
otherwise a throwaway local stack is started for this one call.
"""

import argparse
import json
import os
import sys
import urllib.request
from pathlib import Path

from local_stack.functions import LocalFunction
from local_stack.server import FAKE_CREDENTIALS, FUNCTIONS_FILE, OUTPUTS_FILE, running_stack
from local_stack.template import load_template


def running_endpoint() -> str | None:
    if not (OUTPUTS_FILE.exists() and FUNCTIONS_FILE.exists()):
        return None
    endpoint: str = json.loads(OUTPUTS_FILE.read_text())["AwsEndpointUrl"]
    try:
        urllib.request.urlopen(endpoint + "/moto-api/", timeout=1).close()  # noqa: S310
    except OSError:
        return None
    return endpoint


def running_function(logical_id: str, endpoint: str) -> LocalFunction:
    """A function of the running `make api` stack, with the environment that stack resolved,
    aimed at its moto endpoint."""
    os.environ.update(FAKE_CREDENTIALS)
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    template = load_template()
    spec = json.loads(FUNCTIONS_FILE.read_text())[logical_id]
    source = template.functions[logical_id]
    return LocalFunction(
        source,
        layer_paths=[template.layers[layer] for layer in source.layer_ids],
        environment=spec["environment"],
        name=spec["name"],
    )


def _print(function: LocalFunction, event: object) -> int:
    invocation = function.invoke(event)
    print("--- logs " + "-" * 60, file=sys.stderr)
    sys.stderr.write(invocation.logs)
    print(
        f"--- {function.source.logical_id}: {invocation.duration_ms:.1f} ms " + "-" * 40,
        file=sys.stderr,
    )
    print(json.dumps(invocation.result, indent=2, default=str))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "function", help="logical id in template.yaml, e.g. CustomersDynamoDBFunction"
    )
    parser.add_argument(
        "event", type=Path, help="event file, e.g. events/customers_dynamodb/get.json"
    )
    args = parser.parse_args(argv)
    event = json.loads(args.event.read_text())
    template = load_template()
    if args.function not in template.functions:
        parser.error(f"no function {args.function!r}; choose from {', '.join(template.functions)}")
    endpoint = running_endpoint()
    if endpoint is not None:
        print(f"Using the running local stack at {endpoint}", file=sys.stderr)
        return _print(running_function(args.function, endpoint), event)
    print("No running `make api`; starting a throwaway local stack", file=sys.stderr)
    with running_stack(write_outputs=False) as running:
        return _print(running.stack.function(args.function), event)


if __name__ == "__main__":
    raise SystemExit(main())
