"""The DLQ redrive drill: a message dead-lettered during an outage is redriven and lands."""

import json
import uuid
from typing import Any

import pytest

from customer_platform import aws
from local_stack.redrive import redrive
from local_stack.stack import LocalStack
from tests.integration.test_fanout import _event


@pytest.fixture
def outage(fresh_stack: LocalStack) -> Any:
    """The audit consumer cannot write while its table is unreachable."""
    aws.reset_clients()
    client = (
        fresh_stack.function("CustomerAuditFunction").module("customer_platform.aws").dynamodb()
    )
    fault = {"active": True}

    def fail(**_: Any) -> None:
        if fault["active"]:
            raise ConnectionError("audit table unreachable")

    client.meta.events.register("before-call.dynamodb.PutItem", fail)
    yield fault
    client.meta.events.unregister("before-call.dynamodb.PutItem", fail)


def test_messages_dead_lettered_in_an_outage_land_after_a_redrive(
    fresh_stack: LocalStack, outage: dict[str, bool]
):
    sqs = fresh_stack.cloud.client("sqs")
    outputs = fresh_stack.outputs()
    event = _event(str(uuid.uuid4()))
    sqs.send_message(QueueUrl=outputs["AuditQueueUrl"], MessageBody=json.dumps(event))
    fresh_stack.event_sources.drain()
    dlq = outputs["AuditDeadLetterQueueUrl"]
    depth = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
    assert depth["Attributes"]["ApproximateNumberOfMessages"] == "1"

    outage["active"] = False
    moved = redrive(sqs, dlq)
    fresh_stack.event_sources.drain()

    assert moved == 1
    trail = fresh_stack.api.request("GET", f"/dynamodb/customers/{event['customerId']}/events")
    assert [i["type"] for i in trail.json()["items"]] == ["CustomerCreated"]
