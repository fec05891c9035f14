"""The partner sync end to end: schedule -> fetcher -> ingest queue -> writer -> MySQL.

Real HTTP (the fake partner on 127.0.0.1), moto for SSM and SQS, real MySQL, the template's
functions. Running the sync twice must leave each partner customer exactly once.
"""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymysql
import pytest

from customer_platform import aws
from local_stack.partner_feed import PartnerFeed, sample_rows
from local_stack.stack import LocalStack
from tests.support.customers import CustomersClient
from tests.support.mysql import secret_document
from tests.support.polling import poll_until_idle

WRITER = "PartnerWriterFunction"
EVENTS = Path(__file__).resolve().parents[2] / "events"


@pytest.fixture
def feed() -> Iterator[PartnerFeed]:
    server = PartnerFeed(rows=sample_rows(40)).start()
    yield server
    server.stop()


@pytest.fixture
def sync_stack(fresh_stack: LocalStack, feed: PartnerFeed) -> LocalStack:
    aws.reset_clients()
    aws.ssm().put_parameter(
        Name=fresh_stack.outputs()["PartnerFeedUrlParameterName"], Value=feed.url, Overwrite=True
    )
    return fresh_stack


def run_sync(stack: LocalStack) -> dict[str, Any]:
    """One scheduled run, then the writer drains the ingest queue."""
    summary: dict[str, Any] = stack.function("PartnerFetcherFunction").invoke({"id": "run"}).result
    for mapping in stack.event_sources.for_function(WRITER):
        poll_until_idle(mapping, "the ingest queue to drain")
    return summary


def rows(stack: LocalStack) -> dict[str, tuple[Any, ...]]:
    """partner_id -> (id, name, email, created_at, updated_at) of synced customers."""
    secret = secret_document(stack)
    connection = pymysql.connect(
        host=secret["host"],
        port=int(secret["port"]),
        user=secret["username"],
        password=secret["password"],
        database=secret["dbname"],
    )
    with connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT partner_id, id, name, email, created_at, updated_at FROM customers "
            "WHERE partner_id IS NOT NULL"
        )
        return {row[0]: row[1:] for row in cursor.fetchall()}


def test_a_sync_writes_every_valid_partner_row(sync_stack: LocalStack):
    summary = run_sync(sync_stack)

    written = rows(sync_stack)
    assert summary["valid"] == 40
    assert sorted(written, key=int) == [str(i) for i in range(1, 41)]
    assert written["7"][1:3] == ("Partner Customer 7", "partner.7@example.org")


def test_running_the_sync_twice_leaves_the_same_rows(sync_stack: LocalStack):
    run_sync(sync_stack)
    first = rows(sync_stack)

    run_sync(sync_stack)

    assert rows(sync_stack) == first, "same ids, values and timestamps"


def test_a_changed_name_or_email_is_updated_in_place(sync_stack: LocalStack, feed: PartnerFeed):
    run_sync(sync_stack)
    before = rows(sync_stack)
    feed.rows[0]["name"] = "Renamed Partner"
    feed.rows[1]["email"] = "moved.2@example.org"

    run_sync(sync_stack)

    after = rows(sync_stack)
    assert after["1"][:3] == (before["1"][0], "Renamed Partner", "partner.1@example.org")
    assert after["2"][:3] == (before["2"][0], "Partner Customer 2", "moved.2@example.org")
    assert after["1"][4] > before["1"][4]
    assert after["2"][4] > before["2"][4]
    assert after["3"] == before["3"], "an unchanged row keeps its updated_at"


def test_a_row_whose_email_belongs_to_another_customer_is_rejected_alone(
    sync_stack: LocalStack, feed: PartnerFeed
):
    api = CustomersClient(sync_stack.api, "rds")
    taken = api.create(name="API Customer", email="partner.5@example.org")

    run_sync(sync_stack)

    written = rows(sync_stack)
    assert "5" not in written
    assert len(written) == 39, "its neighbours were written"
    assert api.call("GET", f"/{taken['id']}").json()["name"] == "API Customer"
    queue = sync_stack.outputs()["IngestDeadLetterQueueUrl"]
    depth = sync_stack.cloud.client("sqs").get_queue_attributes(
        QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"]
    )
    assert depth["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_the_sample_ingest_batch_is_written_and_a_bad_message_fails_alone(fresh_stack: LocalStack):
    event = json.loads((EVENTS / "partner_writer" / "ingest-batch.json").read_text())

    result = fresh_stack.function(WRITER).invoke(event)

    assert [f["itemIdentifier"] for f in result.result["batchItemFailures"]] == [
        event["Records"][1]["messageId"]
    ]
    assert sorted(rows(fresh_stack)) == ["101", "102", "103"]
    assert "partner rows written" in result.logs
