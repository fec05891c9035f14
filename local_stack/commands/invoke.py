"""`make invoke FN=<LogicalId> EVENT=events/<file>.json`: one function, one event.

Like `sam local invoke -e`, without Docker. With `make api` running, the function runs in
that stack's execution environments (through its Lambda API; PORT=... picks the stack when
several run); otherwise a throwaway local stack is deployed for this one call. The
function's log goes to stderr, its result (or Lambda's error payload) to stdout; the exit
status is 1 when the invocation failed.
"""

import argparse
import json
import sys
from pathlib import Path

from local_stack.commands.cli import messages_not_tracebacks
from local_stack.commands.running import NoRunningStack, running_outputs
from local_stack.commands.server import running_stack
from local_stack.paths import ROOT
from local_stack.runtime.functions import FunctionError, Invocation
from local_stack.services.lambda_api import invoke_remote
from local_stack.template.transform import load_yaml


def _functions() -> list[str]:
    resources = load_yaml()["Resources"]
    return sorted(k for k, v in resources.items() if v["Type"] == "AWS::Serverless::Function")


def _show(name: str, outcome: Invocation | FunctionError) -> int:
    print("--- logs " + "-" * 60, file=sys.stderr)
    sys.stderr.write(outcome.logs)
    if isinstance(outcome, FunctionError):
        print(f"--- {name} failed: {outcome.error_type} " + "-" * 30, file=sys.stderr)
        print(json.dumps(outcome.error, indent=2))
        return 1
    print(f"--- {name}: {outcome.duration_ms:.1f} ms " + "-" * 40, file=sys.stderr)
    print(json.dumps(outcome.result, indent=2, default=str))
    return 0


@messages_not_tracebacks("make invoke")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "function", help="logical id in template.yaml, e.g. CustomersDynamoDBFunction"
    )
    parser.add_argument(
        "event", type=Path, help="event file, e.g. events/customers_dynamodb/get.json"
    )
    args = parser.parse_args(argv)
    functions = _functions()
    if args.function not in functions:
        parser.error(
            f"no function {args.function!r} in template.yaml; choose from {', '.join(functions)}"
        )
    event_file = args.event if args.event.is_absolute() else Path.cwd() / args.event
    if not event_file.exists():
        folders = ", ".join(sorted(p.name for p in (ROOT / "events").iterdir() if p.is_dir()))
        parser.error(f"no event file {args.event}; the sample events are in events/ ({folders})")
    try:
        event = json.loads(event_file.read_text())
    except json.JSONDecodeError as error:
        parser.error(f"{args.event} is not JSON: {error}")
    try:
        outputs = running_outputs(required=False)
    except NoRunningStack as error:  # PORT names no running stack, or several run
        print(f"make invoke: {error}", file=sys.stderr)
        return 1
    if outputs is not None:
        print(f"Using the running local stack ({outputs['LambdaEndpointUrl']})", file=sys.stderr)
        try:
            return _show(
                args.function, invoke_remote(outputs["LambdaEndpointUrl"], args.function, event)
            )
        except FunctionError as failed:
            return _show(args.function, failed)
    print("No running `make api`: deploying a throwaway local stack for this call", file=sys.stderr)
    with running_stack(write_outputs=False) as running:
        try:
            return _show(args.function, running.stack.function(args.function).invoke(event))
        except FunctionError as failed:
            return _show(args.function, failed)


if __name__ == "__main__":
    raise SystemExit(main())
