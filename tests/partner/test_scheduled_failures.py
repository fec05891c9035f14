"""A scheduled run that fails is not lost: the scheduler invokes asynchronously, Lambda retries
the run (EventInvokeConfig, twice) and then records it in the function's on-failure queue,
which an alarm watches. The schedule's own DLQ only ever sees runs it could not start."""

import json

from local_stack.assembly.stack import LocalStack
from local_stack.services.event_sources import ScheduleMapping

FETCHER = "PartnerFetcherFunction"


def test_a_run_that_keeps_failing_is_retried_then_kept_in_the_on_failure_queue(
    fresh_stack: LocalStack,
):
    """The feed URL parameter is gone, so every try fails before fetching anything.
    Catches: failed scheduled runs swallowed (the local stack used to drop them, and so
    would AWS without the EventInvokeConfig), the retries not made, or the function's role
    unable to write to its encrypted on-failure queue (its SQS and KMS grants)."""
    outputs = fresh_stack.outputs()
    fresh_stack.cloud.client("ssm").delete_parameter(Name=outputs["PartnerFeedUrlParameterName"])
    (schedule,) = fresh_stack.event_sources.for_function(FETCHER)
    assert isinstance(schedule, ScheduleMapping)

    assert schedule.deliver() is None

    reads = fresh_stack.calls(FETCHER, "ssm:GetParameter")
    assert len(reads) == 1 + 2, "the first try and Lambda's two retries"
    sqs = fresh_stack.cloud.client("sqs")
    messages = sqs.receive_message(
        QueueUrl=outputs["PartnerFetcherFailureQueueUrl"], MaxNumberOfMessages=10
    ).get("Messages", [])
    (record,) = [json.loads(message["Body"]) for message in messages]
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert "ParameterNotFound" in json.dumps(record["responsePayload"])
    assert not fresh_stack.calls(FETCHER, allowed=False), "every call of the role was allowed"
