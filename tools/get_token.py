"""`make token`: the request headers a sandbox user needs to call the deployed API.

    API_USER=you@example.com make token            # asks for the password (or API_PASSWORD)
    mkdir -p .local && make -s token > .local/headers && curl -H @.local/headers "$API_URL/..."
    .venv/bin/python -m tools.get_token --stack customer-platform --region us-east-1

Reads the stack's outputs (CloudFormation DescribeStacks), then, by its ApiAuthMode:

* COGNITO (the default): signs in to the stack's user pool with USER_PASSWORD_AUTH (the
  password goes to Cognito over TLS, never to the API), answers the first-sign-in
  "choose a new password" and TOTP challenges when Cognito asks, and prints
  `Authorization: Bearer <ID token>` (API Gateway's user pool authorizer checks ID tokens).
* IAM: no token; requests are signed with SigV4 (`curl --aws-sigv4`, printed as a hint).
* NONE: no token; the API key is all the API asks for.

Every mode prints `x-api-key: <key>`: the key identifies the client for the usage plan
(throttling and quota); it is not authentication. Headers go to stdout, one per line,
and nothing else does; hints go to stderr. Create a user first with `make user`.

Against the local stack: with AWS_ENDPOINT_URL pointing at a running `make api` (`eval
"$(make -s aws)"`), both commands use its user pool and its `.local/outputs.json` (moto's
CloudFormation does not know the resources the local stack creates itself, the user pool
among them); the token is checked by `make api ApiAuth=COGNITO`, and no API key is printed
(the local API checks none). With AWS_ENDPOINT_URL set to anything else, they say so at
once instead of failing halfway.
"""

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

DEFAULT_STACK = "customer-platform"
NEEDED = ("ApiAuthMode", "ApiKeyId", "UserPoolId", "UserPoolClientId")  # template.yaml Outputs


class SignInError(Exception):
    """Sign-in refused or not finished; the message says what to do."""


def _ask(prompt: str) -> str:
    """input() that prompts on stderr: stdout carries the headers only."""
    print(prompt, end="", file=sys.stderr, flush=True)
    return sys.stdin.readline().rstrip("\n")


@dataclass(frozen=True)
class Prompts:
    """How the tool asks the user for what Cognito may want (tests answer without a tty)."""

    password: Callable[[str], str] = getpass.getpass
    new_password: Callable[[str], str] = getpass.getpass
    mfa_code: Callable[[str], str] = _ask


def local_outputs(endpoint: str) -> dict[str, str]:
    """The outputs of the running `make api` stack that `endpoint` is, or SignInError."""
    from local_stack.commands import running  # noqa: PLC0415 - only when aimed at a local endpoint

    try:
        outputs = running.require_running_outputs()
    except running.NoRunningStack as error:
        raise SignInError(
            f"AWS_ENDPOINT_URL is {endpoint}, but {error}. For a deployed stack, unset"
            " AWS_ENDPOINT_URL and use that account's credentials"
        ) from None
    if str(outputs["AwsEndpointUrl"]).rstrip("/") != endpoint.rstrip("/"):
        raise SignInError(
            f"AWS_ENDPOINT_URL is {endpoint}, not the running local stack"
            f" ({outputs['AwsEndpointUrl']}); these commands work on a deployed stack"
            ' (AWS_ENDPOINT_URL unset) or on `make api` (eval "$(make -s aws)" while it runs)'
        )
    return {key: str(value) for key, value in outputs.items()}


def find_outputs(
    session: Any, stack: str, outputs_file: str | None = None
) -> tuple[dict[str, str], bool]:
    """The outputs to work with, and whether they are the local stack's: a file if given, the
    running `make api` when AWS_ENDPOINT_URL points at an endpoint, else DescribeStacks."""
    if outputs_file:
        loaded: dict[str, str] = json.loads(Path(outputs_file).read_text())
        return loaded, False
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        return local_outputs(endpoint), True
    outputs = stack_outputs(session.client("cloudformation"), stack)
    missing = [key for key in NEEDED if key not in outputs]
    if missing:
        raise SignInError(
            f"stack {stack} has no {', '.join(missing)} output: is it deployed from this"
            " template? (STACK=<name> picks another)"
        )
    return outputs, False


def stack_outputs(cloudformation: Any, stack: str) -> dict[str, str]:
    """The stack's Outputs as {OutputKey: OutputValue}."""
    described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    return {item["OutputKey"]: item["OutputValue"] for item in described.get("Outputs", [])}


def api_key_value(apigateway: Any, key_id: str) -> str:
    value: str = apigateway.get_api_key(apiKey=key_id, includeValue=True)["value"]
    return value


def sign_in(cognito: Any, client_id: str, username: str, password: str, prompts: Prompts) -> str:
    """The ID token of `username`, answering the challenges Cognito may put first."""
    try:
        answer = cognito.initiate_auth(
            ClientId=client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password},
        )
        for _ in range(3):  # at most: new password, then TOTP
            challenge = answer.get("ChallengeName")
            if challenge is None:
                token: str = answer["AuthenticationResult"]["IdToken"]
                return token
            responses = {"USERNAME": username}
            if challenge == "NEW_PASSWORD_REQUIRED":
                chosen = prompts.new_password("First sign-in: choose a new password: ")
                if chosen != prompts.new_password("Repeat the new password: "):
                    raise SignInError("the two new passwords differ; nothing was changed")
                responses["NEW_PASSWORD"] = chosen
            elif challenge == "SOFTWARE_TOKEN_MFA":
                responses["SOFTWARE_TOKEN_MFA_CODE"] = prompts.mfa_code("TOTP code: ").strip()
            else:
                raise SignInError(f"Cognito asks for {challenge}, which this tool cannot answer")
            answer = cognito.respond_to_auth_challenge(
                ClientId=client_id,
                ChallengeName=challenge,
                Session=answer["Session"],
                ChallengeResponses=responses,
            )
    except cognito.exceptions.NotAuthorizedException as error:
        raise SignInError(f"sign-in refused: {error.response['Error']['Message']}") from None
    except cognito.exceptions.InvalidPasswordException as error:
        raise SignInError(f"password refused: {error.response['Error']['Message']}") from None
    raise SignInError("Cognito kept asking for more challenges")


def request_headers(
    outputs: Mapping[str, str],
    *,
    cognito: Any,
    apigateway: Any,
    username: str | None,
    password: str | None,
    prompts: Prompts,
    api_key: bool = True,
) -> list[str]:
    """`Header: value` lines for a request to the API deployed with `outputs` (without the
    API key when `api_key` is false: the local API checks none)."""
    mode = outputs.get("ApiAuthMode", "COGNITO")
    headers = []
    if mode == "COGNITO":
        if not username:
            raise SignInError("set API_USER (or --user) to the e-mail address of your user")
        secret = password if password is not None else prompts.password(f"Password of {username}: ")
        token = sign_in(cognito, outputs["UserPoolClientId"], username, secret, prompts)
        headers.append(f"Authorization: Bearer {token}")
    elif mode not in ("IAM", "NONE"):
        raise SignInError(f"unknown ApiAuthMode {mode!r}")
    if api_key:
        headers.append(f"x-api-key: {api_key_value(apigateway, outputs['ApiKeyId'])}")
    return headers


def hint(outputs: Mapping[str, str], region: str, temporary_credentials: bool = False) -> str:
    url = outputs.get("ApiUrl", "$API_URL")
    mode = outputs.get("ApiAuthMode", "COGNITO")
    lines = [
        "Headers printed above (stdout). Save and use them:",
        "  mkdir -p .local && make -s token > .local/headers   # .local/ is git-ignored",
        f'  curl -s -H @.local/headers "{url}/dynamodb/customers"',
    ]
    if mode == "COGNITO":
        lines.append("The ID token expires after an hour; run make token again then.")
    elif mode == "IAM":
        session = ' -H "x-amz-security-token: $AWS_SESSION_TOKEN"' if temporary_credentials else ""
        lines += [
            "ApiAuth=IAM: sign every request with your AWS credentials (curl >= 7.75):",
            f'  curl -s -H @.local/headers --aws-sigv4 "aws:amz:{region}:execute-api" \\',
            f'    --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY"{session} \\',
            f'    "{url}/dynamodb/customers"',
        ]
    else:
        lines.append("ApiAuth=NONE: no authentication, anyone with the API key can call the API.")
    return "\n".join(lines)


def main(argv: list[str] | None = None, prompts: Prompts | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", default=os.environ.get("STACK", DEFAULT_STACK))
    parser.add_argument("--region", default=os.environ.get("AWS_REGION") or None)
    parser.add_argument("--user", default=os.environ.get("API_USER"), help="e-mail address")
    parser.add_argument("--outputs", help="a JSON file of stack outputs instead of DescribeStacks")
    args = parser.parse_args(argv)
    session = boto3.session.Session(region_name=args.region)
    try:
        outputs, local = find_outputs(session, args.stack, args.outputs)
        headers = request_headers(
            outputs,
            cognito=session.client("cognito-idp"),
            apigateway=session.client("apigateway"),
            username=args.user,
            password=os.environ.get("API_PASSWORD"),
            prompts=prompts or Prompts(),
            api_key=not local,
        )
    except SignInError as error:
        print(f"make token: {error}", file=sys.stderr)
        return 1
    print("\n".join(headers))
    region = session.region_name or "us-east-1"
    print(hint(outputs, region, "AWS_SESSION_TOKEN" in os.environ), file=sys.stderr)
    if local:
        print(
            "Local stack: no API key (the local API checks none); the token is checked by"
            " `make api ApiAuth=COGNITO`.",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
