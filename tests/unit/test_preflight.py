"""`make preflight` against an account: the local AWS endpoint (moto) for CloudFormation, API
Gateway, IAM and EC2, and a real HTTP server playing Lambda's account settings, which moto
does not implement (its GetAccountSettings is missing; the quota is Lambda's to tell).

boto3 reaches that server the way it reaches any endpoint: AWS_ENDPOINT_URL_LAMBDA, the
service-specific endpoint variable botocore reads. The stub answers GetAccountSettings and
GetFunctionConcurrency in the shapes of the Lambda API reference, nothing else.
"""

import json
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest

from local_stack.services.endpoint import AwsEndpoint
from local_stack.template.transform import load_yaml
from tools import preflight
from tools.connection_budget import samconfig_parameters

# https://docs.aws.amazon.com/lambda/latest/api/API_GetAccountSettings.html
ACCOUNT_SETTINGS = "/2016-08-19/account-settings"
# https://docs.aws.amazon.com/lambda/latest/api/API_GetFunctionConcurrency.html
CONCURRENCY = re.compile(r"^/2019-09-30/functions/(?P<name>[^/]+)/concurrency$")
CHECKS = ("reserved concurrency", "API Gateway logging", "alarm email", "availability zones")


@dataclass
class LambdaAccount:
    """What the stub Lambda knows: the account's quota and each function's reservation."""

    quota: int = 1000
    reserved: dict[str, int] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    @property
    def unreserved(self) -> int:
        return self.quota - sum(self.reserved.values())


def lambda_handler_for(account: LambdaAccount) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            account.requests.append(path)
            if path.rstrip("/") == ACCOUNT_SETTINGS:
                limit = {
                    "TotalCodeSize": 80530636800,
                    "CodeSizeUnzipped": 262144000,
                    "CodeSizeZipped": 52428800,
                    "ConcurrentExecutions": account.quota,
                    "UnreservedConcurrentExecutions": account.unreserved,
                }
                usage = {"TotalCodeSize": 0, "FunctionCount": len(account.reserved)}
                self._send(200, {"AccountLimit": limit, "AccountUsage": usage})
            elif (matched := CONCURRENCY.match(path)) and matched["name"] in account.reserved:
                self._send(200, {"ReservedConcurrentExecutions": account.reserved[matched["name"]]})
            elif matched:
                self._send(200, {})  # a function without reserved concurrency
            else:
                self._send(404, {"Type": "User", "Message": "Unknown operation"})

        def _send(self, status: int, body: dict[str, Any]) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def lambda_account(monkeypatch: pytest.MonkeyPatch, aws: AwsEndpoint) -> Iterator[LambdaAccount]:
    account = LambdaAccount()
    server = ThreadingHTTPServer(("127.0.0.1", 0), lambda_handler_for(account))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", f"http://127.0.0.1:{server.server_port}")
    yield account
    server.shutdown()
    server.server_close()


def client(service: str) -> Any:
    """A client of the local endpoint with this process's current credentials (boto3's
    default session would keep whichever credentials an earlier test resolved)."""
    return boto3.session.Session(region_name="us-east-1").client(service)  # type: ignore[call-overload]


def role_for(service: str, name: str) -> str:
    """A new IAM role the service may assume; its ARN."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": f"{service}.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    arn: str = client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))[
        "Role"
    ]["Arn"]
    return arn


def api_gateway_logs_through(role_name: str | None) -> str | None:
    """Set the account's API Gateway CloudWatch role (a new IAM role, or none)."""
    apigateway = client("apigateway")
    if role_name is None:
        apigateway.update_account(
            patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": ""}]
        )
        return None
    arn = role_for("apigateway", role_name)
    apigateway.update_account(
        patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": arn}]
    )
    return arn


def run(*argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, str]]:
    """Exit status and {check: its line} of `make preflight` with these arguments."""
    status = preflight.main([*argv], session=boto3.session.Session(region_name="us-east-1"))
    lines = capsys.readouterr().out.splitlines()
    checks = {
        check: line
        for line in lines
        for check in (
            "reserved concurrency",
            "API Gateway logging",
            "alarm email",
            "availability zones",
        )
        if line[8:].startswith(check)
    }
    return status, checks


def new_stack() -> str:
    return f"preflight-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Sandbox:
    """What the sandbox deployment reserves, read from template.yaml (so a function added
    or a reservation changed moves the expectations with it): in all, and with every
    concurrency parameter at its MinValue."""

    total: int
    lowest: dict[str, int]
    floor: int


def sandbox() -> Sandbox:
    source = load_yaml()
    defaults = {k: str(v.get("Default", "")) for k, v in source["Parameters"].items()}
    found = preflight.reservations(source, defaults | samconfig_parameters()["default"])
    named = sorted({p for r in found for p in r.parameters})
    lowest = {p: int(source["Parameters"][p].get("MinValue", 0)) for p in named}
    floor = sum(r.amount for r in found if not r.parameters) + sum(lowest.values())
    return Sandbox(sum(r.amount for r in found), lowest, floor)


def test_an_account_with_a_reduced_quota_is_told_what_to_change_before_deploying(
    lambda_account: LambdaAccount, capsys: pytest.CaptureFixture[str]
):
    """A new account's quota of 10 leaves nothing to reserve (Lambda keeps the whole quota
    unreserved when it is 100 or less), and the stack reserves what the template says.
    Mutation caught: a check that does not ask Lambda for the quota (the deploy would fail
    in CloudFormation instead)."""
    # Given a new account's reduced quota and a role for API Gateway's logs
    lambda_account.quota = 10
    api_gateway_logs_through(f"apigw-logs-{uuid.uuid4().hex[:6]}")

    # When the sandbox is checked
    status, checks = run("--stack", new_stack(), capsys=capsys)

    # Then it is refused, with the quota to request and what the parameters can save
    assert status == 1
    line = checks["reserved concurrency"]
    assert line.startswith("CHANGE")
    expected = sandbox()
    assert f"the stack reserves {expected.total}" in line
    assert f"quota of at least {expected.total + 100}" in line
    assert " ".join(f"{name}={value}" for name, value in expected.lowest.items()) in line
    assert f"reserves {expected.floor} and needs a quota of at least {expected.floor + 100}" in line
    assert ACCOUNT_SETTINGS in [r.rstrip("/") for r in lambda_account.requests]


def test_an_account_with_room_is_ready(
    lambda_account: LambdaAccount, capsys: pytest.CaptureFixture[str]
):
    """Mutation caught: comparing the reservation with the quota instead of with what is
    unreserved (another application's 890 reserved leave too little)."""
    # Given the default quota, an API Gateway role, and another application's reservation
    lambda_account.quota = 1000
    api_gateway_logs_through(f"apigw-logs-{uuid.uuid4().hex[:6]}")

    status, checks = run("--stack", new_stack(), capsys=capsys)
    assert status == 0, checks
    assert checks["reserved concurrency"].startswith("OK")

    lambda_account.reserved["someone-elses-function"] = 890
    status, checks = run("--stack", new_stack(), capsys=capsys)
    assert status == 1
    assert "Lower " in checks["reserved concurrency"]
    assert "CustomersRdsMaxConcurrency (now 30, at least 0)" in checks["reserved concurrency"]
    # 1000 - 890 leaves 110 unreserved, of which 100 must stay: the stack may take 10
    assert f"by {sandbox().total - 10} in all" in checks["reserved concurrency"]


def deploy_a_stack_reserving(stack: str, reserved: dict[str, int], account: LambdaAccount) -> None:
    """A deployed stack (CloudFormation on the local endpoint) whose functions reserve these
    amounts (the stub Lambda's answer for their names), deployed with an AlarmEmail."""
    role = role_for("lambda", f"{stack}-fn")
    function = {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "Runtime": "python3.13",
            "Handler": "index.handler",
            "Role": role,
            "Code": {"ZipFile": "def handler(event, context):\n    return None\n"},
        },
    }
    template = {
        "Parameters": {"AlarmEmail": {"Type": "String", "Default": ""}},
        "Resources": {name: function for name in reserved},
    }
    cloudformation = client("cloudformation")
    cloudformation.create_stack(
        StackName=stack,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "AlarmEmail", "ParameterValue": "ops@example.com"}],
    )
    for resource in cloudformation.describe_stack_resources(StackName=stack)["StackResources"]:
        account.reserved[resource["PhysicalResourceId"]] = reserved[resource["LogicalResourceId"]]


def test_an_update_counts_what_the_stack_already_reserves(
    lambda_account: LambdaAccount, capsys: pytest.CaptureFixture[str]
):
    """A redeploy frees the stack's own reservations before it takes them again: with
    exactly 100 unreserved, the update fits. Mutation caught: ignoring the deployed stack's
    reservations (every redeploy of a full account would be refused)."""
    # Given a deployed stack reserving what the template does, and exactly 100 unreserved
    stack = new_stack()
    total = sandbox().total
    lambda_account.quota = total + 100
    deploy_a_stack_reserving(stack, {"Relay": total - 30, "Api": 30}, lambda_account)
    api_gateway_logs_through(f"apigw-logs-{uuid.uuid4().hex[:6]}")
    assert lambda_account.unreserved == 100

    # When it is checked for its next deploy
    status, checks = run("--stack", stack, capsys=capsys)

    # Then it fits, and a new stack of the same size would not
    assert status == 0, checks
    assert "keeps 100 unreserved" in checks["reserved concurrency"]
    status, checks = run("--stack", new_stack(), capsys=capsys)
    assert checks["reserved concurrency"].startswith("CHANGE")


def test_prod_needs_an_alarm_email_once_and_keeps_it(
    lambda_account: LambdaAccount, capsys: pytest.CaptureFixture[str]
):
    """Mutation caught: reading AlarmEmail from samconfig.toml only (prod would be refused
    on every redeploy, though CloudFormation keeps the previous value SAM CLI asks for)."""
    api_gateway_logs_through(f"apigw-logs-{uuid.uuid4().hex[:6]}")

    # A new prod stack without an address is refused, with one it is not
    status, checks = run("--config-env", "prod", "--stack", new_stack(), capsys=capsys)
    assert status == 1
    assert checks["alarm email"].startswith("CHANGE")
    assert 'make deploy ENV=prod PARAMS="AlarmEmail=' in checks["alarm email"]
    with_email = ("--parameters", "AlarmEmail=ops@example.com")
    status, checks = run("--config-env", "prod", "--stack", new_stack(), *with_email, capsys=capsys)
    assert checks["alarm email"].startswith("OK")

    # A deployed prod stack keeps the address it was given
    stack = new_stack()
    deploy_a_stack_reserving(stack, {"Api": 1}, lambda_account)
    status, checks = run("--config-env", "prod", "--stack", stack, capsys=capsys)
    assert checks["alarm email"] == f"{'OK':<7} {'alarm email':<22} alarms go to ops@example.com"


def test_the_account_wide_logging_role_is_set_only_where_missing(
    lambda_account: LambdaAccount, capsys: pytest.CaptureFixture[str]
):
    """Mutation caught: a check that lets ConfigureApiGatewayAccount=true replace another
    stack's role, or that takes an account naming a deleted role for one that logs."""
    configure = ("--parameters", "ConfigureApiGatewayAccount=true")
    # Given an account with no API Gateway CloudWatch role: the stack must set it
    api_gateway_logs_through(None)
    _, checks = run("--stack", new_stack(), capsys=capsys)
    assert "deploy with ConfigureApiGatewayAccount=true" in checks["API Gateway logging"]
    _, checks = run("--stack", new_stack(), *configure, capsys=capsys)
    assert checks["API Gateway logging"].startswith("OK")

    # Given an account whose role another stack set: this stack must leave it
    arn = api_gateway_logs_through(f"apigw-logs-{uuid.uuid4().hex[:6]}")
    _, checks = run("--stack", new_stack(), *configure, capsys=capsys)
    assert checks["API Gateway logging"].startswith("CHANGE")
    assert f"already logs through {arn}" in checks["API Gateway logging"]
    _, checks = run("--stack", new_stack(), capsys=capsys)
    assert checks["API Gateway logging"].startswith("OK")

    # Given an account that names a role that was deleted: the stack must set a new one
    assert arn is not None
    client("iam").delete_role(RoleName=arn.rsplit("/", 1)[-1])
    _, checks = run("--stack", new_stack(), capsys=capsys)
    assert f"names {arn}, which no longer exists" in checks["API Gateway logging"]


def test_rds_proxy_is_kept_out_of_the_zones_it_is_not_offered_in(
    lambda_account: LambdaAccount, capsys: pytest.CaptureFixture[str]
):
    """Mutation caught: not checking the AZ IDs given (or the region's first two) against
    RDS Proxy's unsupported AZ, or accepting AZ IDs the region does not have."""
    api_gateway_logs_through(f"apigw-logs-{uuid.uuid4().hex[:6]}")
    proxy = "EnableDatabaseProxy=true"

    # The region's first two AZs (moto: us-east-1a, us-east-1b) are fine for the proxy
    status, checks = run("--stack", new_stack(), "--parameters", proxy, capsys=capsys)
    assert checks["availability zones"].startswith("OK"), checks

    # use1-az3 is refused for the proxy, with two others to use instead
    given = f"{proxy} DatabaseAvailabilityZoneIds=use1-az3,use1-az6"
    status, checks = run("--stack", new_stack(), "--parameters", given, capsys=capsys)
    assert status == 1
    line = checks["availability zones"]
    assert "RDS Proxy is not offered in use1-az3" in line
    assert re.search(r"set DatabaseAvailabilityZoneIds=use1-az\d,use1-az\d$", line)
    assert "use1-az3" not in line.rsplit("=", 1)[-1]

    # without the proxy the same zones are fine; an AZ ID the region lacks is not
    given = "DatabaseAvailabilityZoneIds=use1-az3,use1-az6"
    _, checks = run("--stack", new_stack(), "--parameters", given, capsys=capsys)
    assert checks["availability zones"].startswith("OK")
    given = "DatabaseAvailabilityZoneIds=use1-az1,euw1-az9"
    _, checks = run("--stack", new_stack(), "--parameters", given, capsys=capsys)
    assert "names euw1-az9, not AZ IDs of this region" in checks["availability zones"]
