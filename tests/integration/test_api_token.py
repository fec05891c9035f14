"""`make user` and `make token` against the user pool template.yaml declares (in moto).

The local stack creates the pool and its app client from the template's properties, so the
sign-in here meets the deployed pool's password policy and auth flows.
"""

import base64
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from local_stack.assembly.stack import LocalStack
from tools import get_token, sandbox_user
from tools.get_token import Prompts, SignInError

TEMPORARY = "Temporary-Passw0rd!"
CHOSEN = "Chosen-by-the-user-7?"


def claims(jwt: str) -> dict[str, Any]:
    payload = jwt.split(".")[1]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return decoded


def answering(new_password: str = CHOSEN) -> Prompts:
    def never(prompt: str) -> str:
        raise AssertionError(f"unexpected prompt: {prompt}")

    return Prompts(password=never, new_password=lambda _: new_password, mfa_code=never)


@pytest.fixture
def outputs(stack: LocalStack) -> dict[str, str]:
    """The stack's outputs, with a real (moto) API key as the first client's key."""
    key = stack.cloud.client("apigateway").create_api_key(
        name=f"k-{uuid.uuid4().hex[:8]}", enabled=True
    )
    return stack.outputs() | {"ApiKeyId": key["id"], "ApiKeyValue": key["value"]}


@pytest.fixture
def user(stack: LocalStack, outputs: dict[str, str]) -> str:
    email = f"user-{uuid.uuid4().hex[:10]}@example.com"
    sandbox_user.create_user(
        stack.cloud.client("cognito-idp"), outputs["UserPoolId"], email, TEMPORARY
    )
    return email


def headers(stack: LocalStack, outputs: dict[str, str], **kwargs: Any) -> list[str]:
    return get_token.request_headers(
        outputs,
        cognito=stack.cloud.client("cognito-idp"),
        apigateway=stack.cloud.client("apigateway"),
        **kwargs,
    )


def test_the_local_pool_is_the_templates_pool(stack: LocalStack, outputs: dict[str, str]):
    cognito = stack.cloud.client("cognito-idp")

    pool = cognito.describe_user_pool(UserPoolId=outputs["UserPoolId"])["UserPool"]
    client = cognito.describe_user_pool_client(
        UserPoolId=outputs["UserPoolId"], ClientId=outputs["UserPoolClientId"]
    )["UserPoolClient"]

    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] == 14
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert "ALLOW_USER_PASSWORD_AUTH" in client["ExplicitAuthFlows"]
    assert outputs["ApiAuthMode"] == "COGNITO"


def test_a_new_user_chooses_a_password_and_gets_the_headers(
    stack: LocalStack, outputs: dict[str, str], user: str
):
    # Given a user `make user` created with a temporary password
    # When the user runs `make token` for the first time
    lines = headers(stack, outputs, username=user, password=TEMPORARY, prompts=answering())

    # Then it prints a bearer ID token of this pool's app client, and the client's API key
    authorization, api_key = lines
    scheme, token = authorization.removeprefix("Authorization: ").split(" ")
    assert scheme == "Bearer"
    assert claims(token)["token_use"] == "id"
    assert claims(token)["aud"] == outputs["UserPoolClientId"]
    assert claims(token)["email"] == user
    assert api_key == f"x-api-key: {outputs['ApiKeyValue']}"

    # And the next sign-in uses the chosen password, with no challenge
    again = headers(stack, outputs, username=user, password=CHOSEN, prompts=answering("unused"))
    assert claims(again[0].split(" ")[-1])["email"] == user


def test_a_user_with_totp_is_asked_for_the_code(
    stack: LocalStack, outputs: dict[str, str], user: str
):
    # Given a user who has chosen a password and turned on a TOTP second factor
    cognito = stack.cloud.client("cognito-idp")
    headers(stack, outputs, username=user, password=TEMPORARY, prompts=answering())
    access = cognito.initiate_auth(
        ClientId=outputs["UserPoolClientId"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": user, "PASSWORD": CHOSEN},
    )["AuthenticationResult"]["AccessToken"]
    cognito.associate_software_token(AccessToken=access)
    cognito.verify_software_token(AccessToken=access, UserCode="123456")
    cognito.set_user_mfa_preference(
        AccessToken=access, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True}
    )
    asked: list[str] = []

    def code(prompt: str) -> str:
        asked.append(prompt)
        return "123456"

    # When the user signs in
    lines = headers(
        stack,
        outputs,
        username=user,
        password=CHOSEN,
        prompts=Prompts(mfa_code=code),
    )

    # Then the code was asked for, once, and the token is the user's
    assert asked == ["TOTP code: "]
    assert claims(lines[0].split(" ")[-1])["email"] == user


def test_a_wrong_password_is_refused(stack: LocalStack, outputs: dict[str, str], user: str):
    with pytest.raises(SignInError, match="sign-in refused"):
        headers(stack, outputs, username=user, password="Wrong-Passw0rd!", prompts=answering())


def test_a_weak_new_password_is_refused_by_the_pool_policy(
    stack: LocalStack, outputs: dict[str, str], user: str
):
    with pytest.raises(SignInError, match="password refused"):
        headers(stack, outputs, username=user, password=TEMPORARY, prompts=answering("short1!A"))


def test_cognito_mode_needs_a_user(stack: LocalStack, outputs: dict[str, str]):
    with pytest.raises(SignInError, match="API_USER"):
        headers(stack, outputs, username=None, password=None, prompts=answering())


@pytest.mark.parametrize("mode", ["IAM", "NONE"])
def test_without_cognito_only_the_api_key_is_printed(
    stack: LocalStack, outputs: dict[str, str], mode: str
):
    lines = headers(
        stack, outputs | {"ApiAuthMode": mode}, username=None, password=None, prompts=answering()
    )

    assert lines == [f"x-api-key: {outputs['ApiKeyValue']}"]


@pytest.mark.usefixtures("stack")
def test_make_token_prints_only_headers_on_stdout(
    outputs: dict[str, str],
    user: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):
    # Given the stack's outputs in a file and the password in the environment
    saved = tmp_path / "outputs.json"
    saved.write_text(json.dumps(outputs))
    monkeypatch.setenv("API_PASSWORD", TEMPORARY)

    # When the command runs
    status = get_token.main(
        ["--outputs", str(saved), "--user", user, "--region", "us-east-1"], prompts=answering()
    )

    # Then stdout is the two headers (for curl -H @file), and the hint went to stderr
    printed = capsys.readouterr()
    assert status == 0
    assert [line.split(":")[0] for line in printed.out.splitlines()] == [
        "Authorization",
        "x-api-key",
    ]
    assert "curl" in printed.err


def test_make_token_reads_the_outputs_of_the_deployed_stack(stack: LocalStack):
    # Given a CloudFormation stack with outputs
    cloudformation = stack.cloud.client("cloudformation")
    name = f"outputs-{uuid.uuid4().hex[:8]}"
    cloudformation.create_stack(
        StackName=name,
        TemplateBody=json.dumps(
            {
                "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
                "Outputs": {"ApiAuthMode": {"Value": "IAM"}, "ApiKeyId": {"Value": "k1"}},
            }
        ),
    )

    # Then they are read as a map
    assert get_token.stack_outputs(cloudformation, name) == {"ApiAuthMode": "IAM", "ApiKeyId": "k1"}


def test_make_user_refuses_an_existing_user(stack: LocalStack, outputs: dict[str, str], user: str):
    cognito = stack.cloud.client("cognito-idp")

    with pytest.raises(cognito.exceptions.UsernameExistsException):
        sandbox_user.create_user(cognito, outputs["UserPoolId"], user, TEMPORARY)


ROOT = Path(__file__).resolve().parents[2]


def run_tool(
    module: str, *args: str, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    """`python -m module args` as `make user` / `make token` run it, with `env` on top of
    this process's environment (the session's endpoint and administrator)."""
    return subprocess.run(  # noqa: S603 - this interpreter, our own modules
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=os.environ | env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def running_stack_state(stack: LocalStack, endpoint: Any, tmp_path: Path) -> Path:
    """A state folder as `make api` leaves it while it runs: outputs.json naming this
    session's endpoint (which answers) for the AWS and the Lambda API."""
    outputs = stack.outputs() | {
        "AwsEndpointUrl": endpoint.url,
        "LambdaEndpointUrl": endpoint.url,
        "ApiUrl": "http://127.0.0.1:1",
    }
    (tmp_path / "outputs.json").write_text(json.dumps(outputs))
    return tmp_path


def test_make_user_and_make_token_work_on_the_running_local_stack(
    running_stack_state: Path, endpoint: Any
):
    """Catches: the commands reading DescribeStacks on the local endpoint, whose stack
    (moto's CloudFormation) has no UserPoolId output: `KeyError: 'UserPoolId'`."""
    # Given AWS_ENDPOINT_URL aimed at the running stack, as `eval "$(make -s aws)"` sets it
    email = f"local-{uuid.uuid4().hex[:10]}@example.com"
    env = {"LOCAL_STATE_DIR": str(running_stack_state), "AWS_ENDPOINT_URL": endpoint.url}

    # When a writer is created, then signs in (choosing a password at the first sign-in)
    created = run_tool(
        "tools.sandbox_user", email, "--temporary-password", TEMPORARY, "--group", "writers", **env
    )
    signed_in = run_tool(
        "tools.get_token",
        "--user",
        email,
        stdin=f"{CHOSEN}\n{CHOSEN}\n",
        API_PASSWORD=TEMPORARY,
        **env,
    )

    # Then the user is in the local pool's writers, the ID token carries the group, no API
    # key is printed (the local API checks none), and stderr says so
    assert (created.returncode, signed_in.returncode) == (0, 0), created.stderr + signed_in.stderr
    assert "the local stack's user pool" in created.stdout
    (line,) = signed_in.stdout.splitlines()
    assert line.startswith("Authorization: Bearer ")
    assert claims(line.split()[-1])["cognito:groups"] == ["writers"]
    assert "no API key" in signed_in.stderr


@pytest.mark.parametrize("module", ["tools.sandbox_user", "tools.get_token"])
def test_an_endpoint_that_is_no_running_stack_is_named_at_once(module: str, tmp_path: Path):
    """Catches: a traceback halfway (KeyError, or a connection error after prompting for a
    password) when AWS_ENDPOINT_URL points at no running local stack."""
    # Given an endpoint where nothing listens, and no running stack in the state folder
    env = {"LOCAL_STATE_DIR": str(tmp_path), "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}

    # When the command runs
    args = ["x@example.com"] if module == "tools.sandbox_user" else ["--user", "x@example.com"]
    run = run_tool(module, *args, **env)

    # Then one line says what is wrong and what these commands work on
    assert run.returncode == 1
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert "AWS_ENDPOINT_URL is http://127.0.0.1:9" in run.stderr
    assert "deployed stack" in run.stderr
