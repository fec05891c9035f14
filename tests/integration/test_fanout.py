"""Customer events end to end: API -> stream -> publisher -> SNS -> queues -> consumers.

Event sources are drained explicitly, so each test sees the batches a Lambda poller would
have delivered, in order, and can stop in between to look at the queues.
"""

import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from moto.backends import get_backend

from customer_platform import aws
from local_stack.assembly.stack import LocalStack
from local_stack.services.endpoint import AwsEndpoint
from local_stack.services.event_sources import SqsMapping, StreamMapping
from tests.conftest import deploy
from tests.support.customers import CustomersClient, unique_email
from tests.support.polling import poll_until_idle, receive_all

PUBLISHER = "CustomerEventsPublisherFunction"
AUDIT = "CustomerAuditFunction"
WELCOME = "WelcomeEmailFunction"


@pytest.fixture
def fanout(fresh_stack: LocalStack) -> LocalStack:
    """A private stack: queue counts in these tests must not see other tests' events."""
    aws.reset_clients()
    return fresh_stack


def queue_url(stack: LocalStack, output: str) -> str:
    return str(stack.outputs()[output])


def peek(stack: LocalStack, output: str) -> list[dict[str, Any]]:
    """Every message on a queue, left on it (received, then made visible again)."""
    sqs = stack.cloud.client("sqs")
    url = queue_url(stack, output)
    messages = receive_all(sqs, url, MessageAttributeNames=["All"])
    for message in messages:
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    return messages


RELAY = "OutboxRelayFunction"
AURORA, AURORA_RELAY = "CustomersAuroraFunction", "AuroraOutboxRelayFunction"
BACKENDS = ["dynamodb", "rds", "aurora", "django"]


def run_stream(stack: LocalStack, rounds: int = 1) -> None:
    """Publish what changed: the DynamoDB stream's publisher, the MySQL outbox relay, and the
    Aurora outbox's sweep (an Aurora write publishes its own events unless SNS refused)."""
    for _ in range(rounds):
        for name in (PUBLISHER, RELAY, AURORA_RELAY):
            for mapping in stack.event_sources.for_function(name):
                mapping.poll()


def run_consumers(stack: LocalStack) -> None:
    for name in (AUDIT, WELCOME):
        for mapping in stack.event_sources.for_function(name):
            poll_until_idle(mapping, f"{name}'s queue to drain")


def create_update_delete(api: CustomersClient) -> str:
    created = api.create()
    api.call("PUT", f"/{created['id']}", {"name": "Renamed", "email": unique_email()})
    assert api.call("DELETE", f"/{created['id']}").status == 204
    return str(created["id"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_each_change_is_one_event_delivered_where_the_filters_say(fanout: LocalStack, backend: str):
    api = CustomersClient(fanout.api, backend)
    customer_id = create_update_delete(api)

    run_stream(fanout)

    audit = [json.loads(m["Body"]) for m in peek(fanout, "AuditQueueUrl")]
    notifications = [json.loads(m["Body"]) for m in peek(fanout, "NotificationsQueueUrl")]
    assert [e["eventType"] for e in audit] == [
        "CustomerCreated",
        "CustomerUpdated",
        "CustomerDeleted",
    ]
    assert [e["eventType"] for e in notifications] == ["CustomerCreated"]
    assert {e["customerId"] for e in audit + notifications} == {customer_id}
    first = audit[0]
    assert first["version"] == 1
    assert first["backend"] == backend
    assert set(first) >= {"eventType", "eventId", "occurredAt", "customerId", "customer"}
    assert len({e["eventId"] for e in audit}) == 3


def test_event_type_travels_as_a_message_attribute(fanout: LocalStack):
    CustomersClient(fanout.api, "dynamodb").create()

    run_stream(fanout)

    message = peek(fanout, "NotificationsQueueUrl")[0]
    assert message["MessageAttributes"]["eventType"]["StringValue"] == "CustomerCreated"


@pytest.mark.parametrize("backend", BACKENDS)
def test_consumers_fill_the_events_endpoint_oldest_first(fanout: LocalStack, backend: str):
    api = CustomersClient(fanout.api, backend)
    customer_id = create_update_delete(api)
    assert api.call("GET", f"/{customer_id}/events").json() == {"items": []}

    run_stream(fanout)
    run_consumers(fanout)

    items = api.call("GET", f"/{customer_id}/events").json()["items"]
    assert [i["type"] for i in items] == ["CustomerCreated", "CustomerUpdated", "CustomerDeleted"]
    assert all(i["customerId"] == customer_id for i in items)
    times = [i["occurredAt"] for i in items]
    assert times == sorted(times)
    assert not peek(fanout, "AuditQueueUrl")


def test_the_welcome_consumer_records_a_dry_run_without_a_sender(fanout: LocalStack):
    created = CustomersClient(fanout.api, "dynamodb").create()

    run_stream(fanout)
    run_consumers(fanout)

    table = fanout.outputs()["NotificationsTableName"]
    items = aws.dynamodb().scan(TableName=table)["Items"]
    mine = [i for i in items if i["customerId"]["S"] == created["id"]]
    assert [i["mode"]["S"] for i in mine] == ["dry-run"]


def test_events_endpoint_for_unknown_customer_is_an_empty_list(stack: LocalStack):
    response = stack.api.request("GET", f"/rds/customers/{uuid.uuid4()}/events")

    assert response.status == 200
    assert response.json() == {"items": []}


def _event(customer_id: str | None = None, event_type: str = "CustomerCreated") -> dict[str, Any]:
    customer_id = customer_id or str(uuid.uuid4())
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {
        "version": 1,
        "eventType": event_type,
        "eventId": str(uuid.uuid4()),
        "occurredAt": now,
        "customerId": customer_id,
        "backend": "dynamodb",
        "customer": {
            "id": customer_id,
            "name": "Queue Sent",
            "email": unique_email(),
            "createdAt": now,
            "updatedAt": now,
        },
    }


def test_a_poison_message_reaches_the_dlq_without_holding_back_its_batch(fanout: LocalStack):
    sqs = fanout.cloud.client("sqs")
    url = queue_url(fanout, "AuditQueueUrl")
    good = [_event() for _ in range(4)]
    sqs.send_message_batch(
        QueueUrl=url,
        Entries=[{"Id": "poison", "MessageBody": "{not an event"}]
        + [{"Id": f"g{i}", "MessageBody": json.dumps(e)} for i, e in enumerate(good)],
    )
    (mapping,) = [m for m in fanout.event_sources.for_function(AUDIT) if isinstance(m, SqsMapping)]

    first_round = mapping.poll()
    for _ in range(10):
        mapping.poll()

    assert first_round == 5, "all five arrived in one batch"
    trail = CustomersClient(fanout.api, "dynamodb")
    for event in good:
        items = trail.call("GET", f"/{event['customerId']}/events").json()["items"]
        assert [i["type"] for i in items] == ["CustomerCreated"]
    dead = peek(fanout, "AuditDeadLetterQueueUrl")
    assert [m["Body"] for m in dead] == ["{not an event"]
    assert not peek(fanout, "AuditQueueUrl")


def metric_records(stack: LocalStack, function: str) -> list[dict[str, Any]]:
    """The EMF records (embedded metrics) in a function's log: what CloudWatch reads."""
    return [
        json.loads(line)
        for line in stack.runtime.logs.path(function).read_text().splitlines()
        if line.startswith("{") and '"_aws"' in line
    ]


def audit_metrics(stack: LocalStack) -> Counter[str]:
    """The audit consumer's metrics, summed from the EMF records in its log (what CloudWatch
    would chart from the same lines)."""
    totals: Counter[str] = Counter()
    for record in metric_records(stack, AUDIT):
        for metric in record["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
            values = record[metric["Name"]]
            totals[metric["Name"]] += int(sum(values) if isinstance(values, list) else values)
    return totals


def test_the_same_event_delivered_twice_is_stored_once(fanout: LocalStack):
    """SQS delivers at least once: a redelivery (here in a second invocation, as after a
    visibility timeout) must not be audited twice. The trail's key derives from the event, so
    counting items cannot tell; the consumer's own record of what it stored can.

    Mutation caught: `ConditionExpression="attribute_not_exists(sk)"` removed from
    AuditTrail.record (customer_platform/events/audit.py): the second put overwrites and
    counts as stored, AuditEventsStored becomes 2 and AuditDuplicatesIgnored 0."""
    sqs = fanout.cloud.client("sqs")
    event = _event()
    for _ in range(2):
        sqs.send_message(QueueUrl=queue_url(fanout, "AuditQueueUrl"), MessageBody=json.dumps(event))
        run_consumers(fanout)

    trail = CustomersClient(fanout.api, "dynamodb")
    items = trail.call("GET", f"/{event['customerId']}/events").json()["items"]
    assert len(items) == 1
    metrics = audit_metrics(fanout)
    assert (metrics["AuditEventsStored"], metrics["AuditDuplicatesIgnored"]) == (1, 1)


@pytest.fixture
def sns_outage(fanout: LocalStack) -> Iterator[Callable[[], None]]:
    """SNS answers the publishers' Publish calls with 503 (at the local AWS endpoint) until
    the test calls the function it is given: the outage is over."""
    faults = [
        fanout.inject_fault(name, "sns:Publish", "ServiceUnavailable", status=503, count=10_000)
        for name in (PUBLISHER, RELAY, AURORA, AURORA_RELAY)
    ]

    def end() -> None:
        for fault in faults:
            fault.remaining = 0

    yield end
    end()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_failed_publish_loses_no_event(
    fanout: LocalStack, sns_outage: Callable[[], None], backend: str
):
    api = CustomersClient(fanout.api, backend)
    created = api.create()

    run_stream(fanout, rounds=3)
    assert not peek(fanout, "AuditQueueUrl"), "nothing was published during the outage"

    sns_outage()
    run_stream(fanout)

    audit = [json.loads(m["Body"]) for m in peek(fanout, "AuditQueueUrl")]
    assert [(e["eventType"], e["customerId"]) for e in audit] == [
        ("CustomerCreated", created["id"])
    ]
    assert not peek(fanout, "PublisherFailureQueueUrl")


@pytest.mark.parametrize("backend", BACKENDS)
def test_events_keep_flowing_after_a_refused_write(fanout: LocalStack, backend: str):
    api = CustomersClient(fanout.api, backend)
    first = api.create()
    run_stream(fanout)
    assert api.call("POST", body={"name": "Twin", "email": first["email"]}).status == 409

    second = api.create()
    run_stream(fanout)

    audit = [json.loads(m["Body"]) for m in peek(fanout, "AuditQueueUrl")]
    assert [e["customerId"] for e in audit] == [first["id"], second["id"]]


@pytest.fixture
def ses_stack(aws: AwsEndpoint, mysql_server: Any, function_logs: Path) -> Iterator[LocalStack]:
    deployed = deploy(
        aws,
        function_logs,
        f"t-ses-{uuid.uuid4().hex[:8]}",
        {"WelcomeSenderEmail": "welcome@example.com"},
    )
    deployed.cloud.client("sesv2").create_email_identity(EmailIdentity="welcome@example.com")
    yield deployed
    deployed.close()


def emails_sent_to(stack: LocalStack, recipient: str) -> list[Any]:
    """The emails moto's SES actually sent to `recipient`: what the mailbox would receive."""
    account = stack.cloud.client("sts").get_caller_identity()["Account"]
    ses = get_backend("ses")[account][stack.region]
    return [m for m in ses.sent_messages if recipient in m.destinations.get("ToAddresses", [])]


def test_a_welcome_event_delivered_twice_sends_one_email(ses_stack: LocalStack):
    """SQS delivers at least once; the customer must still get one welcome email.

    Sending an email cannot be made conditional, so this is the side effect idempotency
    exists to prevent, counted where it lands (moto's SES), across two deliveries of the
    same event in two invocations, as a redelivery after a timeout arrives.

    Mutation caught: calling `_send` instead of the Powertools-guarded `send_once()` in
    functions/welcome_email/app.py sends a second email (2 != 1 after the repeat).
    """
    sqs = ses_stack.cloud.client("sqs")
    url = ses_stack.outputs()["NotificationsQueueUrl"]
    event = _event()
    recipient = event["customer"]["email"]

    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(event))
    run_consumers(ses_stack)
    first = emails_sent_to(ses_stack, recipient)
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(event))
    run_consumers(ses_stack)

    assert len(first) == 1, "the first delivery sends the email"
    assert [m.id for m in emails_sent_to(ses_stack, recipient)] == [first[0].id], "no second email"
    (email,) = first
    assert email.source == "welcome@example.com"
    table = ses_stack.outputs()["NotificationsTableName"]
    items = ses_stack.cloud.client("dynamodb").scan(TableName=table)["Items"]
    assert [(i["eventId"]["S"], i["mode"]["S"], i["messageId"]["S"]) for i in items] == [
        (event["eventId"], "sent", email.id)
    ]
    assert not peek(ses_stack, "NotificationsQueueUrl")
    assert not peek(ses_stack, "NotificationsDeadLetterQueueUrl")


def test_a_stream_batch_that_keeps_failing_is_recorded_in_the_on_failure_queue(
    fanout: LocalStack,
):
    """After MaximumRetryAttempts, Lambda sends the batch's coordinates to the on-failure
    destination with the function's role; the queue is encrypted with the stack key, so
    the role needs kms:GenerateDataKey and kms:Decrypt through SQS as well as
    sqs:SendMessage. Catches: either missing (AWS would drop the record silently, and the
    PublisherFailureAlarm would never fire)."""
    # A failure the SDK does not retry (the topic's key disabled), so each of Lambda's
    # attempts fails at once.
    outage = fanout.inject_fault(PUBLISHER, "sns:Publish", "KMSDisabled", status=400, count=10_000)
    created = CustomersClient(fanout.api, "dynamodb").create()
    (mapping,) = fanout.event_sources.for_function(PUBLISHER)
    assert isinstance(mapping, StreamMapping)

    for _ in range(mapping.max_retries + 1):
        mapping.poll()
    outage.remaining = 0

    (record,) = [json.loads(m["Body"]) for m in peek(fanout, "PublisherFailureQueueUrl")]
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["DDBStreamBatchInfo"]["batchSize"] == 1
    denied = fanout.calls(PUBLISHER, allowed=False)
    assert {r.reason for r in denied} == {"injected-fault"}, [r.message for r in denied]
    assert created["id"]
