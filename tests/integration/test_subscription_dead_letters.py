"""SNS -> SQS deliveries that fail for a client-side reason land in the subscription's
dead-letter queue, and a redrive delivers them.

SNS does not retry a delivery refused by the queue (a deleted queue, a queue policy that no
longer names the topic): without a RedrivePolicy the event is gone, though the publisher's
Publish succeeded. Faults are made where AWS would meet them: the queue is really deleted
from the local endpoint, or the stack's delivery checks read the queue policy of a template
whose statement no longer names the audit queue.
"""

import copy
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from local_stack.assembly.stack import LocalStack
from local_stack.commands.redrive import redrive
from local_stack.iam.effective import load_effective_policies
from tests.integration.test_fanout import AUDIT, PUBLISHER, peek
from tests.support.customers import CustomersClient
from tests.support.polling import poll_until_idle


def publish_changes(stack: LocalStack) -> None:
    for mapping in stack.event_sources.for_function(PUBLISHER):
        poll_until_idle(mapping, "the stream publisher to go idle")


def bodies(stack: LocalStack, output: str) -> list[dict[str, Any]]:
    return [json.loads(message["Body"]) for message in peek(stack, output)]


def sns_may_send_to(stack: LocalStack, queues: list[str]) -> None:
    """From now on the stack's SNS deliveries are checked against its template with the
    queue policy's statement naming only `queues` (logical ids), as after a bad change."""
    transformed = copy.deepcopy(stack.template.transformed)
    resources = transformed["Resources"]
    (statement,) = resources["CustomerEventsQueuePolicy"]["Properties"]["PolicyDocument"][
        "Statement"
    ]
    statement["Resource"] = [{"Fn::GetAtt": [queue, "Arn"]} for queue in queues]
    if not queues:
        del resources["CustomerEventsQueuePolicy"]
    stack.deliveries.policies = load_effective_policies(transformed, stack.cloud.resolve)


@pytest.fixture
def audit_queue_refuses_sns(fresh_stack: LocalStack) -> Iterator[LocalStack]:
    """SNS may send to the notifications queue only."""
    saved = fresh_stack.deliveries.policies
    sns_may_send_to(fresh_stack, ["NotificationsQueue"])
    yield fresh_stack
    fresh_stack.deliveries.policies = saved


def test_an_event_the_audit_queue_refuses_waits_in_its_subscription_dlq_with_its_attributes(
    audit_queue_refuses_sns: LocalStack,
):
    """Mutation caught: the RedrivePolicy removed from AuditSubscription (template.yaml), or
    the emulator dropping a refused delivery as before (local_stack/services/sns.py `dead_letter`
    returning at once): the DLQ stays empty and the event is gone."""
    stack = audit_queue_refuses_sns
    created = CustomersClient(stack.api, "dynamodb").create()

    publish_changes(stack)

    assert peek(stack, "AuditQueueUrl") == []
    (dead,) = peek(stack, "AuditSubscriptionDeadLetterQueueUrl")
    event = json.loads(dead["Body"])  # raw delivery: the event itself, no SNS envelope
    assert (event["eventType"], event["customerId"]) == ("CustomerCreated", created["id"])
    attributes = {name: value["StringValue"] for name, value in dead["MessageAttributes"].items()}
    assert attributes == {"eventType": "CustomerCreated", "backend": "dynamodb"}
    assert [e["customerId"] for e in bodies(stack, "NotificationsQueueUrl")] == [created["id"]]


def test_a_filtered_out_event_is_not_a_failed_delivery(audit_queue_refuses_sns: LocalStack):
    """Only deliveries the filter policy lets through can fail: an update never reaches the
    notifications subscription, so nothing of it lands in that subscription's DLQ.

    Mutation caught: checking the delivery before the subscription's filter policy in
    local_stack/services/sns.py (as the emulator did): with the notifications queue refused too,
    the update would be dead-lettered there."""
    stack = audit_queue_refuses_sns
    sns_may_send_to(stack, [])  # neither queue
    api = CustomersClient(stack.api, "dynamodb")
    created = api.create()
    publish_changes(stack)
    before = bodies(stack, "NotificationsSubscriptionDeadLetterQueueUrl")

    renamed = api.call("PUT", f"/{created['id']}", {"name": "Renamed", "email": created["email"]})
    publish_changes(stack)

    assert renamed.status == 200
    assert [e["eventType"] for e in before] == ["CustomerCreated"]
    after = bodies(stack, "NotificationsSubscriptionDeadLetterQueueUrl")
    assert [e["eventType"] for e in after] == ["CustomerCreated"], "the update is not there"
    assert [e["eventType"] for e in bodies(stack, "AuditSubscriptionDeadLetterQueueUrl")] == [
        "CustomerCreated",
        "CustomerUpdated",
    ]


def test_an_event_for_a_deleted_queue_is_dead_lettered_and_redriven_once_the_queue_is_back(
    fresh_stack: LocalStack,
):
    """The queue is deleted under its subscription (SNS's stale metadata, a client-side
    error); the event waits in the subscription's DLQ; once the queue exists again
    `make redrive` moves it there and the audit consumer stores it.

    Mutation caught: catching nothing around moto's delivery in local_stack/services/sns.py (the
    publisher's Publish itself would fail with NonExistentQueue, which SNS never answers),
    or redrive without the subscription lookup (local_stack/commands/redrive.py: "expected one
    source queue")."""
    sqs = fresh_stack.cloud.client("sqs")
    outputs = fresh_stack.outputs()
    attributes = sqs.get_queue_attributes(QueueUrl=outputs["AuditQueueUrl"], AttributeNames=["All"])
    sqs.delete_queue(QueueUrl=outputs["AuditQueueUrl"])
    created = CustomersClient(fresh_stack.api, "dynamodb").create()

    publish_changes(fresh_stack)
    dead = bodies(fresh_stack, "AuditSubscriptionDeadLetterQueueUrl")
    kept = {
        key: value
        for key, value in attributes["Attributes"].items()
        if key in ("KmsMasterKeyId", "VisibilityTimeout", "MessageRetentionPeriod", "RedrivePolicy")
    }
    name = outputs["AuditQueueUrl"].rsplit("/", 1)[1]
    sqs.create_queue(QueueName=name, Attributes=kept)
    moved = redrive(sqs, outputs["AuditSubscriptionDeadLetterQueueUrl"], boto3.client("sns"))
    for mapping in fresh_stack.event_sources.for_function(AUDIT):
        poll_until_idle(mapping, "the audit queue to drain")

    assert [(e["eventType"], e["customerId"]) for e in dead] == [("CustomerCreated", created["id"])]
    assert moved == 1
    assert peek(fresh_stack, "AuditSubscriptionDeadLetterQueueUrl") == []
    trail = fresh_stack.api.request("GET", f"/dynamodb/customers/{created['id']}/events")
    assert [item["type"] for item in trail.json()["items"]] == ["CustomerCreated"]
