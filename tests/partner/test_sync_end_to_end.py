"""The partner sync end to end: schedule -> fetcher -> ingest queue -> writer -> MySQL.

Real HTTP (the fake partner on 127.0.0.1), moto for SSM and SQS, real MySQL, the template's
functions. Running the sync twice must leave each partner customer exactly once.
"""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from customer_platform import aws
from local_stack.assembly.stack import LocalStack
from local_stack.runtime.functions import FunctionError
from local_stack.services.event_sources import scheduled_event
from local_stack.services.mysql import ServerAddress, connect_with, quote_identifier
from local_stack.services.partner_feed import PartnerFeed, sample_rows
from tests.support.customers import CustomersClient
from tests.support.mysql import admin, local_tls, secret_document
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
    run = scheduled_event("daily", "run")
    summary: dict[str, Any] = stack.function("PartnerFetcherFunction").invoke(run).result
    for mapping in stack.event_sources.for_function(WRITER):
        poll_until_idle(mapping, "the ingest queue to drain")
    return summary


def rows(stack: LocalStack) -> dict[str, tuple[Any, ...]]:
    """partner_id -> (id, name, email, created_at, updated_at) of synced customers."""
    secret = secret_document(stack)
    connection = connect_with(secret, local_tls())
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


# -- partner changes are customer events too (outbox, in the writer's transaction) ---------


def outbox_events(stack: LocalStack) -> list[tuple[str, str]]:
    """(event type, customer id) of every event in the stack's MySQL outbox, oldest first."""
    secret = secret_document(stack)
    connection = connect_with(secret, local_tls())
    with connection, connection.cursor() as cursor:
        cursor.execute("SELECT event_type, customer_id FROM customer_events_outbox ORDER BY id")
        return [(row[0], row[1]) for row in cursor.fetchall()]


def trail(stack: LocalStack, customer_id: str) -> list[str]:
    response = CustomersClient(stack.api, "rds").call("GET", f"/{customer_id}/events")
    assert response.status == 200, response.body
    return [item["type"] for item in response.json()["items"]]


def test_synced_inserts_and_updates_reach_the_audit_trail_like_api_writes(
    sync_stack: LocalStack, feed: PartnerFeed
):
    """Mutation caught: an upsert that writes no outbox rows (partner changes invisible to
    the audit trail and the welcome email)."""
    # Given a first sync, relayed and consumed
    run_sync(sync_stack)
    sync_stack.event_sources.drain()
    first = rows(sync_stack)
    assert trail(sync_stack, first["1"][0]) == ["CustomerCreated"]
    assert len(outbox_events(sync_stack)) == 40

    # When the partner renames one customer and the sync runs again
    feed.rows[0]["name"] = "Renamed Partner"
    run_sync(sync_stack)
    sync_stack.event_sources.drain()

    # Then the renamed customer has one more event, the unchanged ones none
    assert trail(sync_stack, first["1"][0]) == ["CustomerCreated", "CustomerUpdated"]
    assert trail(sync_stack, first["2"][0]) == ["CustomerCreated"]
    assert outbox_events(sync_stack)[40:] == [("CustomerUpdated", first["1"][0])]


def test_a_partner_write_and_its_events_commit_together_or_not_at_all(
    fresh_stack: LocalStack, mysql_server: ServerAddress
):
    """Mutation caught: committing the upsert before the outbox insert (a customer written
    without its event when the outbox write fails)."""
    event = json.loads((EVENTS / "partner_writer" / "ingest-batch.json").read_text())
    first = {"Records": event["Records"][:1]}
    database = quote_identifier(secret_document(fresh_stack)["dbname"])

    # Given the outbox table is out of reach (its insert fails inside the transaction)
    with admin(mysql_server) as cursor:
        cursor.execute(f"RENAME TABLE {database}.customer_events_outbox TO {database}.outbox_away")
    try:
        # When the writer handles a message of partner rows
        with pytest.raises(FunctionError):
            fresh_stack.function(WRITER).invoke(first)

        # Then the message failed (back to the queue), and none of its rows was written
        assert rows(fresh_stack) == {}
    finally:
        with admin(mysql_server) as cursor:
            cursor.execute(
                f"RENAME TABLE {database}.outbox_away TO {database}.customer_events_outbox"
            )

    # And when it is delivered again, rows and events are written together
    assert fresh_stack.function(WRITER).invoke(first).result["batchItemFailures"] == []
    written = rows(fresh_stack)
    assert sorted(written) == ["101", "102"]
    assert sorted(outbox_events(fresh_stack)) == sorted(
        ("CustomerCreated", written[partner_id][0]) for partner_id in ("101", "102")
    )
