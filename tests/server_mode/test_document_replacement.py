"""A confirmed document never changes, though its presigned POST can be sent again.

S3 POST policies are reusable until they expire: the same signed form, posted a second
time after the upload was confirmed, stores a new version under the same key. Everything
here goes over real HTTP with the form the API handed out, unchanged (its signature and
policy are honest): the second upload is one S3 accepts.
"""

import json
import os
from typing import Any

import boto3
import pytest

from local_stack.assembly.stack import LocalStack
from tests.support.documents import DocumentsClient, download, upload

pytestmark = pytest.mark.xdist_group("documents-moto-server")
UPLOADED_FUNCTION = "DocumentUploadedFunction"


@pytest.fixture
def documents(http_stack: LocalStack) -> DocumentsClient:
    return DocumentsClient(http_stack.api)


def version_sizes(stack: LocalStack, endpoint: str, key: str) -> list[int]:
    """The size of every version S3 keeps under `key`."""
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    listing = s3.list_object_versions(Bucket=stack.cloud.physical_id("DocumentsBucket"), Prefix=key)
    return [v["Size"] for v in listing.get("Versions", []) if v["Key"] == key]


def audit_records(stack: LocalStack, document_id: str) -> list[dict[str, Any]]:
    """The notification function's audit records of refused replacements of a document."""
    log = stack.runtime.logs.path(UPLOADED_FUNCTION).read_text()
    records = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    return [
        record
        for record in records
        if record.get("audit") == "DocumentReplacementRefused"
        and record.get("documentId") == document_id
    ]


def test_the_same_form_posted_again_after_the_upload_changes_nothing(
    http_stack: LocalStack, documents: DocumentsClient, moto_endpoint: str
):
    """Given an uploaded, confirmed document, when its presigned form is posted again with
    other bytes (S3 accepts it: the policy is still valid), then a download URL signed
    before the second post still serves the first bytes, the document keeps its size and
    upload time, the second version is undone and an audit record says so.

    Mutations caught: the later version not deleted (customer_platform/documents/logic.py
    `_undo_replacement`): two versions stay; a download URL not signed for the confirmed
    version (documents/s3.py `presigned_get` without VersionId): the early URL serves the
    new bytes; an uploaded document checked like a pending one (`check_upload` without
    `_recheck`) together with a repository that marks it again (documents/dynamodb.py
    without `#status = :pending`): size and uploadedAt change. (Either of the last two
    alone is caught by the other; the repository's own guard has its own test in
    tests/integration/test_document_uploaded.py.)"""
    first, second = os.urandom(2048), os.urandom(4096)
    slot = documents.create(content_type="application/pdf")
    assert upload(slot, first).status_code == 204
    confirmed = documents.call("GET", f"/{slot['id']}").json()
    early_url = confirmed["download"]["url"]

    again = upload(slot, second)  # the same signed form, unchanged
    served_meanwhile = download(early_url)  # before the notification is delivered
    after = documents.call("GET", f"/{slot['id']}")  # (the API delivers it first)
    listed = [d for d in documents.list_all() if d["id"] == slot["id"]]

    assert again.status_code == 204, "S3 accepts a second post of a valid form"
    assert served_meanwhile.content == first
    assert after.status == 200
    body = after.json()
    assert (body["size"], body["uploadedAt"]) == (confirmed["size"], confirmed["uploadedAt"])
    assert download(body["download"]["url"]).content == first
    assert [(d["size"], d["uploadedAt"]) for d in listed] == [(len(first), confirmed["uploadedAt"])]
    key = slot["upload"]["fields"]["key"]
    assert version_sizes(http_stack, moto_endpoint, key) == [len(first)]
    (record,) = audit_records(http_stack, slot["id"])
    assert (record["undone"], record["refusedSize"]) == (True, len(second))
