"""Raw HTTP requests back to (credentials, service, operation, parameters).

Every request here is built by botocore itself (serialized and signed by a real client, or
presigned), then parsed by `local_stack.iam.requests`: JSON protocol via X-Amz-Target,
query protocol via Action, REST by the model's requestUri templates (S3 path and
virtual-host style, SES v2, Lambda).
"""

import json
from typing import Any

import botocore.session
import pytest
from urllib3 import encode_multipart_formdata

from local_stack.iam.requests import SERVICES, RequestParser, UnreadableRequest
from tests.iam.iam_support import ACCESS_KEY, captured, client, raw_from_url

PARSER = RequestParser()


def parse(service: str, call: Any, **client_options: Any):
    return PARSER.parse(captured(call, client(service, **client_options)))


def test_json_protocol_dynamodb_put_item():
    """X-Amz-Target DynamoDB_20120810.PutItem: the body is the parameters."""
    item = {"pk": {"S": "CUSTOMER#1"}, "n": {"N": "3"}}
    parsed = parse(
        "dynamodb",
        lambda c: c.put_item(
            TableName="t", Item=item, ConditionExpression="attribute_not_exists(pk)"
        ),
    )
    assert (parsed.service, parsed.operation, parsed.protocol) == ("dynamodb", "PutItem", "json")
    assert parsed.params == {
        "TableName": "t",
        "Item": item,
        "ConditionExpression": "attribute_not_exists(pk)",
    }
    assert parsed.credentials.access_key == ACCESS_KEY
    assert parsed.credentials.session_token == "token"
    assert parsed.credentials.signing_name == "dynamodb"


def test_json_protocol_tells_dynamodb_streams_from_dynamodb():
    """Streams sign as "dynamodb" too; the target prefix tells them apart."""
    parsed = parse("dynamodbstreams", lambda c: c.get_records(ShardIterator="it", Limit=5))
    assert (parsed.service, parsed.operation) == ("dynamodbstreams", "GetRecords")
    assert parsed.params == {"ShardIterator": "it", "Limit": 5}


def test_json_protocol_sqs_batch():
    entries = [{"Id": "1", "MessageBody": "a"}, {"Id": "2", "MessageBody": "b", "DelaySeconds": 3}]
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/ingest"
    parsed = parse("sqs", lambda c: c.send_message_batch(QueueUrl=url, Entries=entries))
    assert (parsed.service, parsed.operation) == ("sqs", "SendMessageBatch")
    assert parsed.params == {"QueueUrl": url, "Entries": entries}


def test_query_protocol_sns_publish_with_message_attributes():
    """Action=Publish; a map serialized as MessageAttributes.entry.N.Name/Value comes back.
    Mutation caught: query maps (.entry.N) not read back."""
    attributes = {"eventType": {"DataType": "String", "StringValue": "CustomerCreated"}}
    topic = "arn:aws:sns:us-east-1:123456789012:events"
    parsed = parse(
        "sns", lambda c: c.publish(TopicArn=topic, Message="{}", MessageAttributes=attributes)
    )
    assert (parsed.service, parsed.operation, parsed.protocol) == ("sns", "Publish", "query")
    assert parsed.params == {"TopicArn": topic, "Message": "{}", "MessageAttributes": attributes}


def test_query_protocol_sns_publish_batch_lists_of_structures():
    topic = "arn:aws:sns:us-east-1:123456789012:events"
    entries = [
        {
            "Id": "e1",
            "Message": "m1",
            "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}},
        },
        {"Id": "e2", "Message": "m2"},
    ]
    parsed = parse(
        "sns", lambda c: c.publish_batch(TopicArn=topic, PublishBatchRequestEntries=entries)
    )
    assert parsed.operation == "PublishBatch"
    assert parsed.params == {"TopicArn": topic, "PublishBatchRequestEntries": entries}


def test_query_protocol_sts():
    parsed = parse("sts", lambda c: c.get_caller_identity())
    assert (parsed.service, parsed.operation, parsed.params) == ("sts", "GetCallerIdentity", {})


@pytest.mark.parametrize(
    ("call", "operation", "params"),
    [
        (
            lambda c: c.get_object(Bucket="docs-bucket", Key="documents/a b/ü.pdf"),
            "GetObject",
            {"Bucket": "docs-bucket", "Key": "documents/a b/ü.pdf"},
        ),
        (
            lambda c: c.head_object(Bucket="docs-bucket", Key="k"),
            "HeadObject",
            {"Bucket": "docs-bucket", "Key": "k"},
        ),
        (
            lambda c: c.delete_object(Bucket="docs-bucket", Key="k", VersionId="v1"),
            "DeleteObject",
            {"Bucket": "docs-bucket", "Key": "k", "VersionId": "v1"},
        ),
        (
            lambda c: c.list_objects_v2(Bucket="docs-bucket", Prefix="documents/", MaxKeys=5),
            "ListObjectsV2",
            {"Bucket": "docs-bucket", "Prefix": "documents/", "MaxKeys": 5},
        ),
        (lambda c: c.list_objects(Bucket="docs-bucket"), "ListObjects", {"Bucket": "docs-bucket"}),
        (lambda c: c.head_bucket(Bucket="docs-bucket"), "HeadBucket", {"Bucket": "docs-bucket"}),
        (
            lambda c: c.get_object_acl(Bucket="docs-bucket", Key="k"),
            "GetObjectAcl",
            {"Bucket": "docs-bucket", "Key": "k"},
        ),
        (
            lambda c: c.copy_object(Bucket="docs-bucket", Key="k", CopySource="src/key"),
            "CopyObject",
            {"Bucket": "docs-bucket", "Key": "k"},
        ),
        (
            lambda c: c.upload_part(
                Bucket="docs-bucket", Key="k", PartNumber=2, UploadId="u", Body=b"x"
            ),
            "UploadPart",
            {"Bucket": "docs-bucket", "Key": "k", "PartNumber": 2, "UploadId": "u"},
        ),
        (
            lambda c: c.create_multipart_upload(Bucket="docs-bucket", Key="k"),
            "CreateMultipartUpload",
            {"Bucket": "docs-bucket", "Key": "k"},
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
@pytest.mark.parametrize(
    "endpoint",
    ["http://127.0.0.1:5000", "https://s3.us-east-1.amazonaws.com"],
    ids=["path-style", "virtual-host"],
)
def test_rest_xml_s3_operations_by_request_uri(
    call: Any, operation: str, params: dict[str, Any], endpoint: str
):
    """S3 operations sharing a URI are told apart by literal query keys and required
    header or query members; path-style and virtual-host requests parse alike."""
    options = {"s3": {"addressing_style": "virtual"}} if "amazonaws" in endpoint else {}
    raw = captured(call, client("s3", endpoint, **options))
    if "amazonaws" in endpoint:
        assert raw.host.startswith("docs-bucket.s3.")
    parsed = PARSER.parse(raw)
    assert (parsed.service, parsed.operation, parsed.protocol) == ("s3", operation, "rest-xml")
    assert {name: parsed.params[name] for name in params} == params


def test_presigned_get_is_signed_by_the_query_credential():
    url = client("s3").generate_presigned_url(
        "get_object",
        Params={"Bucket": "b", "Key": "documents/x", "ResponseContentDisposition": "attachment"},
        ExpiresIn=60,
    )
    parsed = PARSER.parse(raw_from_url("GET", url))
    assert (parsed.operation, parsed.credentials.auth) == ("GetObject", "query")
    assert parsed.credentials.access_key == ACCESS_KEY
    assert parsed.params["ResponseContentDisposition"] == "attachment"


def test_presigned_post_is_signed_by_the_form_credential():
    post = client("s3").generate_presigned_post(
        Bucket="b",
        Key="documents/${filename}",
        Fields={"Content-Type": "application/pdf"},
        Conditions=[{"Content-Type": "application/pdf"}],
        ExpiresIn=60,
    )
    fields: dict[str, Any] = dict(post["fields"])
    fields["file"] = ("report.pdf", b"%PDF-1.7", "application/pdf")
    body, content_type = encode_multipart_formdata(fields)
    parsed = PARSER.parse(raw_from_url("POST", post["url"], {"Content-Type": content_type}, body))
    assert (parsed.service, parsed.operation, parsed.credentials.auth) == (
        "s3",
        "PostObject",
        "post",
    )
    assert parsed.credentials.access_key == ACCESS_KEY
    assert parsed.params["Bucket"] == "b"
    assert parsed.params["Key"] == "documents/report.pdf"


def test_json_1_1_services():
    secret = parse(
        "secretsmanager",
        lambda c: c.get_secret_value(
            SecretId="arn:aws:secretsmanager:us-east-1:123456789012:secret:x"
        ),
    )
    assert (secret.service, secret.operation) == ("secretsmanager", "GetSecretValue")
    parameter = parse("ssm", lambda c: c.get_parameter(Name="/stack/feed-url", WithDecryption=True))
    assert parameter.params == {"Name": "/stack/feed-url", "WithDecryption": True}
    kms = parse("kms", lambda c: c.decrypt(CiphertextBlob=b"abc", KeyId="alias/app"))
    assert (kms.operation, kms.params["KeyId"]) == ("Decrypt", "alias/app")


def test_rest_json_sesv2_send_email():
    destination = {"ToAddresses": ["a@example.com"]}
    content = {"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}}
    parsed = parse(
        "sesv2",
        lambda c: c.send_email(
            FromEmailAddress="Team <team@example.com>", Destination=destination, Content=content
        ),
    )
    assert (parsed.service, parsed.operation, parsed.protocol) == (
        "sesv2",
        "SendEmail",
        "rest-json",
    )
    assert parsed.params == {
        "FromEmailAddress": "Team <team@example.com>",
        "Destination": destination,
        "Content": content,
    }


def test_rest_json_lambda_invoke_label_and_payload():
    parsed = parse("lambda", lambda c: c.invoke(FunctionName="stack-Fn", Payload=b'{"a": 1}'))
    assert (parsed.service, parsed.operation) == ("lambda", "Invoke")
    assert parsed.params["FunctionName"] == "stack-Fn"
    assert json.loads(parsed.params["Payload"]) == {"a": 1}


def test_unknown_target_is_unreadable():
    raw = captured(lambda c: c.list_tables(), client("dynamodb"))
    raw.headers["x-amz-target"] = "NoSuchService_20990101.Anything"  # type: ignore[index]
    with pytest.raises(UnreadableRequest, match="unknown X-Amz-Target"):
        PARSER.parse(raw)


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_service_table_matches_botocores_models(service: str):
    """The routing table (signing name, target prefix, protocol) is botocore's, row by row.
    Mutation caught: a wrong target prefix or protocol in SERVICES."""
    model = botocore.session.get_session().get_service_model(service)
    assert SERVICES[service] == (
        model.signing_name,
        model.metadata.get("targetPrefix"),
        model.protocol,
    )
