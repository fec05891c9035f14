"""A publish lost past the stream mapping's retry limit is recovered by `make replay`.

SNS refuses the publisher's Publish calls at the local endpoint (a key-disabled error,
which botocore does not retry) for longer than MaximumRetryAttempts: the mapping gives up
and records the batch's coordinates in PublisherFailureQueue, as Lambda does. The replay
tool then reads the coordinates, the records from the stream (AT_SEQUENCE_NUMBER) and
invokes the publisher through the local Lambda API with boto3, as it would invoke the
deployed function.
"""

import json
from collections.abc import Iterator
from typing import Any

import pytest

from local_stack.assembly.stack import LocalStack
from local_stack.iam.gate import Fault
from local_stack.services import lambda_api
from local_stack.services.event_sources import StreamMapping
from tests.integration.test_fanout import PUBLISHER, audit_metrics, peek, run_consumers
from tests.support.customers import CustomersClient
from tools.stream_replay import Batch, Report, lambda_invoker, replay


@pytest.fixture
def lambda_endpoint(fresh_stack: LocalStack) -> Iterator[str]:
    """The stack's Lambda Invoke API, as `make api` serves it."""
    server = lambda_api.serve(lambda_api.LambdaApi.from_stack(fresh_stack))
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def sns_refuses_the_publisher(fresh_stack: LocalStack) -> Iterator[Fault]:
    fault = fresh_stack.inject_fault(
        PUBLISHER, "sns:Publish", "KMSDisabled", status=400, count=10_000
    )
    yield fault
    fault.remaining = 0


def give_up(stack: LocalStack) -> None:
    """Poll the stream mapping until it has given up on what it holds."""
    (mapping,) = stack.event_sources.for_function(PUBLISHER)
    assert isinstance(mapping, StreamMapping)
    for _ in range(mapping.max_retries + 1):
        mapping.poll()


def run_replay(stack: LocalStack, lambda_url: str) -> Report:
    return replay(
        stack.cloud.client("sqs"),
        stack.cloud.client("dynamodbstreams"),
        lambda_invoker(lambda_api.client(lambda_url), PUBLISHER),
        stack.outputs()["PublisherFailureQueueUrl"],
    )


def trail(stack: LocalStack, customer_id: str) -> list[str]:
    response = stack.api.request("GET", f"/dynamodb/customers/{customer_id}/events")
    return [item["type"] for item in response.json()["items"]]


def failure_records(stack: LocalStack) -> list[dict[str, Any]]:
    return [json.loads(m["Body"]) for m in peek(stack, "PublisherFailureQueueUrl")]


def test_a_publish_lost_past_the_retry_limit_is_replayed_once(
    fresh_stack: LocalStack, lambda_endpoint: str, sns_refuses_the_publisher: Fault
):
    """Given a create and an update whose publishes SNS refused past the retry limit, when
    the outage ends and the failure queue is replayed, then both events reach the
    consumers, the failure record is deleted, and a second replay finds nothing.

    Mutation caught: reading the batch after its first sequence number
    (AFTER_SEQUENCE_NUMBER in tools/stream_replay.py `read_batch`): the create is never
    published; not deleting the message after success: the second replay republishes."""
    api = CustomersClient(fresh_stack.api, "dynamodb")
    created = api.create()
    api.call("PUT", f"/{created['id']}", {"name": "Renamed", "email": created["email"]})
    give_up(fresh_stack)
    sns_refuses_the_publisher.remaining = 0
    (record,) = failure_records(fresh_stack)
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert peek(fresh_stack, "AuditQueueUrl") == [], "the events are lost until replayed"

    first = run_replay(fresh_stack, lambda_endpoint)
    run_consumers(fresh_stack)
    second = run_replay(fresh_stack, lambda_endpoint)

    # three stream records: the create, its email guard (the publisher skips it), the update
    assert [(batch, count) for batch, count in first.replayed] == [
        (Batch.of(json.dumps(record)), 3)
    ]
    assert first.ok
    assert failure_records(fresh_stack) == []
    assert trail(fresh_stack, created["id"]) == ["CustomerCreated", "CustomerUpdated"]
    assert (second.replayed, second.ok) == ([], True)
    assert peek(fresh_stack, "AuditQueueUrl") == []


def test_replaying_a_batch_twice_changes_nothing_for_the_consumers(
    fresh_stack: LocalStack, lambda_endpoint: str, sns_refuses_the_publisher: Fault
):
    """The same failure record replayed twice (two operators, a replay retried after a
    timeout) publishes the same event ids twice; the audit trail stores each event once
    and the welcome consumer records one notification.

    Mutation caught: an event id that is not derived from the stream record (a fresh
    uuid4 in customer_platform/events/stream.py): the trail holds the create twice."""
    created = CustomersClient(fresh_stack.api, "dynamodb").create()
    give_up(fresh_stack)
    sns_refuses_the_publisher.remaining = 0
    (message,) = peek(fresh_stack, "PublisherFailureQueueUrl")
    sqs = fresh_stack.cloud.client("sqs")
    sqs.send_message(
        QueueUrl=fresh_stack.outputs()["PublisherFailureQueueUrl"], MessageBody=message["Body"]
    )

    report = run_replay(fresh_stack, lambda_endpoint)
    run_consumers(fresh_stack)

    assert [count for _, count in report.replayed] == [1, 1]
    assert trail(fresh_stack, created["id"]) == ["CustomerCreated"]
    metrics = audit_metrics(fresh_stack)
    assert (metrics["AuditEventsStored"], metrics["AuditDuplicatesIgnored"]) == (1, 1)
    table = fresh_stack.outputs()["NotificationsTableName"]
    items = fresh_stack.cloud.client("dynamodb").scan(TableName=table)["Items"]
    assert [i["customerId"]["S"] for i in items] == [created["id"]]


def test_a_batch_that_fails_again_stays_in_the_failure_queue(
    fresh_stack: LocalStack, lambda_endpoint: str, sns_refuses_the_publisher: Fault
):
    """Mutation caught: deleting the failure message before (or whatever the outcome of)
    the publisher's invocation in tools/stream_replay.py: the coordinates, the only trace
    of the lost events, would be gone while SNS still refuses them."""
    CustomersClient(fresh_stack.api, "dynamodb").create()
    give_up(fresh_stack)

    report = run_replay(fresh_stack, lambda_endpoint)

    assert [batch for batch, _ in report.failed] == [
        Batch.of(json.dumps(record)) for record in failure_records(fresh_stack)
    ]
    assert not report.ok
    assert len(failure_records(fresh_stack)) == 1, "kept, and visible again for the next replay"
    assert report.replayed == []
