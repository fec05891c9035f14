"""The deployed fetcher: the URL comes from the template's SSM parameter, rows go to the
template's ingest queue, and a partner outage fails the run with nothing queued."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from customer_platform import aws
from local_stack.assembly.stack import LocalStack
from local_stack.runtime.functions import FunctionError
from local_stack.services.event_sources import scheduled_event
from local_stack.services.partner_feed import Fault, PartnerFeed, sample_rows
from tests.support.polling import receive_all

SCHEDULED = Path(__file__).resolve().parents[2] / "events" / "partner_fetcher" / "scheduled.json"


@pytest.fixture
def feed() -> Iterator[PartnerFeed]:
    server = PartnerFeed(rows=sample_rows(30)).start()
    yield server
    server.stop()


@pytest.fixture
def partner_stack(fresh_stack: LocalStack, feed: PartnerFeed) -> LocalStack:
    aws.reset_clients()
    aws.ssm().put_parameter(
        Name=fresh_stack.outputs()["PartnerFeedUrlParameterName"], Value=feed.url, Overwrite=True
    )
    return fresh_stack


def queued_rows(stack: LocalStack) -> list[dict[str, str]]:
    sqs = stack.cloud.client("sqs")
    url = stack.outputs()["IngestQueueUrl"]
    rows = []
    for message in receive_all(sqs, url, delete=True):
        rows.extend(json.loads(message["Body"])["rows"])
    return rows


def test_the_scheduled_event_queues_every_valid_row(partner_stack: LocalStack):
    event = json.loads(SCHEDULED.read_text())

    invocation = partner_stack.function("PartnerFetcherFunction").invoke(event)

    summary = invocation.result
    assert (summary["fetched"], summary["valid"], summary["rejected"]) == (30, 30, 0)
    assert (
        summary["runId"] == event["id"] if "runId" in summary else summary["run_id"] == event["id"]
    )
    assert len(queued_rows(partner_stack)) == 30
    assert "partner fetch summary" in invocation.logs


def test_a_partner_outage_fails_the_run_visibly_and_queues_nothing(
    partner_stack: LocalStack, feed: PartnerFeed
):
    feed.fail_next(*[Fault(status=500)] * 10)

    with pytest.raises(FunctionError, match="500") as failed:
        partner_stack.function("PartnerFetcherFunction").invoke(scheduled_event("daily", "run"))

    assert queued_rows(partner_stack) == []
    assert '"PartnerFetchFailed":[1.0]' in failed.value.logs, "the alarm's metric was emitted"


def test_an_unreadable_feed_url_fails_the_run_with_the_alarms_metric(fresh_stack: LocalStack):
    """Mutation caught: reading the SSM parameter outside the guarded block (or dropping the
    PartnerConfigReadFailed metric) leaves a misconfigured sync without its alarm."""
    # Given the feed URL parameter is gone (deleted by hand, or never created in this region)
    fresh_stack.cloud.client("ssm").delete_parameter(
        Name=fresh_stack.outputs()["PartnerFeedUrlParameterName"]
    )

    # When the scheduled run starts
    with pytest.raises(FunctionError) as failed:
        fresh_stack.function("PartnerFetcherFunction").invoke(scheduled_event("daily", "run"))

    # Then it fails (Lambda retries it, then sends it to the on-failure destination), emits
    # the metric PartnerConfigReadFailedAlarm watches, and queues nothing
    assert '"PartnerConfigReadFailed":[1.0]' in failed.value.logs
    assert "cannot read the partner feed URL" in failed.value.logs
    assert queued_rows(fresh_stack) == []
    # in the namespace and with the dimensions the alarm watches (else it never fires)
    alarm = fresh_stack.template.source["Resources"]["PartnerConfigReadFailedAlarm"]["Properties"]
    (emitted,) = [
        record
        for line in failed.value.logs.splitlines()
        if line.startswith("{") and '"PartnerConfigReadFailed"' in line
        for record in [json.loads(line)]
        if "_aws" in record
    ]
    (metrics,) = emitted["_aws"]["CloudWatchMetrics"]
    assert metrics["Namespace"] == alarm["Namespace"]
    assert {name: emitted[name] for name in metrics["Dimensions"][0]} == {
        d["Name"]: d["Value"] for d in alarm["Dimensions"]
    }
