"""The gate in front of a real moto server, round-tripped through botocore.

A `AwsEndpoint` (moto's own WSGI application behind `local_stack.iam.gate.Gate`) on a
free port; boto3 clients sign with distinct credentials: an admin key (passes unchecked),
keys issued to roles with different policies, an expired key, a key nobody issued. The
`ClientError` codes and messages asserted are what botocore parses from the gate's answers,
in each service's protocol.
"""

import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from local_stack.iam.actions import ActionMapper
from local_stack.iam.effective import ResourcePolicies
from local_stack.iam.facts import MotoFacts
from local_stack.iam.gate import CredentialRegistry, Gate, IssuedCredentials
from local_stack.iam.policy import Policy, Principal
from local_stack.iam.records import DecisionLog, read_records
from local_stack.services.endpoint import AwsEndpoint

ACCOUNT = "123456789012"
REGION = "us-east-1"
ADMIN = "AKIAADMINLOCALTOOLS1"
SUFFIX = uuid.uuid4().hex[:8]
QUEUE = f"gate-queue-{SUFFIX}"
TOPIC = f"gate-topic-{SUFFIX}"
TABLE = f"gate-table-{SUFFIX}"
BUCKET = f"gate-bucket-{SUFFIX}"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{QUEUE}"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:{TOPIC}"
TABLE_ARN = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{TABLE}"


def role(name: str, *statements: dict[str, Any]) -> Principal:
    policy = Policy.parse({"Version": "2012-10-17", "Statement": list(statements)}, name, "Inline")
    return Principal.assumed_role(
        f"arn:aws:iam::{ACCOUNT}:role/{name}", f"fn-{name}", (policy,), function=name
    )


def allow(action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


class Env:
    def __init__(
        self, server: AwsEndpoint, registry: CredentialRegistry, log: DecisionLog, key: str
    ):
        self.server = server
        self.registry = registry
        self.log = log
        self.key = key
        self.credentials: dict[str, IssuedCredentials] = {}

    @property
    def gate(self) -> Gate:
        return self.server.gate

    def client(self, service: str, who: str = "admin", **config: Any) -> Any:
        if who == "admin":
            keys = {"aws_access_key_id": ADMIN, "aws_secret_access_key": "x"}
        elif who == "nobody":
            keys = {"aws_access_key_id": "ASIANOBODYISSUEDTHIS", "aws_secret_access_key": "x"}
        else:
            issued = self.credentials[who]
            keys = {
                "aws_access_key_id": issued.access_key_id,
                "aws_secret_access_key": issued.secret_access_key,
                "aws_session_token": issued.session_token,
            }
        return boto3.client(  # type: ignore[call-overload]
            service,
            region_name=REGION,
            endpoint_url=self.server.url,
            config=Config(retries={"max_attempts": 1}, **config),
            **keys,
        )


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    registry = CredentialRegistry()
    log = DecisionLog(tmp_path_factory.mktemp("iam") / "decisions.jsonl")
    holder: dict[str, Any] = {}

    def wrap(app: Any) -> Gate:
        gate = Gate(
            app,
            registry=registry,
            admin_keys={ADMIN},
            mapper=ActionMapper(MotoFacts(ACCOUNT, REGION), region=REGION, account=ACCOUNT),
            resources=holder["resources"],
            log=log,
        )
        return gate

    # resources, created by the admin through the gate
    holder["resources"] = ResourcePolicies(account=ACCOUNT, partition="aws")
    server = AwsEndpoint(gate=wrap).start()
    admin = Env(server, registry, log, "")
    kms = admin.client("kms")
    key = kms.create_key(Description="gate test")["KeyMetadata"]["Arn"]
    admin.client("sqs").create_queue(QueueName=QUEUE, Attributes={"KmsMasterKeyId": key})
    admin.client("sns").create_topic(Name=TOPIC)
    admin.client("dynamodb").create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    admin.client("s3").create_bucket(Bucket=BUCKET)
    admin.client("s3").put_object(Bucket=BUCKET, Key="documents/a.txt", Body=b"hello")
    env = Env(server, registry, log, key)
    via_sqs = {"StringEquals": {"kms:ViaService": f"sqs.{REGION}.amazonaws.com"}}
    principals = {
        "sender": role(
            "sender",
            allow("sqs:SendMessage", QUEUE_ARN),
            allow(["kms:GenerateDataKey", "kms:Decrypt"], key, Condition=via_sqs),
        ),
        "keyless": role("keyless", allow("sqs:SendMessage", QUEUE_ARN)),
        "nothing": role("nothing", allow("dynamodb:GetItem", TABLE_ARN)),
        "denied": role(
            "denied",
            allow("sqs:*", "*"),
            {"Effect": "Deny", "Action": "sqs:SendMessage", "Resource": QUEUE_ARN},
        ),
        "reader": role("reader", allow("s3:GetObject", f"arn:aws:s3:::{BUCKET}/documents/*")),
        "lister": role(
            "lister",
            allow("s3:GetObject", f"arn:aws:s3:::{BUCKET}/documents/*"),
            allow("s3:ListBucket", f"arn:aws:s3:::{BUCKET}"),
        ),
    }
    for name, principal in principals.items():
        env.credentials[name] = registry.issue(principal)
    env.credentials["expired"] = registry.issue(
        principals["sender"], expires_at=datetime.now(UTC) - timedelta(minutes=1)
    )
    yield env
    server.stop()


def error_of(call: Any) -> Any:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response


def test_admin_key_passes_unchecked(env: Env):
    assert env.client("sqs").get_queue_url(QueueName=QUEUE)["QueueUrl"].endswith(QUEUE)


def test_allowed_call_reaches_moto_and_is_recorded(env: Env):
    sqs = env.client("sqs", "sender")
    url = env.client("sqs").get_queue_url(QueueName=QUEUE)["QueueUrl"]
    assert sqs.send_message(QueueUrl=url, MessageBody="hi")["MessageId"]
    mine = [r for r in env.log.records if r.function == "sender"]
    assert [(r.action, r.allowed) for r in mine[-3:]] == [
        ("sqs:SendMessage", True),
        ("kms:GenerateDataKey", True),
        ("kms:Decrypt", True),
    ]
    assert mine[-3].statements == ("sender/Inline/#0",)


def test_sqs_denial_is_access_denied_with_awss_message(env: Env):
    url = env.client("sqs").get_queue_url(QueueName=QUEUE)["QueueUrl"]
    error = error_of(
        lambda: env.client("sqs", "nothing").send_message(QueueUrl=url, MessageBody="x")
    )
    assert error["Error"]["Code"] == "AccessDenied"
    assert error["Error"]["Message"] == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/nothing/fn-nothing is not authorized to "
        f"perform: sqs:sendmessage on resource: {QUEUE_ARN} because no identity-based policy "
        "allows the sqs:sendmessage action"
    )


def test_explicit_deny_message(env: Env):
    url = env.client("sqs").get_queue_url(QueueName=QUEUE)["QueueUrl"]
    error = error_of(
        lambda: env.client("sqs", "denied").send_message(QueueUrl=url, MessageBody="x")
    )
    assert error["Error"]["Code"] == "AccessDenied"
    assert error["Error"]["Message"].endswith("with an explicit deny in an identity-based policy")


def test_missing_kms_permission_on_an_encrypted_queue(env: Env):
    url = env.client("sqs").get_queue_url(QueueName=QUEUE)["QueueUrl"]
    error = error_of(
        lambda: env.client("sqs", "keyless").send_message(QueueUrl=url, MessageBody="x")
    )
    assert error["Error"]["Code"] == "KMS.AccessDeniedException"
    assert f"kms:GenerateDataKey on resource: {env.key}" in error["Error"]["Message"]


def test_sns_denial_is_authorization_error(env: Env):
    error = error_of(lambda: env.client("sns", "nothing").publish(TopicArn=TOPIC_ARN, Message="m"))
    assert error["Error"]["Code"] == "AuthorizationError"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert (
        "is not authorized to perform: SNS:Publish on resource: " + TOPIC_ARN
        in error["Error"]["Message"]
    )


def test_dynamodb_denial_is_access_denied_exception(env: Env):
    error = error_of(
        lambda: env.client("dynamodb", "nothing").put_item(TableName=TABLE, Item={"pk": {"S": "1"}})
    )
    assert error["Error"]["Code"] == "AccessDeniedException"
    assert (
        f"dynamodb:PutItem on resource: {TABLE_ARN} because no identity-based"
        in error["Error"]["Message"]
    )


def test_s3_denial_quotes_the_resource(env: Env):
    error = error_of(
        lambda: env.client("s3", "nothing").get_object(Bucket=BUCKET, Key="documents/a.txt")
    )
    assert error["Error"]["Code"] == "AccessDenied"
    assert f'on resource: "arn:aws:s3:::{BUCKET}/documents/a.txt"' in error["Error"]["Message"]


def test_s3_missing_key_is_403_without_list_bucket_and_404_with_it(env: Env):
    """S3 answers 403 for a missing key unless the caller may list the bucket.
    Mutation caught: the SQS action printed in its IAM spelling.
    Mutation caught: moto's 404 passed through without the s3:ListBucket check.
    Mutation caught: no implicit KMS requirement for SQS sends."""
    without = error_of(
        lambda: env.client("s3", "reader").head_object(Bucket=BUCKET, Key="documents/none")
    )
    with_list = error_of(
        lambda: env.client("s3", "lister").head_object(Bucket=BUCKET, Key="documents/none")
    )
    assert without["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert with_list["ResponseMetadata"]["HTTPStatusCode"] == 404
    found = env.client("s3", "reader").get_object(Bucket=BUCKET, Key="documents/a.txt")
    assert found["Body"].read() == b"hello"


def test_presigned_get_is_authorized_as_its_signer(env: Env):
    allowed = env.client("s3", "reader", signature_version="s3v4").generate_presigned_url(
        "get_object", Params={"Bucket": BUCKET, "Key": "documents/a.txt"}, ExpiresIn=60
    )
    refused = env.client("s3", "nothing", signature_version="s3v4").generate_presigned_url(
        "get_object", Params={"Bucket": BUCKET, "Key": "documents/a.txt"}, ExpiresIn=60
    )
    assert requests.get(allowed, timeout=10).content == b"hello"
    answer = requests.get(refused, timeout=10)
    assert answer.status_code == 403
    assert b"<Code>AccessDenied</Code>" in answer.content


@pytest.mark.parametrize(
    ("service", "call", "code"),
    [
        (
            "dynamodb",
            lambda c: c.get_item(TableName=TABLE, Key={"pk": {"S": "1"}}),
            "UnrecognizedClientException",
        ),
        ("sns", lambda c: c.publish(TopicArn=TOPIC_ARN, Message="m"), "InvalidClientTokenId"),
        ("s3", lambda c: c.get_object(Bucket=BUCKET, Key="documents/a.txt"), "InvalidAccessKeyId"),
    ],
)
def test_unknown_access_key(env: Env, service: str, call: Any, code: str):
    error = error_of(lambda: call(env.client(service, "nobody")))
    assert error["Error"]["Code"] == code


@pytest.mark.parametrize(
    ("service", "call", "code"),
    [
        (
            "dynamodb",
            lambda c: c.get_item(TableName=TABLE, Key={"pk": {"S": "1"}}),
            "ExpiredTokenException",
        ),
        ("sns", lambda c: c.publish(TopicArn=TOPIC_ARN, Message="m"), "ExpiredToken"),
        ("s3", lambda c: c.get_object(Bucket=BUCKET, Key="documents/a.txt"), "ExpiredToken"),
    ],
)
def test_expired_credentials(env: Env, service: str, call: Any, code: str):
    error = error_of(lambda: call(env.client(service, "expired")))
    assert error["Error"]["Code"] == code
    assert "expired" in error["Error"]["Message"]


def test_unmapped_operation_fails_closed(env: Env):
    error = error_of(lambda: env.client("dynamodb", "nothing").delete_table(TableName=TABLE))
    assert error["Error"]["Code"] == "AccessDeniedException"
    assert "no local authorization rule for dynamodb:DeleteTable" in error["Error"]["Message"]
    assert env.client("dynamodb").describe_table(TableName=TABLE)["Table"]["TableName"] == TABLE


def test_injected_fault_fails_the_next_calls_then_clears(env: Env):
    url = env.client("sqs").get_queue_url(QueueName=QUEUE)["QueueUrl"]
    sqs = env.client("sqs", "sender")
    env.gate.inject_fault("sender", "sqs:SendMessage", "RequestThrottled", "slow down", count=2)
    for _ in range(2):
        error = error_of(lambda: sqs.send_message(QueueUrl=url, MessageBody="x"))
        assert error["Error"]["Code"] == "RequestThrottled"
    assert sqs.send_message(QueueUrl=url, MessageBody="x")["MessageId"]


def test_decisions_reach_the_jsonl_file(env: Env):
    """Its own denied call first: under xdist this test may be the first of the module on
    its worker (a CI run met that: no decision yet, so no file)."""
    url = env.client("sqs").get_queue_url(QueueName=QUEUE)["QueueUrl"]
    sqs = env.client("sqs", "nothing")
    assert error_of(lambda: sqs.send_message(QueueUrl=url, MessageBody="x"))["Error"]["Code"]
    path = env.log.path
    assert isinstance(path, Path)
    on_disk = read_records([path])
    assert on_disk == env.log.records
    assert any(not r.allowed and r.reason == "no-identity-policy-allows" for r in on_disk)


def test_record_only_mode_lets_denied_calls_through_and_records_them(env: Env):
    """The opt-out for experiments: decisions are still made and recorded, not enforced.
    Mutation caught: the expiry of issued credentials not checked.
    Mutation caught: unknown keys passed through to moto."""
    url = env.client("sqs").get_queue_url(QueueName=QUEUE)["QueueUrl"]
    env.gate.enforce = False
    try:
        sent = env.client("sqs", "nothing").send_message(QueueUrl=url, MessageBody="x")
    finally:
        env.gate.enforce = True
    assert sent["MessageId"]
    last = [r for r in env.log.records if r.function == "nothing"][-1]
    assert (last.action, last.allowed) == ("sqs:SendMessage", False)
