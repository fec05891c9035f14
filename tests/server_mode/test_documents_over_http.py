"""ARCHITECTURE: `/documents` of ../shared/API.md, with the bytes going over real HTTP to S3
(moto in server mode) through the presigned POST and GET the API hands out.

Given/When/Then in each test; data is unique per test so tests share one stack.
"""

import os
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import requests

from customer_platform.documents.models import content_disposition
from local_stack.assembly.stack import LocalStack
from tests.support.documents import (
    S3_TIMEOUT_SECONDS,
    DocumentsClient,
    download,
    post_policy,
    unique_filename,
    upload,
)

pytestmark = pytest.mark.xdist_group("documents-moto-server")

MISSING_ID = "00000000-0000-4000-8000-00000000d0c5"
TEN_MIB = 10 * 1024 * 1024


def s3_client(endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")


def assert_error(response: Any, status: int) -> None:
    assert response.status == status, response.body
    assert response.headers["Content-Type"] == "application/json"
    assert isinstance(response.json()["message"], str)


# -- the round trip ---------------------------------------------------------------------------


def test_a_file_uploaded_through_the_post_comes_back_byte_for_byte(documents: DocumentsClient):
    content = os.urandom(64 * 1024) + bytes(range(256))  # binary, every byte value
    slot = documents.create("scan 2026.pdf", "application/pdf")

    sent = upload(slot, content)
    response = documents.call("GET", f"/{slot['id']}")
    fetched = download(response.json()["download"]["url"])

    assert sent.status_code == 204, sent.text
    assert response.status == 200, response.body
    assert fetched.status_code == 200
    assert fetched.content == content
    assert fetched.headers["Content-Type"] == "application/pdf"
    assert fetched.headers["Content-Disposition"] == (
        "attachment; filename=\"scan_2026.pdf\"; filename*=UTF-8''scan%202026.pdf"
    )


def test_create_answers_201_with_the_contract_fields_and_location(documents: DocumentsClient):
    filename = unique_filename(".csv")

    response = documents.call("POST", body={"filename": filename, "contentType": "text/csv"})

    assert response.status == 201, response.body
    body = response.json()
    assert set(body) == {"id", "filename", "contentType", "upload", "expiresIn"}
    assert set(body["upload"]) == {"url", "fields"}
    assert (body["filename"], body["contentType"], body["expiresIn"]) == (filename, "text/csv", 900)
    assert response.headers["Location"] == f"/documents/{body['id']}"


def test_get_answers_the_contract_fields(documents: DocumentsClient):
    content = b"name,email\nAda,ada@example.com\n"
    slot = documents.create(unique_filename(".csv"), "text/csv")
    upload(slot, content)

    body = documents.call("GET", f"/{slot['id']}").json()

    assert set(body) == {"id", "filename", "contentType", "size", "uploadedAt", "download"}
    assert set(body["download"]) == {"url", "expiresIn"}
    assert (body["id"], body["filename"], body["contentType"]) == (
        slot["id"],
        slot["filename"],
        "text/csv",
    )
    assert body["size"] == len(content)
    assert body["uploadedAt"].endswith("Z")


def test_a_non_ascii_name_comes_back_in_filename_star(documents: DocumentsClient):
    content = "Grüße\n".encode()
    slot = documents.create("Grüße an Zoë.txt", "text/plain")
    upload(slot, content)

    fetched = download(documents.call("GET", f"/{slot['id']}").json()["download"]["url"])

    assert fetched.content == content
    disposition = fetched.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="Grue_an_Zoe.txt"')
    assert "filename*=UTF-8''Gr%C3%BC%C3%9Fe%20an%20Zo%C3%AB.txt" in disposition


# -- what the presigned POST pins ---------------------------------------------------------------


def test_the_post_is_sigv4_on_the_bucket_and_its_policy_pins_key_type_and_size(
    documents: DocumentsClient, http_stack: LocalStack, moto_endpoint: str
):
    slot = documents.create(content_type="image/png")

    fields = slot["upload"]["fields"]
    conditions = post_policy(fields)["conditions"]

    bucket = http_stack.cloud.physical_id("DocumentsBucket")
    assert slot["upload"]["url"] == f"{moto_endpoint}/{bucket}"
    assert fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
    assert fields["key"] == f"documents/{slot['id']}/{slot['filename']}"
    assert {"key": fields["key"]} in conditions
    assert {"bucket": bucket} in conditions
    assert {"Content-Type": "image/png"} in conditions
    assert fields["Content-Type"] == "image/png"
    assert ["content-length-range", 1, TEN_MIB] in conditions


def test_the_post_policy_pins_the_download_name_the_object_keeps(
    documents: DocumentsClient, http_stack: LocalStack, moto_endpoint: str
):
    """The object's own Content-Disposition is what a CloudFront download (which cannot
    override response headers) answers with: the policy must pin it, or the uploader can
    store `inline` (a browser would render the file) or any name.

    Mutation caught: the `{"Content-Disposition": ...}` condition dropped from the policy
    (customer_platform/documents/s3.py `presigned_post`)."""
    slot = documents.create("Grüße an Zoë.pdf")
    fields = slot["upload"]["fields"]

    conditions = post_policy(fields)["conditions"]

    pinned = content_disposition("Grüße an Zoë.pdf")
    assert {"Content-Disposition": pinned} in conditions
    assert fields["Content-Disposition"] == pinned
    upload(slot, b"%PDF-1.7 pinned name")
    s3 = s3_client(moto_endpoint)
    head = s3.head_object(Bucket=http_stack.cloud.physical_id("DocumentsBucket"), Key=fields["key"])
    assert head["ContentDisposition"] == pinned


def test_the_post_policy_expires_after_the_configured_seconds(tight: DocumentsClient):
    slot = tight.create()

    policy = post_policy(slot["upload"]["fields"])

    signed_at = datetime.strptime(slot["upload"]["fields"]["x-amz-date"], "%Y%m%dT%H%M%SZ")
    expires = datetime.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%SZ")
    assert slot["expiresIn"] == 1800
    # both instants come from the clock at signing, a moment apart, to the second
    assert 1800 <= (expires - signed_at).total_seconds() <= 1801
    assert ["content-length-range", 1, 1024] in policy["conditions"]


def test_the_download_url_is_sigv4_and_expires_as_configured(
    documents: DocumentsClient, tight: DocumentsClient
):
    default = documents.create_uploaded()
    configured = tight.create_uploaded(b"small")

    for document, seconds in ((default, 900), (configured, 1800)):
        query = parse_qs(urlsplit(document["download"]["url"]).query)
        assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
        assert query["X-Amz-Expires"] == [str(seconds)]
        assert document["download"]["expiresIn"] == seconds


def test_an_upload_at_the_maximum_size_is_accepted(tight: DocumentsClient):
    content = b"y" * 1024

    document = tight.create_uploaded(content)

    assert document["size"] == 1024
    assert download(document["download"]["url"]).content == content


# -- what the API refuses ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b'{"filename": "r\xe9sum\xe9.pdf", "contentType": "application/pdf"}',
        b'{"filename": "\xed\xa0\x80.pdf", "contentType": "application/pdf"}',
        b"\xff\xfe{\x00}\x00",
    ],
    ids=["latin-1-name", "encoded-surrogate", "utf-16"],
)
def test_a_body_that_is_not_utf8_is_400(documents: DocumentsClient, raw: bytes):
    response = documents.api.request("POST", "/documents", body=raw)

    assert_error(response, 400)
    assert response.json() == {"message": "request body must be UTF-8 encoded JSON"}


@pytest.mark.parametrize(
    "filename",
    [
        "../../etc/passwd",
        "..",
        ".",
        "reports/q3.pdf",
        "reports\\q3.pdf",
        "/absolute.pdf",
        "",
        "   ",
        "nul\x00byte.pdf",
        "line\nbreak.pdf",
        "carriage\rreturn.pdf",
        "tab\t.pdf",
        "bell\x07.pdf",
        "del\x7f.pdf",
        "c1\x85.pdf",
        "gpj.\u202eexe",  # right-to-left override: displays as "exe.jpg"
        "x" * 256,
    ],
    ids=[
        "traversal",
        "dot-dot",
        "dot",
        "slash",
        "backslash",
        "absolute",
        "empty",
        "blank",
        "nul",
        "newline",
        "carriage-return",
        "tab",
        "bell",
        "del",
        "c1-control",
        "rtl-override",
        "too-long",
    ],
)
def test_an_unsafe_filename_is_422(documents: DocumentsClient, filename: str):
    response = documents.call("POST", body={"filename": filename, "contentType": "application/pdf"})

    assert_error(response, 422)
    assert response.json()["details"][0]["loc"] == ["body", "filename"]


@pytest.mark.parametrize(
    "content_type",
    [
        "text/html",
        "image/svg+xml",
        "application/octet-stream",
        "application/x-msdownload",
        "application/pdf; charset=binary",
        "",
    ],
)
def test_a_content_type_outside_the_allow_list_is_422(
    documents: DocumentsClient, content_type: str
):
    response = documents.call("POST", body={"filename": "a.pdf", "contentType": content_type})

    assert_error(response, 422)


@pytest.mark.parametrize(
    "body",
    [
        {"filename": "a.pdf"},
        {"contentType": "application/pdf"},
        {"filename": 7, "contentType": "application/pdf"},
        {"filename": "a.pdf", "contentType": "application/pdf", "id": "mine"},
    ],
    ids=["no-content-type", "no-filename", "numeric-filename", "client-id"],
)
def test_an_incomplete_or_overreaching_body_is_422(
    documents: DocumentsClient, body: dict[str, Any]
):
    assert_error(documents.call("POST", body=body), 422)


@pytest.mark.parametrize("content_type", ["application/pdf", "IMAGE/PNG", "image/jpeg"])
def test_allowed_content_types_are_accepted_case_insensitively(
    documents: DocumentsClient, content_type: str
):
    slot = documents.create(content_type=content_type)

    assert slot["contentType"] == content_type.lower()


# -- 404s ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("document_id", [MISSING_ID, "not-a-uuid", "%00", "x" * 300])
def test_an_unknown_document_is_404(documents: DocumentsClient, document_id: str):
    assert_error(documents.call("GET", f"/{document_id}"), 404)
    assert_error(documents.call("DELETE", f"/{document_id}"), 404)


def test_a_document_never_uploaded_is_404_and_not_listed(documents: DocumentsClient):
    slot = documents.create()

    response = documents.call("GET", f"/{slot['id']}")

    assert_error(response, 404)
    assert_error(documents.call("DELETE", f"/{slot['id']}"), 404)
    assert slot["id"] not in {item["id"] for item in documents.list_all()}


# -- list ----------------------------------------------------------------------------------------


def test_following_next_token_lists_every_uploaded_document_once_newest_first(
    documents: DocumentsClient,
):
    mine = [documents.create_uploaded(f"{i}".encode())["id"] for i in range(5)]

    listed = documents.list_all(limit=2)

    ids = [item["id"] for item in listed]
    assert len(ids) == len(set(ids))
    assert set(mine) <= set(ids)
    uploaded_at = [item["uploadedAt"] for item in listed]
    assert uploaded_at == sorted(uploaded_at, reverse=True)
    assert set(listed[0]) == {"id", "filename", "contentType", "size", "uploadedAt"}


def test_a_page_holds_exactly_limit_items_and_a_token(documents: DocumentsClient):
    for _ in range(3):
        documents.create_uploaded()

    page = documents.call("GET", query={"limit": "2"}).json()

    assert len(page["items"]) == 2
    assert isinstance(page["nextToken"], str)


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc"])
def test_an_out_of_range_limit_is_422(documents: DocumentsClient, limit: str):
    assert_error(documents.call("GET", query={"limit": limit}), 422)


@pytest.mark.parametrize("token", ["garbage", "eyJ2IjoxfQ.AAAA", "a" * 600])
def test_a_malformed_token_is_400(documents: DocumentsClient, token: str):
    assert_error(documents.call("GET", query={"nextToken": token}), 400)


# -- delete --------------------------------------------------------------------------------------


def test_delete_is_204_and_the_document_and_its_download_are_gone(
    documents: DocumentsClient, http_stack: LocalStack, moto_endpoint: str
):
    slot = documents.create()
    assert upload(slot, b"to be deleted").status_code == 204
    document = documents.call("GET", f"/{slot['id']}").json()

    response = documents.call("DELETE", f"/{document['id']}")

    assert response.status == 204
    assert response.body == b""
    assert_error(documents.call("GET", f"/{document['id']}"), 404)
    # The object's current version is a delete marker (the bytes stay recoverable until the
    # lifecycle rule expires them), so the old download URL finds nothing. S3 answers it 404
    # with x-amz-delete-marker; moto answers a signed GET of a missing key 403
    # (SignatureDoesNotMatch), and this test runs on moto.
    key = slot["upload"]["fields"]["key"]
    listing = s3_client(moto_endpoint).list_object_versions(
        Bucket=http_stack.cloud.physical_id("DocumentsBucket"), Prefix=key
    )
    assert [m["IsLatest"] for m in listing["DeleteMarkers"] if m["Key"] == key] == [True]
    assert download(document["download"]["url"]).status_code == 403
    assert document["id"] not in {item["id"] for item in documents.list_all()}


# -- the bucket seen from a browser --------------------------------------------------------------


def preflight(stack: LocalStack, endpoint: str, origin: str) -> requests.Response:
    bucket = stack.cloud.physical_id("DocumentsBucket")
    return requests.options(
        f"{endpoint}/{bucket}",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
        timeout=S3_TIMEOUT_SECONDS,
    )


def test_cors_lets_a_configured_origin_upload(http_stack: LocalStack, moto_endpoint: str):
    response = preflight(http_stack, moto_endpoint, "http://localhost:3000")

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]


def test_cors_refuses_any_other_origin(http_stack: LocalStack, moto_endpoint: str):
    assert preflight(http_stack, moto_endpoint, "https://evil.example").status_code == 403


def test_each_request_gets_its_one_status_never_a_5xx(documents: DocumentsClient):
    statuses = [
        documents.call(method, path, body).status
        for method, path, body in [
            ("POST", "", {"filename": "a.pdf", "contentType": "application/pdf"}),
            ("GET", "", None),
            ("GET", f"/{uuid.uuid4()}", None),
            ("PUT", f"/{uuid.uuid4()}", {}),
            ("PATCH", "", None),
        ]
    ]

    assert statuses == [201, 200, 404, 405, 405]
