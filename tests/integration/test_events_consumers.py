"""The sample events of the event-driven functions, sent as `sam local invoke -e` would."""

import json
from pathlib import Path
from typing import Any

import pytest

from local_stack.assembly.stack import LocalStack
from tests.support.polling import receive_all

EVENTS = Path(__file__).resolve().parents[2] / "events"
POISON_ID = "00000003-aaaa-4bbb-8ccc-000000000003"


def invoke(stack: LocalStack, function: str, event_file: str) -> Any:
    event = json.loads((EVENTS / event_file).read_text())
    return stack.function(function).invoke(event).result


@pytest.mark.parametrize(
    ("function", "event_file", "failed"),
    [
        ("CustomerAuditFunction", "customer_audit/sqs-batch.json", []),
        ("CustomerAuditFunction", "customer_audit/sqs-mixed-batch.json", [POISON_ID]),
        ("WelcomeEmailFunction", "welcome_email/sqs-batch.json", []),
        ("WelcomeEmailFunction", "welcome_email/sqs-mixed-batch.json", [POISON_ID]),
        ("CustomerEventsPublisherFunction", "customer_events_publisher/stream-batch.json", []),
    ],
)
def test_a_batch_reports_exactly_its_bad_records(
    fresh_stack: LocalStack, function: str, event_file: str, failed: list[str]
):
    event = json.loads((EVENTS / event_file).read_text())
    invocation = fresh_stack.function(function).invoke(event)

    assert [f["itemIdentifier"] for f in invocation.result["batchItemFailures"]] == failed
    # What CloudWatch Logs would show for a failed record: a WARNING with its exception.
    # Catches: the BatchProcessor built without the function's logger (Powertools then
    # logs a failed record at DEBUG only, and the record fails with no trace in the log).
    warnings = [
        line for line in invocation.logs.splitlines() if "Record processing exception" in line
    ]
    assert len(warnings) == len(failed), invocation.logs
    assert all('"level":"WARNING"' in line and '"exception"' in line for line in warnings)


def test_the_audited_sample_batch_is_served_by_the_events_endpoint(fresh_stack: LocalStack):
    invoke(fresh_stack, "CustomerAuditFunction", "customer_audit/sqs-batch.json")

    response = invoke(fresh_stack, "CustomerAuditFunction", "customer_audit/api-events.json")

    assert response["statusCode"] == 200
    items = json.loads(response["body"])["items"]
    assert [i["type"] for i in items] == ["CustomerCreated", "CustomerUpdated"]


def test_the_sample_stream_batch_publishes_three_events_and_skips_the_guard(
    fresh_stack: LocalStack,
):
    invoke(
        fresh_stack,
        "CustomerEventsPublisherFunction",
        "customer_events_publisher/stream-batch.json",
    )

    sqs = fresh_stack.cloud.client("sqs")
    url = fresh_stack.outputs()["AuditQueueUrl"]
    bodies = [json.loads(m["Body"]) for m in receive_all(sqs, url)]
    assert [b["eventType"] for b in bodies] == [
        "CustomerCreated",
        "CustomerUpdated",
        "CustomerDeleted",
    ]
    deleted = bodies[2]
    assert deleted["occurredAt"] > bodies[1]["occurredAt"]
