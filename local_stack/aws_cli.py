"""`make aws ARGS="dynamodb list-tables"`: the AWS CLI against the running local stack.

Sets what the CLI needs to reach the local endpoint as the account's administrator (the
endpoint, a region and the local administrator's credentials, which only this machine's
moto accepts) and runs `aws`. Without the AWS CLI installed, prints the variables to
export instead, for the CLI or any SDK.
"""

import os
import shlex
import shutil
import subprocess
import sys

from local_stack.endpoint import ADMIN_CREDENTIALS, REGION
from local_stack.running import NoRunningStack, require_running_outputs


def variables(endpoint_url: str) -> dict[str, str]:
    return ADMIN_CREDENTIALS | {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        outputs = require_running_outputs()
    except NoRunningStack as error:
        print(f"make aws: {error}", file=sys.stderr)
        return 1
    env = variables(outputs["AwsEndpointUrl"])
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
    env = {
        k: v for k, v in os.environ.items() if k not in ("AWS_PROFILE", "AWS_SESSION_TOKEN")
    } | env
    return subprocess.run([cli, *args], env=env, check=False).returncode  # noqa: S603


if __name__ == "__main__":
    raise SystemExit(main())
