"""A presigned URL works exactly as long as the credentials that signed it.

S3 refuses a presigned request once the credentials that signed it have expired, whatever
its X-Amz-Expires says (boto/boto3#2392). The documents function signs with a session of the
URL-signer role whose end STS tells it, and never promises more (`expiresIn`). Locally the
endpoint's IAM check knows every session STS opened and its expiry, and judges time by its
own clock: moving that clock is how these tests let time pass at the AWS boundary.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import boto3
from botocore.config import Config

from local_stack.iam.gate import Gate
from local_stack.stack import LocalStack
from tests.support.documents import DocumentsClient, download

ROLE = "DocumentsUrlSignerRole"


@contextmanager
def clock_at(gate: Gate, moment: datetime) -> Iterator[None]:
    saved: Callable[[], datetime] = gate.clock
    gate.clock = lambda: moment
    try:
        yield
    finally:
        gate.clock = saved


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
    signer = http_stack.cloud.resolve({"Fn::GetAtt": [ROLE, "Arn"]})
    documents = DocumentsClient(http_stack.api)
    key = "documents/" + documents.create_uploaded(b"%PDF-1.7 short")["id"]
    function = http_stack.function("DocumentsFunction")  # its role may open signer sessions
    credentials = (
        boto3.session.Session(
            aws_access_key_id=function.credentials.access_key_id,
            aws_secret_access_key=function.credentials.secret_access_key,
            aws_session_token=function.credentials.session_token,
            region_name=http_stack.region,
        )
        .client("sts", endpoint_url=http_stack.endpoint.url)
        .assume_role(RoleArn=signer, RoleSessionName="short", DurationSeconds=900)["Credentials"]
    )
    s3 = boto3.client(
        "s3",
        endpoint_url=http_stack.endpoint.url,
        region_name=http_stack.region,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        config=Config(signature_version="s3v4"),
    )
    bucket = http_stack.cloud.physical_id("DocumentsBucket")
    objects = http_stack.cloud.client("s3").list_objects_v2(Bucket=bucket, Prefix=key)
    (stored,) = [item["Key"] for item in objects["Contents"]]
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": stored}, ExpiresIn=3600
    )
    ends = credentials["Expiration"]

    assert download(url).status_code == 200
    with clock_at(http_stack.endpoint.gate, ends + timedelta(seconds=1)):
        late = download(url)

    assert late.status_code == 400
    assert "<Code>ExpiredToken</Code>" in late.text
