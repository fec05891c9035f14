"""The refusal message of a wrong event: which source was expected, what came, and never a
value from the event (events carry customer data; the message reaches the logs).

Every function against every event shape is tests/integration/test_wrong_event_sources.py;
these are the edges no service sends.
"""

from typing import Any

import pytest

from customer_platform.event_sources import Source, WrongEventSource, require, source_of

SQS_RECORD = {"messageId": "1", "body": "{}", "eventSource": "aws:sqs"}
S3_RECORD = {"eventSource": "aws:s3", "s3": {}}


def refusal(event: Any, *accepted: Source) -> str:
    with pytest.raises(WrongEventSource) as raised:
        require(event, *accepted)
    return str(raised.value)


def test_an_event_of_no_known_source_is_named_by_its_fields_never_its_values():
    """Catches: the message quoting the event (an email, a password) into the logs."""
    message = refusal({"email": "ada@example.com", "password": "hunter2"}, Source.SQS)

    assert message == (
        "expected an SQS event, got an event of no known source (fields: email, password)"
    )
    assert "ada@example.com" not in message
    assert "hunter2" not in message


@pytest.mark.parametrize(
    "records",
    [[SQS_RECORD, S3_RECORD], [], [{"body": "no eventSource"}], "not a list"],
    ids=["mixed", "empty", "no-event-source", "not-a-list"],
)
def test_records_no_single_service_sends_are_no_source(records: Any):
    """Catches: a batch judged by its first record (an S3 record behind an SQS one would
    reach the SQS consumer)."""
    assert source_of({"Records": records}) is None
    assert refusal({"Records": records}, Source.SQS).startswith("expected an SQS event, got an")


@pytest.mark.parametrize(
    ("event", "kind"), [([], "array"), ("Records", "string"), (7, "number"), (None, "null")]
)
def test_an_event_that_is_not_a_json_object_is_refused(event: Any, kind: str):
    assert refusal(event, Source.DIRECT).endswith(f"got a JSON {kind}, not an object")


def test_every_accepted_source_is_named_in_the_message():
    message = refusal({}, Source.SCHEDULE, Source.CUSTOM_RESOURCE)

    assert message == (
        "expected a scheduled event or a CloudFormation custom resource request,"
        " got an empty event (a direct invoke)"
    )
