"""`make aws ARGS="dynamodb list-tables"`: the AWS CLI against the running local stack.

Runs `aws` as the account's administrator (the local administrator's credentials, which only
this machine's moto accepts) with an explicit `--endpoint-url` for the service called: the
local Lambda API (LambdaEndpointUrl) for `lambda`, the local AWS endpoint for every other
service. Explicit, because the AWS CLI v1 does not honour `AWS_ENDPOINT_URL` for every
service: for `sqs` it picks the legacy `https://queue.amazonaws.com/` itself
(awscli/customizations/overridesslcommonname.py); v2 and the SDKs do honour it. With
PORT=..., the stack on that port (local_stack.commands.running).

Without arguments (or without the AWS CLI installed) it prints the variables to export
instead, for boto3, the AWS CLI v2 or any SDK: `AWS_ENDPOINT_URL`, and
`AWS_ENDPOINT_URL_LAMBDA` for the Lambda API.
"""

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping

from local_stack.commands.running import NoRunningStack, require_running_outputs
from local_stack.services.endpoint import ADMIN_CREDENTIALS, REGION

# The AWS CLI's global options that take a value (v1 and v2: `aws help`, "GLOBAL OPTIONS").
_VALUED_OPTIONS = frozenset(
    {
        "--endpoint-url",
        "--output",
        "--query",
        "--profile",
        "--region",
        "--color",
        "--ca-bundle",
        "--cli-read-timeout",
        "--cli-connect-timeout",
        "--cli-binary-format",
    }
)


def variables(outputs: Mapping[str, str]) -> dict[str, str]:
    """What the CLI and the SDKs need to reach the local stack as its administrator."""
    return ADMIN_CREDENTIALS | {
        "AWS_ENDPOINT_URL": outputs["AwsEndpointUrl"],
        "AWS_ENDPOINT_URL_LAMBDA": outputs["LambdaEndpointUrl"],
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }


def service_of(args: list[str]) -> str | None:
    """The service an `aws` command line calls (`sqs` in `aws --output json sqs ...`)."""
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in _VALUED_OPTIONS:
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def command_line(cli: str, args: list[str], outputs: Mapping[str, str]) -> list[str]:
    """`aws ARGS` with the local endpoint of the service called, unless ARGS name one."""
    service = service_of(args)
    if service is None or any(a.split("=", 1)[0] == "--endpoint-url" for a in args):
        return [cli, *args]
    key = "LambdaEndpointUrl" if service == "lambda" else "AwsEndpointUrl"
    return [cli, "--endpoint-url", outputs[key], *args]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        outputs = require_running_outputs()
    except NoRunningStack as error:
        print(f"make aws: {error}", file=sys.stderr)
        return 1
    env = variables(outputs)
    cli = shutil.which("aws")
    if cli is None or not args:
        if cli is None:
            print(
                "The AWS CLI is not installed (https://aws.amazon.com/cli/). With these",
                file=sys.stderr,
            )
            print("variables exported, it and any SDK reach the local stack:", file=sys.stderr)
        for name, value in env.items():
            print(f"export {name}={shlex.quote(value)}")
        return 0 if not args else 1
    inherited = {
        k: v for k, v in os.environ.items() if k not in ("AWS_PROFILE", "AWS_SESSION_TOKEN")
    }
    return subprocess.run(  # noqa: S603 - the user's own AWS CLI and arguments
        command_line(cli, args, outputs), env=inherited | env, check=False
    ).returncode


if __name__ == "__main__":
    raise SystemExit(main())
