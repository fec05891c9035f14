"""Every sample event in events/documents/ and events/document_uploaded/ goes through its
handler, the way `sam local invoke -e` would send it, and gets the outcome it exists to
show. (A real bucket's name is unique per stack, so the S3 samples name
`documents-example` and the test, like a user, substitutes the stack's bucket.)"""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from customer_platform import aws
from customer_platform.documents.dynamodb import DynamoDBDocumentRepository
from customer_platform.documents.models import Document, DocumentStatus, object_key
from local_stack.assembly.stack import LocalStack

EVENTS = Path(__file__).resolve().parents[2] / "events"
SAMPLE_BUCKET = "documents-example"
UPLOADED = "3f2b8c1e-9a4d-4e7b-8c6f-1d2e3f4a5b6c"  # get.json, delete.json
NEVER_UPLOADED = "8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d"  # get-never-uploaded.json
ARRIVED = "6e5d4c3b-2a19-4f8e-9d7c-6b5a4c3d2e1f"  # object-created.json
WRONG_TYPE = "5c4d3e2f-1a0b-4c9d-8e7f-6a5b4c3d2e1f"  # object-created-wrong-type.json
ORPHAN_KEY = "documents/00000000-0000-4000-8000-00000000d0c5/stray.pdf"  # ...-orphan.json
T0 = datetime(2026, 11, 22, 10, 15, tzinfo=UTC)

API_STATUS = {
    "create.json": 201,
    "create-unsafe-filename.json": 422,
    "create-content-type-not-allowed.json": 422,
    "get.json": 200,
    "get-never-uploaded.json": 404,
    "get-not-found.json": 404,
    "list.json": 200,
    "list-bad-token.json": 400,
    "delete.json": 204,
    "method-not-allowed.json": 405,
}
UPLOAD_OUTCOME = {
    "object-created.json": {"uploaded": 1},
    "object-created-wrong-type.json": {"rejected": 1},
    "object-created-orphan.json": {"orphan": 1},
}


def test_every_event_file_has_an_expected_outcome():
    assert sorted(p.name for p in (EVENTS / "documents").glob("*.json")) == sorted(API_STATUS)
    assert sorted(p.name for p in (EVENTS / "document_uploaded").glob("*.json")) == sorted(
        UPLOAD_OUTCOME
    )


def seed(
    stack: LocalStack, document_id: str, filename: str, stored: tuple[bytes, str] | None
) -> None:
    """A pending document, and optionally the object its upload left in the bucket."""
    aws.reset_clients()
    repo = DynamoDBDocumentRepository(
        aws.dynamodb(), stack.cloud.physical_id("DocumentsTable"), "UploadedDocuments"
    )
    document = Document(
        id=document_id,
        filename=filename,
        content_type="application/pdf",
        object_key=object_key(document_id, filename),
        status=DocumentStatus.PENDING,
        created_at=T0,
    )
    repo.add(document, expires_at=int(T0.timestamp()) + 86_400)
    if stored is not None:
        body, content_type = stored
        boto3.client("s3", region_name=stack.region).put_object(
            Bucket=stack.cloud.physical_id("DocumentsBucket"),
            Key=document.object_key,
            Body=body,
            ContentType=content_type,
        )


@pytest.fixture
def seeded_stack(fresh_stack: LocalStack) -> LocalStack:
    seed(fresh_stack, UPLOADED, "Annual report.pdf", (b"%PDF-1.7 annual", "application/pdf"))
    seed(fresh_stack, NEVER_UPLOADED, "Never.pdf", None)
    seed(fresh_stack, ARRIVED, "Quarterly report.pdf", (b"%PDF-1.7 quarterly", "application/pdf"))
    seed(fresh_stack, WRONG_TYPE, "invoice.pdf", (b"<html>not a pdf</html>", "text/html"))
    boto3.client("s3", region_name=fresh_stack.region).put_object(
        Bucket=fresh_stack.cloud.physical_id("DocumentsBucket"),
        Key=ORPHAN_KEY,
        Body=b"stray",
        ContentType="application/pdf",
    )
    # What the notification did for the first one.
    fresh_stack.function("DocumentUploadedFunction").invoke(
        sample_upload(fresh_stack, "object-created.json")
        | {"Records": [record_for(fresh_stack, UPLOADED, "Annual_report.pdf")]}
    )
    return fresh_stack


def record_for(stack: LocalStack, document_id: str, name: str) -> dict[str, Any]:
    event = sample_upload(stack, "object-created.json")
    record: dict[str, Any] = event["Records"][0]
    record["s3"]["object"]["key"] = f"documents%2F{document_id}%2F{name}"
    return record


def sample_upload(stack: LocalStack, name: str) -> dict[str, Any]:
    text = (EVENTS / "document_uploaded" / name).read_text()
    event: dict[str, Any] = json.loads(
        text.replace(SAMPLE_BUCKET, stack.cloud.physical_id("DocumentsBucket"))
    )
    return event


@pytest.mark.parametrize("name", sorted(API_STATUS))
def test_sample_api_event_gets_its_status(seeded_stack: LocalStack, name: str):
    event = json.loads((EVENTS / "documents" / name).read_text())

    result = seeded_stack.function("DocumentsFunction").invoke(event).result

    assert result["statusCode"] == API_STATUS[name], result.get("body")
    if result["statusCode"] != 204:
        body = json.loads(result["body"])
        assert ("message" in body) == (result["statusCode"] >= 400)


@pytest.mark.parametrize("name", sorted(UPLOAD_OUTCOME))
def test_sample_upload_notification_gets_its_outcome(seeded_stack: LocalStack, name: str):
    event = sample_upload(seeded_stack, name)

    result = seeded_stack.function("DocumentUploadedFunction").invoke(event).result

    assert result == UPLOAD_OUTCOME[name]
