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

from local_stack.stack import LocalStack
from local_stack.template import ROOT
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
