"""The S3 ObjectCreated notification: what moto's bucket emits for a real upload, what the
document-uploaded function does with it, and what happens when it keeps failing."""

import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from customer_platform import aws
from customer_platform.documents.dynamodb import DynamoDBDocumentRepository
from customer_platform.documents.models import DocumentStatus
from local_stack.assembly.stack import LocalStack
from local_stack.services.s3 import S3NotificationMapping
from tests.support.documents import DocumentsClient, upload
from tests.support.polling import rounds

EVENTS = Path(__file__).resolve().parents[2] / "events"
FUNCTION = "DocumentUploadedFunction"


@pytest.fixture
def documents(stack: LocalStack) -> DocumentsClient:
    return DocumentsClient(stack.api)


def repository(stack: LocalStack) -> DynamoDBDocumentRepository:
    aws.reset_clients()
    return DynamoDBDocumentRepository(
        aws.dynamodb(), stack.cloud.physical_id("DocumentsTable"), "UploadedDocuments"
    )


def s3(stack: LocalStack) -> Any:
    return boto3.client("s3", region_name=stack.region)


def notifications(stack: LocalStack) -> S3NotificationMapping:
    return next(
        m
        for m in stack.event_sources.mappings
        if isinstance(m, S3NotificationMapping) and m.function.source.logical_id == FUNCTION
    )


def event_for(stack: LocalStack, key: str, bucket: str | None = None) -> dict[str, Any]:
    """The notification S3 sends for the object now under `key` (the sample's shape)."""
    bucket = bucket or stack.cloud.physical_id("DocumentsBucket")
    event: dict[str, Any] = json.loads(
        (EVENTS / "document_uploaded" / "object-created.json").read_text()
    )
    head = s3(stack).head_object(Bucket=stack.cloud.physical_id("DocumentsBucket"), Key=key)
    record = event["Records"][0]["s3"]
    record["bucket"] |= {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"}
    record["object"] |= {
        "key": key.replace("/", "%2F"),
        "size": head["ContentLength"],
        "eTag": head["ETag"].strip('"'),
        "versionId": head["VersionId"],
    }
    return event


def versions(stack: LocalStack, key: str) -> list[dict[str, Any]]:
    listing = s3(stack).list_object_versions(
        Bucket=stack.cloud.physical_id("DocumentsBucket"), Prefix=key
    )
    return [v for v in listing.get("Versions", []) if v["Key"] == key]


def test_an_upload_stays_pending_until_its_notification_is_delivered(
    stack: LocalStack, documents: DocumentsClient
):
    slot = documents.create()
    upload(slot, b"%PDF-1.7 pending until notified")
    repo = repository(stack)
    pending = repo.get(slot["id"])

    delivered = notifications(stack).poll()

    assert pending is not None
    assert pending.status is DocumentStatus.PENDING
    assert delivered >= 1
    uploaded = repo.get(slot["id"])
    assert uploaded is not None
    assert uploaded.status is DocumentStatus.UPLOADED
    assert uploaded.size == len(b"%PDF-1.7 pending until notified")


def test_the_event_of_a_real_upload_marks_the_document_uploaded(
    stack: LocalStack, documents: DocumentsClient
):
    slot = documents.create()
    upload(slot, b"%PDF-1.7 notified")

    result = stack.function(FUNCTION).invoke(event_for(stack, slot["upload"]["fields"]["key"]))

    assert result.result == {"uploaded": 1}
    listed = {item["id"] for item in documents.list_all()}
    assert slot["id"] in listed


def test_an_object_of_another_type_is_purged_and_the_reason_logged(
    stack: LocalStack, documents: DocumentsClient
):
    slot = documents.create(content_type="application/pdf")
    key = slot["upload"]["fields"]["key"]
    s3(stack).put_object(
        Bucket=stack.cloud.physical_id("DocumentsBucket"),
        Key=key,
        Body=b"<html></html>",
        ContentType="text/html",
    )

    result = stack.function(FUNCTION).invoke(event_for(stack, key))

    assert result.result == {"rejected": 1}
    assert versions(stack, key) == []
    assert "upload rejected and removed" in result.logs
    assert "content type 'text/html' is not the announced 'application/pdf'" in result.logs
    document = repository(stack).get(slot["id"])
    assert document is not None
    assert document.status is DocumentStatus.PENDING


def test_an_object_no_document_owns_is_purged(stack: LocalStack):
    key = f"documents/{uuid.uuid4()}/stray.pdf"
    s3(stack).put_object(
        Bucket=stack.cloud.physical_id("DocumentsBucket"),
        Key=key,
        Body=b"stray",
        ContentType="application/pdf",
    )

    result = stack.function(FUNCTION).invoke(event_for(stack, key))

    assert result.result == {"orphan": 1}
    assert versions(stack, key) == []


def test_a_notification_from_another_bucket_is_ignored(
    stack: LocalStack, documents: DocumentsClient
):
    slot = documents.create()
    upload(slot, b"%PDF-1.7")
    key = slot["upload"]["fields"]["key"]

    result = stack.function(FUNCTION).invoke(event_for(stack, key, bucket="someone-elses"))

    assert result.result == {"ignored": 1}
    assert len(versions(stack, key)) == 1


def test_get_confirms_an_upload_whose_notification_has_not_arrived(
    stack: LocalStack, documents: DocumentsClient
):
    slot = documents.create()
    upload(slot, b"%PDF-1.7 early reader")
    event = json.loads((EVENTS / "documents" / "get.json").read_text())
    event["path"] = f"/documents/{slot['id']}"
    event["pathParameters"] = {"id": slot["id"]}

    # straight to the function: the API would deliver the notification first
    response = stack.function("DocumentsFunction").invoke(event).result

    assert response["statusCode"] == 200, response["body"]
    assert json.loads(response["body"])["size"] == len(b"%PDF-1.7 early reader")
    document = repository(stack).get(slot["id"])
    assert document is not None
    assert document.status is DocumentStatus.UPLOADED


def test_a_notification_that_keeps_failing_ends_in_the_dead_letter_queue(
    fresh_stack: LocalStack,
):
    documents = DocumentsClient(fresh_stack.api)
    slot = documents.create()
    # the checker starts (cold) with a table name that does not exist: every attempt fails
    fresh_stack.update_function_configuration(FUNCTION, DOCUMENTS_TABLE_NAME="no-such-table")
    upload(slot, b"%PDF-1.7 doomed")

    mapping = notifications(fresh_stack)
    delivered = mapping.poll()

    assert delivered == 1
    assert len(mapping.failures) == 1
    sqs = boto3.client("sqs", region_name=fresh_stack.region)
    queue_url = fresh_stack.outputs()["DocumentUploadedDeadLetterQueueUrl"]
    (message,) = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    parked = json.loads(message["Body"])
    assert parked["Records"][0]["s3"]["object"]["key"] == slot["upload"]["fields"]["key"].replace(
        "/", "%2F"
    )


def test_under_polling_no_api_request_waits_for_a_notification(fresh_stack: LocalStack):
    """Given the event sources polling on their own threads, as under `make api`, and the
    notification function stalled at DynamoDB (a service answering late) on two uploads:
    the first is taken by the S3 poller, which then waits, so the second stays queued
    When the API serves a request of another function
    Then it answers while both notification calls are still held.

    Catches: the API running queued S3 notifications itself before each request while a
    poller also delivers them (the customers request would wait for the stalled
    document-uploaded function: up to its timeout times Lambda's three attempts)."""
    stack = fresh_stack
    documents = DocumentsClient(stack.api)
    stall = stack.stall(FUNCTION, "dynamodb:GetItem", count=2)
    hold = stall.hold
    assert hold is not None
    stack.event_sources.start(interval=0.05)
    try:
        upload(documents.create(), b"%PDF-1.7 the first, taken by the poller")
        for _ in rounds("the S3 poller to reach the stalled call"):
            if stall.held:
                break
            time.sleep(0.05)
        upload(documents.create(), b"%PDF-1.7 the second, queued behind it")

        listed = stack.api.request("GET", "/dynamodb/customers")

        assert listed.status == 200, listed.body
        assert stall.held == 1, "the API ran the queued notification itself"
        assert not hold.is_set()
    finally:
        hold.set()
        stack.event_sources.stop()


def test_an_upload_is_confirmed_once_whatever_version_a_later_check_saw(
    stack: LocalStack, documents: DocumentsClient
):
    """Two checks of one pending document race (the notification's and a GET's), each
    with the version it saw: the first mark wins, the second is told which version counts.

    Mutation caught: marking without the `#status = :pending` condition
    (customer_platform/documents/dynamodb.py `mark_uploaded`): the second mark replaces
    the confirmed version, size and time."""
    slot = documents.create()
    repo = repository(stack)
    first = repo.mark_uploaded(slot["id"], 10, datetime(2026, 11, 22, tzinfo=UTC), "v1")

    second = repo.mark_uploaded(slot["id"], 20, datetime(2026, 11, 23, tzinfo=UTC), "v2")

    assert first is not None
    assert first.version_id == "v1"
    assert second == first
    assert repo.get(slot["id"]) == first
