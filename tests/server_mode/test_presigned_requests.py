"""Local S3 verifies presigned requests as S3 does, at the local AWS endpoint, before moto.

The URLs and forms the documents API hands out are used over real HTTP (`requests`), then
changed the way a holder might change them: another key, a stale or extended lifetime, a
flipped signature character, a bigger file, another content type. Each is refused with
S3's status, code and message (local_stack/iam/presigned.py), and nothing reaches the
bucket; the unchanged request still works. Time passes by moving the endpoint gate's clock,
the one it judges every expiry by.
"""

import base64
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit, urlunsplit
from xml.etree import ElementTree

import boto3
import pytest
import requests
from botocore.config import Config

from local_stack.assembly.stack import LocalStack
from tests.support.documents import (
    S3_TIMEOUT_SECONDS,
    DocumentsClient,
    SignerSession,
    download,
    upload,
)
from tests.support.gate_clock import clock_at

pytestmark = pytest.mark.xdist_group("documents-moto-server")

DOCUMENT = b"%PDF-1.7 " + os.urandom(2048) + bytes(range(256))


def error(response: requests.Response) -> dict[str, str]:
    """S3's error document as {element: text}."""
    document = ElementTree.fromstring(response.content)  # noqa: S314 - the local endpoint's
    return {element.tag: element.text or "" for element in document}


def with_query(url: str, **changes: str) -> str:
    """The URL with some query parameters changed, the others encoded as botocore does."""
    parts = urlsplit(url)
    query = {name: values[0] for name, values in parse_qs(parts.query).items()} | changes
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


def signed_at(url: str) -> datetime:
    stamp = parse_qs(urlsplit(url).query)["X-Amz-Date"][0]
    return datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def stored_keys(stack: LocalStack, prefix: str) -> list[str]:
    bucket = stack.cloud.physical_id("DocumentsBucket")
    listing = stack.cloud.client("s3").list_object_versions(Bucket=bucket, Prefix=prefix)
    return [version["Key"] for version in listing.get("Versions", [])]


# -- presigned GET ------------------------------------------------------------------------------


def test_the_unchanged_download_url_returns_the_bytes(documents: DocumentsClient):
    """The control for every refusal below."""
    url = documents.create_uploaded(DOCUMENT)["download"]["url"]

    assert download(url).content == DOCUMENT


def test_a_url_with_another_documents_key_is_signature_does_not_match(
    documents: DocumentsClient,
):
    """Catches: the endpoint taking a presigned URL's key id as enough (the old gate, which
    checked who signed but not what): the URL for one document read any other."""
    mine = documents.create_uploaded(b"%PDF-1.7 mine")
    theirs = documents.create_uploaded(b"%PDF-1.7 theirs")
    my_url = urlsplit(mine["download"]["url"])
    their_path = urlsplit(theirs["download"]["url"]).path

    response = download(urlunsplit(my_url._replace(path=their_path)))

    assert response.status_code == 403
    assert error(response)["Code"] == "SignatureDoesNotMatch"
    assert b"theirs" not in response.content


def earlier_the_same_day(url: str) -> dict[str, str]:
    """A staler X-Amz-Date (another day would not match the credential scope: a 400)."""
    moment = signed_at(url)
    stale = moment.replace(hour=0, minute=0, second=0 if moment.second or moment.minute else 1)
    return {"X-Amz-Date": stale.strftime("%Y%m%dT%H%M%SZ")}


@pytest.mark.parametrize(
    "change",
    [
        lambda url: {"X-Amz-Expires": "604800"},  # a week instead of the signed 900 s
        earlier_the_same_day,
        lambda url: {"response-content-type": "text/html"},  # a type a browser renders
    ],
    ids=["extended-expiry", "stale-date", "other-response-type"],
)
def test_a_changed_signed_parameter_is_signature_does_not_match(
    documents: DocumentsClient, change: Callable[[str], dict[str, str]]
):
    url = documents.create_uploaded(DOCUMENT)["download"]["url"]

    unchanged = download(with_query(url))  # the control: re-encoding alone changes nothing
    response = download(with_query(url, **change(url)))

    assert unchanged.content == DOCUMENT
    assert response.status_code == 403
    assert error(response)["Code"] == "SignatureDoesNotMatch"


def test_a_flipped_signature_character_is_signature_does_not_match(documents: DocumentsClient):
    """Catches: a signature compared by length or prefix, or not at all."""
    url = documents.create_uploaded(DOCUMENT)["download"]["url"]
    signature = parse_qs(urlsplit(url).query)["X-Amz-Signature"][0]
    flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")

    response = download(with_query(url, **{"X-Amz-Signature": flipped}))

    assert response.status_code == 403
    found = error(response)
    assert found["Code"] == "SignatureDoesNotMatch"
    assert found["SignatureProvided"] == flipped


def test_a_url_is_refused_from_x_amz_date_plus_x_amz_expires_on(
    documents: DocumentsClient, http_stack: LocalStack
):
    """Catches: X-Amz-Expires ignored (the old local S3 served a URL forever, as long as
    the session that signed it lived)."""
    url = documents.create_uploaded(DOCUMENT)["download"]["url"]
    ends = signed_at(url) + timedelta(seconds=900)

    with clock_at(http_stack.endpoint.gate, ends - timedelta(seconds=1)):
        last_second = download(url)
    with clock_at(http_stack.endpoint.gate, ends):
        late = download(url)

    assert last_second.content == DOCUMENT
    assert late.status_code == 403
    found = error(late)
    assert (found["Code"], found["Message"]) == ("AccessDenied", "Request has expired")
    assert found["X-Amz-Expires"] == "900"
    assert found["Expires"] == ends.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_url_dated_beyond_the_clock_skew_is_not_valid_yet(
    documents: DocumentsClient, http_stack: LocalStack
):
    url = documents.create_uploaded(DOCUMENT)["download"]["url"]

    with clock_at(http_stack.endpoint.gate, signed_at(url) - timedelta(minutes=16)):
        early = download(url)

    assert early.status_code == 403
    assert error(early)["Message"] == "Request is not valid yet"


def test_a_url_longer_than_a_week_is_refused(http_stack: LocalStack):
    """S3's limit for SigV4 presigned URLs, whoever signs them (here: the administrator)."""
    bucket = http_stack.cloud.physical_id("DocumentsBucket")
    s3 = boto3.client(
        "s3", endpoint_url=http_stack.endpoint.url, config=Config(signature_version="s3v4")
    )
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "documents/x"}, ExpiresIn=604801
    )

    response = download(url)

    assert response.status_code == 400
    found = error(response)
    assert found["Code"] == "AuthorizationQueryParametersError"
    assert "604800" in found["Message"]


def test_a_sigv2_url_is_refused_as_on_a_bucket_created_since_2020(http_stack: LocalStack):
    bucket = http_stack.cloud.physical_id("DocumentsBucket")
    s3 = boto3.client(
        "s3", endpoint_url=http_stack.endpoint.url, config=Config(signature_version="s3")
    )
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "documents/x"})

    response = download(url)

    assert response.status_code == 400
    assert error(response)["Code"] == "InvalidRequest"


# -- presigned PUT (signed by a session of the URL-signer role, as the documents function) -----


@pytest.fixture
def signer_s3(http_stack: LocalStack) -> Any:
    return SignerSession.open(http_stack).s3


def test_a_presigned_put_stores_the_bytes_and_a_tampered_one_stores_nothing(
    http_stack: LocalStack, signer_s3: Any
):
    """Catches: query-string authentication verified for GET only; the signed
    Content-Type header not part of the check."""
    bucket = http_stack.cloud.physical_id("DocumentsBucket")
    key = f"documents/put-{os.urandom(4).hex()}/a.pdf"
    url = signer_s3.generate_presigned_url(
        "put_object",
        Params={"Bucket": bucket, "Key": key, "ContentType": "application/pdf"},
        ExpiresIn=60,
    )
    other_key = urlunsplit(urlsplit(url)._replace(path=f"/{bucket}/documents/elsewhere.pdf"))

    def put(target: str, content_type: str) -> requests.Response:
        return requests.put(
            target,
            data=DOCUMENT,
            headers={"Content-Type": content_type},
            timeout=S3_TIMEOUT_SECONDS,
        )

    other_type = put(url, "text/html")
    elsewhere = put(other_key, "application/pdf")
    honest = put(url, "application/pdf")

    assert (other_type.status_code, error(other_type)["Code"]) == (403, "SignatureDoesNotMatch")
    assert (elsewhere.status_code, error(elsewhere)["Code"]) == (403, "SignatureDoesNotMatch")
    assert honest.status_code == 200, honest.text
    assert stored_keys(http_stack, "documents/elsewhere.pdf") == []
    stored = http_stack.cloud.client("s3").get_object(Bucket=bucket, Key=key)
    assert stored["Body"].read() == DOCUMENT


# -- presigned POST -----------------------------------------------------------------------------


def test_an_upload_of_another_content_type_is_refused_by_the_policy(
    documents: DocumentsClient, http_stack: LocalStack
):
    """Catches: POST policy conditions not evaluated (the old local S3 stored it, and only
    the notification's own check purged it afterwards)."""
    slot = documents.create(content_type="application/pdf")

    sent = upload(slot, b"<script>alert(1)</script>", fields={"Content-Type": "text/html"})

    assert sent.status_code == 403
    found = error(sent)
    assert found["Code"] == "AccessDenied"
    assert found["Message"] == (
        'Invalid according to Policy: Policy Condition failed: ["eq", "$Content-Type", '
        '"application/pdf"]'
    )
    assert stored_keys(http_stack, slot["upload"]["fields"]["key"]) == []


def test_an_upload_over_the_size_limit_is_entity_too_large(
    tight: DocumentsClient, tight_stack: LocalStack
):
    """Catches: content-length-range not checked against the file's size."""
    slot = tight.create()

    sent = upload(slot, b"x" * 1025)

    assert sent.status_code == 400
    found = error(sent)
    assert (found["Code"], found["ProposedSize"], found["MaxSizeAllowed"]) == (
        "EntityTooLarge",
        "1025",
        "1024",
    )
    assert stored_keys(tight_stack, slot["upload"]["fields"]["key"]) == []


def test_an_empty_upload_is_entity_too_small(documents: DocumentsClient):
    sent = upload(documents.create(), b"")

    assert sent.status_code == 400
    assert error(sent)["Code"] == "EntityTooSmall"


def test_an_upload_to_another_key_fails_the_key_condition(
    documents: DocumentsClient, http_stack: LocalStack
):
    slot = documents.create()

    sent = upload(slot, DOCUMENT, fields={"key": "documents/someone-else/report.pdf"})

    assert sent.status_code == 403
    assert error(sent)["Message"].startswith(
        'Invalid according to Policy: Policy Condition failed: ["eq", "$key", '
    )
    assert stored_keys(http_stack, "documents/someone-else/") == []


def test_a_policy_rewritten_by_its_holder_is_signature_does_not_match(
    documents: DocumentsClient,
):
    """A bigger content-length-range in a re-encoded policy: the signature covers the
    policy's bytes, so the holder cannot loosen it."""
    slot = documents.create()
    policy = json.loads(base64.b64decode(slot["upload"]["fields"]["policy"]))
    policy["conditions"] = [
        ["content-length-range", 1, 10**12] if isinstance(c, list) else c
        for c in policy["conditions"]
    ]
    loosened = base64.b64encode(json.dumps(policy).encode()).decode()

    sent = upload(slot, DOCUMENT, fields={"policy": loosened})

    assert sent.status_code == 403
    assert error(sent)["Code"] == "SignatureDoesNotMatch"


def test_a_field_the_policy_does_not_name_is_refused(documents: DocumentsClient):
    slot = documents.create()

    sent = upload(slot, DOCUMENT, fields={"x-amz-meta-owner": "mallory"})

    assert sent.status_code == 403
    assert error(sent)["Message"] == (
        "Invalid according to Policy: Extra input fields: x-amz-meta-owner"
    )


def test_an_upload_after_the_policy_expired_is_refused(
    documents: DocumentsClient, http_stack: LocalStack
):
    slot = documents.create()
    policy = json.loads(base64.b64decode(slot["upload"]["fields"]["policy"]))
    expiration = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))

    with clock_at(http_stack.endpoint.gate, expiration):
        sent = upload(slot, DOCUMENT)

    assert sent.status_code == 403
    assert error(sent)["Message"] == "Invalid according to Policy: Policy expired."
    assert upload(slot, DOCUMENT).status_code == 204  # the same form, in time
