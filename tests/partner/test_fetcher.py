"""The partner fetcher against a real HTTP server on 127.0.0.1, with moto for SQS."""

import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from customer_platform.partners.fetch import FetchError, fetch_feed, http_pool
from customer_platform.partners.fetching import fetch_and_queue
from customer_platform.partners.models import PartnerCustomer
from customer_platform.partners.queueing import (
    ENTRIES_PER_BATCH,
    MESSAGE_BUDGET,
    SQS_MAX_BYTES,
    _batches,
    messages,
)
from local_stack.services.partner_feed import Fault, PartnerFeed, sample_rows
from tests.support.polling import receive_all


def fast_pool() -> Any:
    """Two retries, short backoff, 0.3 s read timeout: the same logic, test-sized."""
    return http_pool(retries=2, backoff=0.01, connect_timeout=1.0, read_timeout=0.3)


@pytest.fixture
def feed() -> Iterator[PartnerFeed]:
    server = PartnerFeed(rows=sample_rows(25)).start()
    yield server
    server.stop()


@pytest.fixture
def queue(aws: None) -> tuple[Any, str]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName=f"ingest-{id(sqs)}")["QueueUrl"]
    return sqs, url


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    return [json.loads(message["Body"]) for message in receive_all(sqs, url, delete=True)]


def test_follows_link_header_pages_to_the_end(feed: PartnerFeed):
    result = fetch_feed(feed.url + "?_page=1&_limit=10", fast_pool())

    assert result.pages == 3
    assert [row["id"] for row in result.rows] == list(range(1, 26))


def test_a_500_then_a_200_is_retried_to_success(feed: PartnerFeed):
    feed.fail_next(Fault(status=500))

    result = fetch_feed(feed.url, fast_pool())

    assert len(result.rows) == 25
    assert len(feed.requests) == 2


def test_a_response_slower_than_the_read_timeout_is_retried(feed: PartnerFeed):
    feed.fail_next(Fault(delay_s=1.0))

    result = fetch_feed(feed.url, fast_pool())

    assert len(result.rows) == 25
    assert len(feed.requests) == 2


def test_a_partner_that_stays_down_fails_the_fetch(feed: PartnerFeed):
    feed.fail_next(*[Fault(status=503)] * 5)

    with pytest.raises(FetchError, match="503"):
        fetch_feed(feed.url, fast_pool())

    assert len(feed.requests) == 3, "one try and two retries, then give up"


def test_malformed_json_fails_the_fetch(feed: PartnerFeed):
    feed.fail_next(Fault(body=b"[{not json"))

    with pytest.raises(FetchError, match="malformed JSON"):
        fetch_feed(feed.url, fast_pool())


def test_valid_rows_are_queued_and_invalid_ones_counted(feed: PartnerFeed, queue: tuple[Any, str]):
    sqs, url = queue
    feed.rows[3]["email"] = "not-an-email"
    del feed.rows[4]["name"]
    feed.rows.append(dict(feed.rows[0], name="Renamed"))  # the same partner id again

    summary = fetch_and_queue(feed.url, "run-1", sqs, url, fast_pool())

    assert (summary.fetched, summary.valid, summary.rejected, summary.duplicates) == (26, 23, 2, 1)
    queued = [row for body in drain(sqs, url) for row in body["rows"]]
    assert len(queued) == 23
    first = next(row for row in queued if row["id"] == "1")
    assert first == {"id": "1", "name": "Renamed", "email": "partner.1@example.org"}


def test_a_failed_fetch_queues_nothing(feed: PartnerFeed, queue: tuple[Any, str]):
    sqs, url = queue
    # page 1 is served, then the partner fails for good
    feed.fail_next(Fault(), *[Fault(status=500)] * 5)

    with pytest.raises(FetchError):
        fetch_and_queue(feed.url + "?_page=1&_limit=10", "run-2", sqs, url, fast_pool())

    assert drain(sqs, url) == []


def test_messages_respect_the_size_budget():
    rows = [
        PartnerCustomer(id=str(i), name="n" * 100, email=f"{'e' * 200}{i}@example.org")
        for i in range(2000)
    ]

    bodies = list(messages("run", rows))

    assert all(len(body.encode()) <= MESSAGE_BUDGET < SQS_MAX_BYTES for body in bodies)
    assert sum(len(json.loads(b)["rows"]) for b in bodies) == 2000


@pytest.mark.parametrize(
    "name",
    ["n" * 100, "\U0001f600" * 100, "\u00e9" * 100],
    ids=["ascii", "4-byte characters", "2-byte characters"],
)
def test_every_message_fits_the_budget_in_utf8_bytes_envelope_included(name: str):
    """Catches: the budget counted in characters (a row of emoji names weighs four times its
    length in the bytes SQS counts) or without the envelope (the run id and the rows' list)."""
    # Given rows that fill messages to the budget, and a run id as long as the fetcher's
    rows = [
        PartnerCustomer(id=str(i), name=name, email=f"{'e' * 150}{i}@example.org")
        for i in range(3000)
    ]
    run_id = str(uuid.uuid4())

    bodies = list(messages(run_id, rows))

    # Then no message weighs more than one billed SQS request, and none is lost
    assert max(len(body.encode()) for body in bodies) <= MESSAGE_BUDGET
    assert sum(len(json.loads(b)["rows"]) for b in bodies) == 3000


def test_full_messages_go_ten_to_a_call_under_the_1_mib_limit():
    """Catches: the old 256 KiB call limit (four full messages per call, not ten)."""
    # Given 25 messages each filling the 64 KiB budget
    bodies = ["x" * MESSAGE_BUDGET] * 25

    batches = list(_batches(bodies))

    # Then each call but the last carries ten, and no call exceeds SQS's 1 MiB
    assert [len(batch) for batch in batches] == [ENTRIES_PER_BATCH, ENTRIES_PER_BATCH, 5]
    assert all(sum(len(b) for b in batch) <= SQS_MAX_BYTES == 1024 * 1024 for batch in batches)
