"""The DLQ redrive drill: a message dead-lettered during an outage is redriven and lands."""

import json
import uuid
from collections.abc import Iterator

import pytest

from local_stack.assembly.stack import LocalStack
from local_stack.commands.redrive import redrive
from local_stack.iam.gate import Fault
from tests.integration.test_fanout import _event
from tests.support.polling import receive_all


@pytest.fixture
def outage(fresh_stack: LocalStack) -> Iterator[Fault]:
    """DynamoDB answers the audit consumer's writes with 500 until the fault is ended."""
    fault = fresh_stack.inject_fault(
        "CustomerAuditFunction", "dynamodb:PutItem", "InternalServerError", count=10_000
    )
    yield fault
    fault.remaining = 0


def test_messages_dead_lettered_in_an_outage_land_after_a_redrive(
    fresh_stack: LocalStack, outage: Fault
):
    sqs = fresh_stack.cloud.client("sqs")
    outputs = fresh_stack.outputs()
    event = _event(str(uuid.uuid4()))
    sqs.send_message(QueueUrl=outputs["AuditQueueUrl"], MessageBody=json.dumps(event))
    fresh_stack.event_sources.drain()
    dlq = outputs["AuditDeadLetterQueueUrl"]
    depth = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
    assert depth["Attributes"]["ApproximateNumberOfMessages"] == "1"

    outage.remaining = 0  # the table is reachable again
    moved = redrive(sqs, dlq)
    fresh_stack.event_sources.drain()

    assert moved == 1
    trail = fresh_stack.api.request("GET", f"/dynamodb/customers/{event['customerId']}/events")
    assert [i["type"] for i in trail.json()["items"]] == ["CustomerCreated"]


def test_a_redrive_leaves_the_dlq_empty_however_many_batches_it_holds(fresh_stack: LocalStack):
    """More messages in the DLQ than one receive returns (ten): every one is moved, the
    DLQ ends empty, and each message is on the queue once.

    Mutation caught: one receive instead of the loop in local_stack/commands/redrive.py `redrive`
    (the DLQ keeps all but ten), or a message sent on without being deleted from the DLQ
    (it stays there, and a second redrive would duplicate it)."""
    sqs = fresh_stack.cloud.client("sqs")
    outputs = fresh_stack.outputs()
    dlq = outputs["AuditDeadLetterQueueUrl"]
    events = [_event(str(uuid.uuid4())) for _ in range(23)]
    for event in events:  # where SQS's redrive policy puts what the consumer kept failing
        sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps(event))

    moved = redrive(sqs, dlq)

    assert moved == len(events)
    depth = sqs.get_queue_attributes(
        QueueUrl=dlq,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert depth == {  # nothing left, not even in flight
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesNotVisible": "0",
    }
    queued = receive_all(sqs, outputs["AuditQueueUrl"])
    assert sorted(json.loads(m["Body"])["eventId"] for m in queued) == sorted(
        e["eventId"] for e in events
    )
