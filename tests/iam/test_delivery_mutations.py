"""What the local stack does on behalf of AWS services follows the template: with the
permission a delivery needs gone, the emulator refuses it as AWS would (no message, no
invocation), and an event source mapping polls with its function's role.

The queue policy and the function's role are changed in a copy of template.yaml, deployed
like any stack. The Lambda permission for S3 and the schedule's role are SAM's own
resources (no statement of template.yaml to remove), so their tests check the deployed
stack against a copy of its transformed template without them.
"""

import copy
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from local_stack.assembly.stack import LocalStack
from local_stack.iam.effective import load_effective_policies
from local_stack.iam.report import MUTATED_STACK_PREFIX
from local_stack.services.endpoint import AwsEndpoint
from local_stack.services.event_sources import ScheduleMapping, SqsMapping
from local_stack.services.mysql import ServerAddress
from local_stack.services.s3 import S3NotificationMapping
from local_stack.template.transform import load_yaml
from tests.conftest import deploy

NO_RECEIVE = "AuditPollerMayNotReceive"


@pytest.fixture(scope="module")
def mutated(
    endpoint: AwsEndpoint,
    mysql_server: ServerAddress,
    function_logs: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LocalStack]:
    source = copy.deepcopy(load_yaml())
    resources = source["Resources"]
    # the customer events topic may send to the notifications queue only
    (statement,) = resources["CustomerEventsQueuePolicy"]["Properties"]["PolicyDocument"][
        "Statement"
    ]
    statement["Resource"] = [{"Fn::GetAtt": ["NotificationsQueue", "Arn"]}]
    # the audit function's role may not receive from any queue
    resources["CustomerAuditFunction"]["Properties"]["Policies"].append(
        {
            "Statement": [
                {
                    "Sid": NO_RECEIVE,
                    "Effect": "Deny",
                    "Action": "sqs:ReceiveMessage",
                    "Resource": "*",
                }
            ]
        }
    )
    path = tmp_path_factory.mktemp("delivery-mutations") / "template.json"
    path.write_text(json.dumps(source))
    stack = deploy(endpoint, function_logs, f"{MUTATED_STACK_PREFIX}deliveries", template=path)
    yield stack
    stack.close()


@contextmanager
def checked_against(stack: LocalStack, change: Callable[[dict[str, Any]], None]) -> Iterator[None]:
    """The stack's service emulators decide with `change`d resources of its transformed
    template (the same `Deliveries` they ask before every delivery)."""
    transformed = copy.deepcopy(stack.template.transformed)
    change(transformed["Resources"])
    saved = stack.deliveries.policies
    stack.deliveries.policies = load_effective_policies(transformed, stack.cloud.resolve)
    try:
        yield
    finally:
        stack.deliveries.policies = saved


def messages(stack: LocalStack, queue: str) -> list[str]:
    """The bodies waiting in `queue` (received as the administrator)."""
    sqs = boto3.client("sqs", region_name=stack.region)
    url = stack.cloud.physical_id(queue)
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [message["Body"] for message in received]


def test_sns_delivers_only_to_the_queue_its_policy_still_names(mutated: LocalStack):
    sns = boto3.client("sns", region_name=mutated.region)
    sns.publish(
        TopicArn=mutated.cloud.physical_id("CustomerEventsTopic"),
        Message=json.dumps({"probe": str(uuid.uuid4())}),
        MessageAttributes={"eventType": {"DataType": "String", "StringValue": "CustomerCreated"}},
    )

    assert len(messages(mutated, "NotificationsQueue")) == 1
    assert messages(mutated, "AuditQueue") == []


def test_an_sqs_mapping_polls_with_its_functions_role(mutated: LocalStack):
    sqs = boto3.client("sqs", region_name=mutated.region)
    sqs.send_message(QueueUrl=mutated.cloud.physical_id("AuditQueue"), MessageBody="{}")
    (mapping,) = [
        found
        for found in mutated.event_sources.for_function("CustomerAuditFunction")
        if isinstance(found, SqsMapping)
    ]

    with pytest.raises(ClientError) as denied:
        mapping.poll()

    message = denied.value.response["Error"]["Message"]
    assert "-CustomerAuditFunctionRole/" in message
    # (SQS prints the action lower-cased, as in AWS)
    assert "is not authorized to perform: sqs:receivemessage" in message.lower()
    assert "with an explicit deny in an identity-based policy" in message


def _upload_notified_under(
    mutated: LocalStack, change: Callable[[dict[str, Any]], None]
) -> S3NotificationMapping:
    """An upload to the documents bucket, its notification delivered (or refused) while the
    deployed stack is checked against its transformed template with `change` applied."""
    (mapping,) = [
        found
        for found in mutated.event_sources.for_function("DocumentUploadedFunction")
        if isinstance(found, S3NotificationMapping)
    ]
    s3 = boto3.client("s3", region_name=mutated.region)
    with checked_against(mutated, change):
        s3.put_object(
            Bucket=mutated.cloud.physical_id("DocumentsBucket"),
            Key=f"documents/{uuid.uuid4()}",
            Body=b"%PDF-1.7 probe",
        )
        assert mapping.poll() == 1
    return mapping


def test_s3_does_not_invoke_a_function_without_its_permission(mutated: LocalStack):
    def without_the_permission(resources: dict[str, Any]) -> None:
        del resources["DocumentUploadedFunctionObjectCreatedPermission"]

    mapping = _upload_notified_under(mutated, without_the_permission)

    (event, reason) = mapping.failures[-1]
    assert event["Records"][0]["eventSource"] == "aws:s3"
    assert "is not authorized to perform: lambda:InvokeFunction" in reason
    assert "because no resource-based policy allows" in reason


def test_a_schedule_does_not_run_without_its_roles_policy(mutated: LocalStack):
    """The scheduler cannot invoke without its role's invoke policy; each refused run
    goes to the schedule's dead-letter queue with what failed.
    Catches: the schedule's check taken out (the function runs); a refused run dropped
    instead of dead-lettered."""

    def without_invoke(resources: dict[str, Any]) -> None:
        role = resources["PartnerFetcherFunctionDailyRole"]["Properties"]
        role["Policies"] = [
            policy
            for policy in role["Policies"]
            if not policy["PolicyName"].endswith("LambdaPolicy")
        ]

    (mapping,) = [
        found
        for found in mutated.event_sources.for_function("PartnerFetcherFunction")
        if isinstance(found, ScheduleMapping)
    ]
    before = len(mutated.calls("PartnerFetcherFunction"))
    with checked_against(mutated, without_invoke):
        with pytest.raises(
            PermissionError, match="not authorized to perform: lambda:InvokeFunction"
        ):
            mapping.run()
        assert mapping.deliver() is None

    assert len(mutated.calls("PartnerFetcherFunction")) == before  # never ran
    assert mapping.deliveries is not None
    assert mapping.schedule_id is not None
    schedule = mapping.deliveries.policies.schedules[mapping.schedule_id]
    assert schedule.dead_letter_arn is not None
    sqs = mutated.cloud.client("sqs")
    url = sqs.get_queue_url(QueueName=schedule.dead_letter_arn.rsplit(":", 1)[1])["QueueUrl"]
    received = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages", [])
    assert len(received) == 2  # run() and deliver()
    for message in received:
        assert json.loads(message["Body"])["detail-type"] == "Scheduled Event"
        attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
        assert attributes["TARGET_ARN"] == schedule.target_arn
        assert "lambda:InvokeFunction" in attributes["ERROR_MESSAGE"]
        assert attributes["ERROR_CODE"] == "AccessDeniedException"
        assert attributes["RETRY_ATTEMPTS"] == "0"  # a permanent error: not retried
        assert "EXHAUSTED_RETRY_CONDITION" not in attributes
        assert attributes["SCHEDULE_ARN"].endswith(":schedule/default/" + schedule.name)


def test_a_refused_run_is_lost_loudly_when_its_dead_letter_queue_refuses_too(
    mutated: LocalStack, capsys: pytest.CaptureFixture[str]
):
    """Given a schedule whose role may neither invoke its function nor send to its
    dead-letter queue
    When the scheduler delivers a run
    Then nothing reaches the queue, and the terminal says the run is lost and why.
    Catches: the dead-letter queue written without the role's sqs:SendMessage (the
    deliveries check skipped), or the lost run left unsaid."""

    def without_any_policy(resources: dict[str, Any]) -> None:
        resources["PartnerFetcherFunctionDailyRole"]["Properties"]["Policies"] = []

    (mapping,) = [
        found
        for found in mutated.event_sources.for_function("PartnerFetcherFunction")
        if isinstance(found, ScheduleMapping)
    ]
    assert mapping.deliveries is not None
    assert mapping.schedule_id is not None
    schedule = mapping.deliveries.policies.schedules[mapping.schedule_id]
    assert schedule.dead_letter_arn is not None
    sqs = mutated.cloud.client("sqs")
    url = sqs.get_queue_url(QueueName=schedule.dead_letter_arn.rsplit(":", 1)[1])["QueueUrl"]

    def waiting() -> int:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        return sum(int(counts[name]) for name in names)

    before = waiting()
    with checked_against(mutated, without_any_policy):
        assert mapping.deliver() is None

    assert waiting() == before
    said = capsys.readouterr().err
    assert "its dead-letter queue refused the run too" in said
    assert "sqs:SendMessage" in said


def test_s3_does_not_invoke_the_alias_on_a_permission_for_the_function(mutated: LocalStack):
    """The bucket notifies the function's "live" alias (AutoPublishAlias); a permission
    naming the unqualified function does not cover it in Lambda, so S3 cannot invoke.
    Mutations caught: the mapping asking for the function's unqualified ARN (not the one the
    bucket's notification names), the qualifier dropped from the ARN S3 asks for."""

    def on_the_function(resources: dict[str, Any]) -> None:
        permission = resources["DocumentUploadedFunctionObjectCreatedPermission"]["Properties"]
        assert permission["FunctionName"] == {"Ref": "DocumentUploadedFunctionAliaslive"}
        permission["FunctionName"] = {"Ref": "DocumentUploadedFunction"}

    before = len(mutated.calls("DocumentUploadedFunction"))
    mapping = _upload_notified_under(mutated, on_the_function)

    assert mapping.function_arn.endswith("-DocumentUploadedFunction:live")
    (_, reason) = mapping.failures[-1]
    assert f"lambda:InvokeFunction on resource: {mapping.function_arn} " in reason
    assert "because no resource-based policy allows" in reason
    assert len(mutated.calls("DocumentUploadedFunction")) == before  # never ran


def test_api_gateway_does_not_invoke_the_alias_on_permissions_for_the_function(
    mutated: LocalStack,
):
    """Each route's integration invokes the function's "live" alias; with the route
    permissions naming the unqualified function instead, API Gateway cannot invoke it and
    answers 500, as in AWS. Mutations caught: the emulator asking for the function's
    unqualified ARN (not its integration's), the qualifier dropped from the ARN asked for or
    when the policy is looked up."""

    def on_the_function(resources: dict[str, Any]) -> None:
        for resource in resources.values():
            props = resource.get("Properties", {})
            if resource["Type"] == "AWS::Lambda::Permission" and props["FunctionName"] == {
                "Ref": "DocumentsFunctionAliaslive"
            }:
                props["FunctionName"] = {"Ref": "DocumentsFunction"}

    assert mutated.api.request("GET", "/documents").status == 200
    before = len(mutated.api.invocations)
    with checked_against(mutated, on_the_function):
        response = mutated.api.request("GET", "/documents")

    assert response.status == 500
    assert response.json() == {"message": "Internal server error"}
    assert len(mutated.api.invocations) == before
