"""The deployed fetcher: the URL comes from the template's SSM parameter, rows go to the
template's ingest queue, and a partner outage fails the run with nothing queued."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from customer_platform import aws
from local_stack.functions import FunctionError
from local_stack.partner_feed import Fault, PartnerFeed, sample_rows
from local_stack.stack import LocalStack
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
        partner_stack.function("PartnerFetcherFunction").invoke({"id": "run"})

    assert queued_rows(partner_stack) == []
    assert '"PartnerFetchFailed":[1.0]' in failed.value.logs, "the alarm's metric was emitted"
