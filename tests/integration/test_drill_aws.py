"""`make drill-aws`: what can be proven without an AWS account.

The drill's purpose is the real services, so here: it refuses to run without a stack it
was told to drill, or against one it must not touch; it reads its expectations right (a
fake API Gateway on 127.0.0.1 that answers as the deployed edge does, and one that is
open); it reads DynamoDB's PITR description from moto; and it removes the users it made.
"""

import json
import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from local_stack.assembly.stack import LocalStack
from local_stack.paths import ROOT
from local_stack.template.transform import load_yaml
from tools import drill_aws
from tools.drill_aws import Drill, chosen_checks, pitr_lag


def test_make_drill_aws_refuses_to_run_without_a_stack_name():
    """Catches: a default stack name (the drill would guess which account's stack to hit)."""
    make = shutil.which("make")
    assert make, "GNU make is needed to run the project's commands"
    result = subprocess.run(  # noqa: S603 - the project's own make target
        [make, "-s", "drill-aws"], cwd=ROOT, capture_output=True, text=True, check=False
    )

    assert result.returncode == 2
    assert "NAME=" in result.stderr
    assert "never guesses" in result.stderr


def test_the_tool_itself_requires_a_stack():
    with pytest.raises(SystemExit) as refused:
        drill_aws.parser().parse_args([])
    assert refused.value.code == 2


def _stack_with_tags(tags: dict[str, str]) -> str:
    name = f"drill-{uuid.uuid4().hex[:8]}"
    boto3.client("cloudformation").create_stack(
        StackName=name,
        TemplateBody=json.dumps(
            {"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {}}}}
        ),
        Tags=[{"Key": key, "Value": value} for key, value in tags.items()],
    )
    return name


@pytest.mark.parametrize(
    ("case", "reason"),
    [("missing", "not found"), ("prod", "environment=prod"), ("blank", "no stack name")],
)
def test_it_refuses_a_stack_it_must_not_drill(
    aws: None, case: str, reason: str, capsys: pytest.CaptureFixture[str]
):
    stack = {
        "missing": "no-such-stack",
        "prod": _stack_with_tags({"environment": "prod"}) if case == "prod" else "",
        "blank": " ",
    }[case]

    code = drill_aws.main(["--stack", stack], session=boto3.session.Session())

    assert code == 2
    assert reason in capsys.readouterr().err


def test_a_sandbox_stack_is_accepted(aws: None):
    stack = _stack_with_tags({"environment": "sandbox"})

    assert drill_aws.refusal(boto3.client("cloudformation"), stack) is None


def test_disruptive_checks_run_only_when_allowed():
    assert "failover" not in chosen_checks(None, allow_disruption=False)
    assert "failover" in chosen_checks(None, allow_disruption=True)
    with pytest.raises(SystemExit, match="--allow-disruption"):
        chosen_checks("pitr,failover", allow_disruption=False)
    with pytest.raises(SystemExit, match="unknown checks"):
        chosen_checks("pitr,chaos", allow_disruption=True)


def test_the_pitr_check_reads_the_tables_restore_window(aws: None):
    """moto's CloudFormation does not apply PointInTimeRecoverySpecification (a local
    difference the docs list), so the table is made here, as the template declares it."""
    dynamodb = boto3.client("dynamodb")
    table = f"pitr-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    off = pitr_lag(dynamodb, table, datetime.now(UTC))
    dynamodb.update_continuous_backups(
        TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )

    on = pitr_lag(dynamodb, table, datetime.now(UTC))

    assert off.outcome == "UNEXPECTED"
    assert on.outcome == "OK", on.line()
    assert "s behind" in on.observed


# -- the edge checks against a fake API Gateway -------------------------------------------------


def _gateway(edge: bool) -> type[BaseHTTPRequestHandler]:
    class Gateway(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status = 200
            message: dict[str, Any] = {"items": [], "nextToken": None}
            if edge and not self.headers.get("Authorization"):
                status, message = 401, {"message": "Unauthorized"}
            elif edge and not self.headers.get("x-api-key"):
                status, message = 403, {"message": "Forbidden"}
            elif (
                edge
                and self.command == "POST"
                and not isinstance(json.loads(body or b"{}").get("name"), str)
            ):
                status, message = 400, {"message": "Invalid request body"}
            payload = json.dumps(message).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Gateway


@pytest.fixture
def drill_on(stack: LocalStack) -> Iterator[Any]:
    """A Drill against a fake API Gateway, with the local stack's pool and a moto API key."""
    servers: list[ThreadingHTTPServer] = []

    def make(edge: bool) -> Drill:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _gateway(edge))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        key = stack.cloud.client("apigateway").create_api_key(name=uuid.uuid4().hex, enabled=True)
        outputs = stack.outputs() | {
            "ApiUrl": f"http://127.0.0.1:{server.server_address[1]}",
            "ApiAuthMode": "COGNITO",
            "ApiKeyId": key["id"],
        }
        return Drill(boto3.session.Session(region_name="us-east-1"), "local", outputs)

    yield make
    for server in servers:
        server.shutdown()
        server.server_close()


def test_the_edge_check_passes_when_the_edge_answers_as_deployed(drill_on: Any):
    drill = drill_on(edge=True)
    try:
        observations = drill.edge()
    finally:
        drill.close()

    assert [o.outcome for o in observations] == ["OK", "OK", "OK"], [o.line() for o in observations]


def test_the_edge_check_reports_an_open_api_as_unexpected(drill_on: Any):
    """Catches: a drill that reports OK whatever it observes."""
    drill = drill_on(edge=False)
    try:
        observations = drill.edge()
    finally:
        drill.close()

    assert [o.outcome for o in observations] == ["UNEXPECTED"] * 3


def test_the_drill_deletes_the_users_it_created(drill_on: Any, stack: LocalStack):
    cognito = stack.cloud.client("cognito-idp")
    pool = stack.outputs()["UserPoolId"]

    def drill_users() -> list[str]:
        users = cognito.list_users(UserPoolId=pool)["Users"]
        return [u["Username"] for u in users if "drill-" in json.dumps(u["Attributes"])]

    drill = drill_on(edge=True)
    drill.edge()
    assert drill_users(), "the edge check signs in as temporary users"

    drill.close()

    assert drill_users() == []


# -- the fetcher's failure handling, read where the template puts it ---------------------------
# The local stack runs functions under the emulator, not in moto's Lambda, so these checks
# meet botocore's Stubber answering as Lambda does for the deployed template: SAM attaches
# the fetcher's EventInvokeConfig to the live alias (tests/unit/test_async_failures_template.py).

FETCHER = "sandbox-PartnerFetcherFunction-abc"
FAILURE_QUEUE = "sandbox-PartnerFetcherFailureQueue-x"
FAILURE_QUEUE_ARN = f"arn:aws:sqs:us-east-1:123456789012:{FAILURE_QUEUE}"
FAILURE_QUEUE_URL = f"https://sqs.us-east-1.amazonaws.com/123456789012/{FAILURE_QUEUE}"


class _Stubbed:
    """A session whose clients are stubbed, one per service."""

    def __init__(self, *services: str) -> None:
        session = boto3.session.Session(region_name="us-east-1")
        self.clients: dict[str, Any] = {name: session.client(name) for name in services}  # type: ignore[call-overload]
        self.stubs = {name: Stubber(client) for name, client in self.clients.items()}

    def client(self, service: str) -> Any:
        return self.clients[service]

    def __enter__(self) -> "_Stubbed":
        for stub in self.stubs.values():
            stub.activate()
        return self

    def __exit__(self, *exc: object) -> None:
        for stub in self.stubs.values():
            stub.assert_no_pending_responses()
            stub.deactivate()


def _live_config(stubs: dict[str, Stubber], destination: str | None) -> None:
    expected = {"FunctionName": FETCHER, "Qualifier": "live"}
    if destination is None:
        stubs["lambda"].add_client_error(
            "get_function_event_invoke_config",
            "ResourceNotFoundException",
            expected_params=expected,
        )
        return
    stubs["lambda"].add_response(
        "get_function_event_invoke_config",
        {
            "FunctionArn": f"arn:aws:lambda:us-east-1:123456789012:function:{FETCHER}:live",
            "MaximumRetryAttempts": 2,
            "DestinationConfig": {"OnFailure": {"Destination": destination}},
        },
        expected,
    )


@pytest.mark.parametrize("destination", [FAILURE_QUEUE_ARN, None], ids=["on-failure", "none"])
def test_the_scheduler_check_reads_the_live_aliass_on_failure_destination(destination: Any):
    """Catches: the drill looking for a function-level DeadLetterConfig, which the fetcher
    does not have (every deployed stack would report UNEXPECTED)."""
    with _Stubbed("lambda", "cloudformation") as session:
        session.stubs["cloudformation"].add_client_error("describe_stack_resource")  # no schedule
        _live_config(session.stubs, destination)
        drill = Drill(session, "sandbox", {"PartnerFetcherFunctionName": FETCHER})

        observations = drill.scheduler()

    fetcher = [o for o in observations if "on-failure" in o.expected]
    assert [o.outcome for o in fetcher] == ["OK" if destination else "UNEXPECTED"]
    assert (FAILURE_QUEUE_ARN in fetcher[0].observed) is bool(destination)


def test_the_failed_sync_invokes_the_live_alias_and_waits_on_its_failure_queue():
    """Catches: invoking $LATEST (no EventInvokeConfig there: the failed run would go
    nowhere the drill looks)."""
    parameter = "/sandbox/partner-sync/feed-url"
    with _Stubbed("lambda", "ssm", "sqs") as session:
        ssm, sqs, lambda_ = (session.stubs[name] for name in ("ssm", "sqs", "lambda"))
        ssm.add_response(
            "get_parameter",
            {"Parameter": {"Name": parameter, "Value": "https://partner.example/users"}},
            {"Name": parameter},
        )
        _live_config(session.stubs, FAILURE_QUEUE_ARN)
        sqs.add_response(
            "get_queue_url", {"QueueUrl": FAILURE_QUEUE_URL}, {"QueueName": FAILURE_QUEUE}
        )
        ssm.add_response("put_parameter", {"Version": 2})
        lambda_.add_response(
            "invoke",
            {"StatusCode": 202},
            {
                "FunctionName": FETCHER,
                "Qualifier": "live",
                "InvocationType": "Event",
                "Payload": ANY,
            },
        )
        sqs.add_response("receive_message", {"Messages": [{"MessageId": "1", "Body": "{}"}]})
        ssm.add_response(
            "put_parameter",
            {"Version": 3},
            {"Name": parameter, "Value": "https://partner.example/users", "Overwrite": True},
        )
        drill = Drill(
            session,
            "sandbox",
            {"PartnerFetcherFunctionName": FETCHER, "PartnerFeedUrlParameterName": parameter},
        )

        observations = drill.failed_sync(wait_seconds=30)

    assert [o.outcome for o in observations] == ["OK"], [o.line() for o in observations]


def test_the_drills_alias_is_the_one_the_template_publishes():
    assert load_yaml()["Globals"]["Function"]["AutoPublishAlias"] == drill_aws.LIVE_ALIAS


# -- the deployment review's fixes, as the deployed stack shows them ----------------------------
# Read through botocore's Stubber answering as the services do for a deployed sandbox stack
# with a canary strategy (moto has no CodeDeploy deployment groups from SAM, no hosted
# rotation functions): what is checked is the drill's reading of those answers.

APP_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:app-AbCdEf"
ROTATION = "arn:aws:lambda:us-east-1:123456789012:function:sandbox-rotation-app"
LOGGING_ROLE = "arn:aws:iam::123456789012:role/apigw-cloudwatch"


def _deployed(stubs: dict[str, Stubber], *, stages: list[str], runtime: str, alarms: list[str]):
    """Queue the answers of a deployed stack: Stage=v1, a canary, one API function."""
    cloudformation, apigateway = stubs["cloudformation"], stubs["apigateway"]
    cloudformation.add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackName": "sandbox",
                    "CreationTime": datetime.now(UTC),
                    "StackStatus": "UPDATE_COMPLETE",
                    "Parameters": [
                        {"ParameterKey": "Stage", "ParameterValue": "v1"},
                        {
                            "ParameterKey": "DeploymentStrategy",
                            "ParameterValue": "Canary10Percent5Minutes",
                        },
                    ],
                }
            ]
        },
        {"StackName": "sandbox"},
    )
    apigateway.add_response(
        "get_stages", {"item": [{"stageName": name} for name in stages]}, {"restApiId": "api1"}
    )
    apigateway.add_response("get_account", {"cloudwatchRoleArn": LOGGING_ROLE})
    stubs["iam"].add_response(
        "get_role",
        {
            "Role": {
                "Path": "/",
                "RoleName": "apigw-cloudwatch",
                "RoleId": "AROAEXAMPLEEXAMPLE123",
                "Arn": LOGGING_ROLE,
                "CreateDate": datetime.now(UTC),
            }
        },
        {"RoleName": "apigw-cloudwatch"},
    )
    stubs["secretsmanager"].add_response(
        "describe_secret",
        {"ARN": APP_SECRET, "RotationEnabled": True, "RotationLambdaARN": ROTATION},
        {"SecretId": APP_SECRET},
    )
    stubs["lambda"].add_response(
        "get_function_configuration", {"Runtime": runtime}, {"FunctionName": ROTATION}
    )
    cloudformation.add_response(
        "list_stack_resources",
        {
            "StackResourceSummaries": [
                {
                    "LogicalResourceId": logical_id,
                    "PhysicalResourceId": physical_id,
                    "ResourceType": resource_type,
                    "LastUpdatedTimestamp": datetime.now(UTC),
                    "ResourceStatus": "UPDATE_COMPLETE",
                }
                for logical_id, physical_id, resource_type in (
                    (
                        "ServerlessDeploymentApplication",
                        "sandbox-app",
                        "AWS::CodeDeploy::Application",
                    ),
                    (
                        "DocumentsFunctionDeploymentGroup",
                        "sandbox-docs",
                        "AWS::CodeDeploy::DeploymentGroup",
                    ),
                )
            ]
        },
        {"StackName": "sandbox"},
    )
    stubs["codedeploy"].add_response(
        "get_deployment_group",
        {
            "deploymentGroupInfo": {
                "deploymentConfigName": "CodeDeployDefault.LambdaCanary10Percent5Minutes",
                "alarmConfiguration": {
                    "enabled": bool(alarms),
                    "alarms": [{"name": name} for name in alarms],
                },
                "autoRollbackConfiguration": {
                    "enabled": True,
                    "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"],
                },
            }
        },
        {"applicationName": "sandbox-app", "deploymentGroupName": "sandbox-docs"},
    )


SERVICES = ("cloudformation", "apigateway", "iam", "secretsmanager", "lambda", "codedeploy")


def test_the_deployment_check_passes_on_a_stack_deployed_as_the_template_says():
    with _Stubbed(*SERVICES) as session:
        _deployed(
            session.stubs, stages=["v1"], runtime="python3.13", alarms=["errors", "throttles"]
        )
        drill = Drill(session, "sandbox", {"ApiId": "api1", "DatabaseSecretArn": APP_SECRET})

        observations = drill.deployment()

    assert [o.outcome for o in observations] == ["OK"] * 4, [o.line() for o in observations]


def test_the_deployment_check_reports_what_the_review_fixed_when_it_is_back():
    """Catches: a drill that reports OK whatever it reads (SAM's extra 'Stage' stage, the
    transform's default Python for a hosted rotation, a deployment group without alarms)."""
    with _Stubbed(*SERVICES) as session:
        _deployed(session.stubs, stages=["Stage", "v1"], runtime="python3.10", alarms=[])
        drill = Drill(session, "sandbox", {"ApiId": "api1", "DatabaseSecretArn": APP_SECRET})

        observations = drill.deployment()

    outcomes = {o.expected: o.outcome for o in observations}
    assert outcomes == {
        "the API's only stage is v1 (no SAM 'Stage')": "UNEXPECTED",
        "the account's API Gateway CloudWatch role exists (access logs)": "OK",
        "the hosted rotation of DatabaseSecretArn runs on python3.13": "UNEXPECTED",
        "DocumentsFunctionDeploymentGroup: CodeDeployDefault.LambdaCanary10Percent5Minutes,"
        " rolled back on its alias alarms": "UNEXPECTED",
    }
