"""A presigned URL works exactly as long as the credentials that signed it.

S3 refuses a presigned request once the credentials that signed it have expired, whatever
its X-Amz-Expires says (boto/boto3#2392). The documents function signs with a session of the
URL-signer role whose end STS tells it, and never promises more (`expiresIn`). Locally the
endpoint's IAM check knows every session STS opened and its expiry, and judges time by its
own clock: moving that clock is how these tests let time pass at the AWS boundary.
"""

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from local_stack.assembly.stack import LocalStack
from tests.support.documents import DocumentsClient, SignerSession, download
from tests.support.gate_clock import clock_at

ROLE = "DocumentsUrlSignerRole"


def signed_by(url: str) -> str:
    credential = parse_qs(urlsplit(url).query)["X-Amz-Credential"][0]
    return credential.split("/", 1)[0]


def test_the_api_never_promises_a_url_longer_than_its_signing_session(
    http_stack: LocalStack,
):
    """Catches: `expiresIn` taken from the configuration instead of the session's end, or
    URLs signed with the function's own credentials (of unknown expiry)."""
    documents = DocumentsClient(http_stack.api)
    before = datetime.now(UTC)
    document = documents.create_uploaded(b"%PDF-1.7 lifetime")
    url = document["download"]["url"]

    session = http_stack.endpoint.registry.principal(signed_by(url))

    assert session is not None, "signed with credentials STS issued to the signer role"
    assert session.role_arn == http_stack.cloud.resolve({"Fn::GetAtt": [ROLE, "Arn"]})
    assert session.expires_at is not None
    assert before + timedelta(seconds=document["download"]["expiresIn"]) <= session.expires_at
    assert download(url).content == b"%PDF-1.7 lifetime"


def test_a_url_that_outlives_its_credentials_is_refused_with_expired_token(
    http_stack: LocalStack,
):
    """What a client gets from a URL signed with credentials that expire before the URL
    says it does (what the design above prevents): S3's ExpiredToken, though X-Amz-Expires
    has not passed. Catches: the IAM check ignoring a session's expiry."""
    documents = DocumentsClient(http_stack.api)
    key = "documents/" + documents.create_uploaded(b"%PDF-1.7 short")["id"]
    session = SignerSession.open(http_stack, seconds=900)
    bucket = http_stack.cloud.physical_id("DocumentsBucket")
    objects = http_stack.cloud.client("s3").list_objects_v2(Bucket=bucket, Prefix=key)
    (stored,) = [item["Key"] for item in objects["Contents"]]
    url = session.s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": stored}, ExpiresIn=3600
    )
    ends = session.credentials["Expiration"]

    assert download(url).status_code == 200
    with clock_at(http_stack.endpoint.gate, ends + timedelta(seconds=1)):
        late = download(url)

    assert late.status_code == 400
    assert "<Code>ExpiredToken</Code>" in late.text
