"""From (service, operation, parameters) to what IAM authorizes: action(s), resource ARN(s),
condition keys, including the KMS permissions an encrypted resource implies for the caller.

Covered: every operation the stack's functions and the local event-source pollers call,
and their close relatives (DynamoDB items, indexes, batches, transactions and streams; SQS
incl. batches and redrive; SNS Publish/PublishBatch; S3 objects and buckets, presigned
GET and POST; Secrets Manager by name or (partial) ARN; SSM parameters; KMS; SES SendEmail;
STS GetCallerIdentity; Lambda Invoke; the RDS Data API). Anything else raises `NoLocalRule`,
which the gate turns into a denial that names the gap: authorizing what this module cannot
model would make local green mean nothing.

Actions and resource types follow the Service Authorization Reference
(https://docs.aws.amazon.com/service-authorization/latest/reference/): a batch API is
authorized as its single-item action (SendMessageBatch -> sqs:SendMessage, PublishBatch ->
sns:Publish, DeleteMessageBatch -> sqs:DeleteMessage); TransactWriteItems needs the item
action of each entry (dynamodb:PutItem/UpdateItem/DeleteItem/ConditionCheckItem) on its
table; Query and Scan of an index act on `table/<t>/index/<i>`; HeadObject needs
s3:GetObject; a versioned GET or DELETE needs s3:GetObjectVersion or s3:DeleteObjectVersion;
the ARN of SSM parameter `/a/b` is `...:parameter/a/b` (one slash), of `a` `...:parameter/a`.

Implicit KMS permissions (the caller's, with `kms:ViaService` = `<service>.<region>.amazonaws.com`
and the service's encryption context), when the resource uses a customer-managed key:
- SQS SendMessage(Batch): kms:GenerateDataKey and kms:Decrypt; ReceiveMessage: kms:Decrypt
  (SQS Developer Guide, "Amazon SQS key management", section "Configuring AWS KMS
  permissions": producers need GenerateDataKey and Decrypt, consumers Decrypt).
- SNS Publish/PublishBatch: kms:GenerateDataKey and kms:Decrypt (SNS Developer Guide,
  "Managing Amazon SNS encryption keys": publishers need GenerateDataKey* and Decrypt).
- S3 PutObject / presigned POST / CreateMultipartUpload: kms:GenerateDataKey (multipart also
  kms:Decrypt); GetObject: kms:Decrypt (S3 User Guide, "Using server-side encryption with
  AWS KMS keys (SSE-KMS)", permissions). HeadObject reads metadata only and needs no key.
  With an S3 Bucket Key the encryption context is the bucket ARN, else the object ARN.
- Secrets Manager GetSecretValue: kms:Decrypt; PutSecretValue/UpdateSecret with a value:
  kms:GenerateDataKey (Secrets Manager User Guide, "Secret encryption and decryption").
- DynamoDB item and query operations on a table encrypted with a customer-managed key:
  kms:Decrypt. DynamoDB decrypts the table key on the caller's behalf when it is not cached
  (DynamoDB Developer Guide, "Encryption at rest: how it works", table key caching); a
  role without kms:Decrypt fails PutItem with "KMS key access denied" (aws/aws-cdk#10010,
  fixed by granting kms:Decrypt in aws/aws-cdk#19102). Reading the table's stream needs
  kms:Decrypt as well (aws/aws-cdk#22796). Locally every call is checked, not only the
  ones after a cache miss, so a missing grant fails at once rather than five minutes in.
- SSM GetParameter(s) WithDecryption of a SecureString parameter: kms:Decrypt.

RDS Data API (Aurora User Guide, "Authorizing access to RDS Data API"): each operation is its
own action (rds-data:ExecuteStatement, ...) on the cluster ARN of `resourceArn`, and the
Data API reads `secretArn` with the caller's credentials, so the caller also needs
secretsmanager:GetSecretValue on that secret, and kms:Decrypt through Secrets Manager when a
customer-managed key encrypts it.
"""

import email.utils
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from local_stack.iam.facts import ResourceFacts
from local_stack.iam.requests import ParsedRequest


class NoLocalRule(Exception):
    """An operation the local IAM check cannot authorize (and so denies)."""

    def __init__(self, service: str, operation: str) -> None:
        super().__init__(f"no local authorization rule for {service}:{operation}")
        self.service = service
        self.operation = operation


@dataclass(frozen=True)
class Requirement:
    """One action on one resource that the request needs allowed.

    `via` names the service for an implicit KMS requirement (the call on an encrypted queue
    needs `kms:Decrypt` via SQS); it is None for the action the caller asked for."""

    action: str
    resource: str
    context: Mapping[str, Any] = field(default_factory=dict)
    via: str | None = None

    @property
    def implicit(self) -> bool:
        return self.via is not None

    def key(self) -> tuple[str, str, str, str | None]:
        return (self.action, self.resource, repr(sorted(self.context.items())), self.via)


Rule = Callable[["ActionMapper", str, dict[str, Any], ParsedRequest], list[Requirement]]
_RULES: dict[str, Rule] = {}


def rule(service: str) -> Callable[[Rule], Rule]:
    def register(function: Rule) -> Rule:
        _RULES[service] = function
        return function

    return register


def _dedupe(requirements: list[Requirement]) -> list[Requirement]:
    seen: dict[tuple[str, str, str, str | None], Requirement] = {}
    for requirement in requirements:
        seen.setdefault(requirement.key(), requirement)
    return list(seen.values())


class ActionMapper:
    """Maps parsed requests to requirements; `facts` answers what the request leaves out."""

    def __init__(
        self, facts: ResourceFacts, *, region: str, account: str, partition: str = "aws"
    ) -> None:
        self.facts = facts
        self.region = region
        self.account = account
        self.partition = partition

    def requirements(self, request: ParsedRequest) -> list[Requirement]:
        handler = _RULES.get(request.service)
        if handler is None:
            raise NoLocalRule(request.service, request.operation)
        return _dedupe(handler(self, request.operation, request.params, request))

    # -- helpers ----------------------------------------------------------------------------

    def arn(self, service: str, resource: str, *, region: bool = True) -> str:
        where = self.region if region else ""
        return f"arn:{self.partition}:{service}:{where}:{self.account}:{resource}"

    def via(self, service: str) -> str:
        return f"{service}.{self.region}.amazonaws.com"

    def kms(
        self,
        service: str,
        key_arn: str | None,
        actions: tuple[str, ...],
        encryption_context: Mapping[str, str] | None = None,
    ) -> list[Requirement]:
        """The caller's implicit KMS requirements on `key_arn` when `service` uses it."""
        if key_arn is None:
            return []
        context: dict[str, Any] = {"kms:ViaService": self.via(service)}
        for name, value in (encryption_context or {}).items():
            context[f"kms:EncryptionContext:{name}"] = value
        if encryption_context:
            context["kms:EncryptionContextKeys"] = sorted(encryption_context)
        return [Requirement(action, key_arn, context, via=service) for action in actions]


def _one(params: Mapping[str, Any], *names: str) -> str:
    for name in names:
        if params.get(name):
            return str(params[name])
    raise NoLocalRule("request", f"missing {'/'.join(names)}")


# -- DynamoDB ------------------------------------------------------------------------------------

_DYNAMODB_TABLE_OPS = {
    "GetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "Scan",
    "DescribeTable",
    "DescribeTimeToLive",
    "DescribeContinuousBackups",
    "ListTagsOfResource",
}
_DYNAMODB_DATA_OPS = {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan"}
_TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}


def _table_arn(mapper: ActionMapper, table: str) -> str:
    return table if table.startswith("arn:") else mapper.arn("dynamodb", f"table/{table}")


def _table_kms(mapper: ActionMapper, table: str) -> list[Requirement]:
    name = table.split(":table/", 1)[-1].split("/", 1)[0]
    context = {"aws:dynamodb:tableName": name, "aws:dynamodb:subscriberId": mapper.account}
    return mapper.kms("dynamodb", mapper.facts.table_key(name), ("kms:Decrypt",), context)


def _dynamodb_context(params: Mapping[str, Any]) -> dict[str, Any]:
    context = {}
    for param, key in (
        ("ReturnValues", "dynamodb:ReturnValues"),
        ("ReturnConsumedCapacity", "dynamodb:ReturnConsumedCapacity"),
        ("Select", "dynamodb:Select"),
    ):
        if params.get(param):
            context[key] = params[param]
    return context


@rule("dynamodb")
def _dynamodb(
    mapper: ActionMapper, op: str, params: dict[str, Any], request: ParsedRequest
) -> list[Requirement]:
    if op in _DYNAMODB_TABLE_OPS:
        table = _one(params, "TableName", "ResourceArn")
        resource = _table_arn(mapper, table)
        if op in ("Query", "Scan") and params.get("IndexName"):
            resource = f"{resource}/index/{params['IndexName']}"
        found = [Requirement(f"dynamodb:{op}", resource, _dynamodb_context(params))]
        return found + (_table_kms(mapper, table) if op in _DYNAMODB_DATA_OPS else [])
    if op in ("BatchGetItem", "BatchWriteItem"):
        found = []
        for table in params.get("RequestItems", {}):
            found.append(Requirement(f"dynamodb:{op}", _table_arn(mapper, table)))
            found += _table_kms(mapper, table)
        return found
    if op in ("TransactWriteItems", "TransactGetItems"):
        found = []
        for item in params.get("TransactItems", []):
            ((kind, body),) = item.items()
            table = str(body["TableName"])
            found.append(
                Requirement(f"dynamodb:{_TRANSACT_ACTIONS[kind]}", _table_arn(mapper, table))
            )
            found += _table_kms(mapper, table)
        return found
    if op == "ListTables":
        return [Requirement("dynamodb:ListTables", "*")]
    raise NoLocalRule("dynamodb", op)


@rule("dynamodbstreams")
def _streams(
    mapper: ActionMapper, op: str, params: dict[str, Any], request: ParsedRequest
) -> list[Requirement]:
    if op in ("DescribeStream", "GetShardIterator"):
        stream = _one(params, "StreamArn")
        return [Requirement(f"dynamodb:{op}", stream)]
    if op == "GetRecords":
        read = mapper.facts.stream_arn(_one(params, "ShardIterator"))
        if read is None:
            raise NoLocalRule("dynamodbstreams", "GetRecords (unknown shard iterator)")
        return [Requirement("dynamodb:GetRecords", read), *_table_kms(mapper, read)]
    if op == "ListStreams":
        return [Requirement("dynamodb:ListStreams", "*")]
    raise NoLocalRule("dynamodbstreams", op)


# -- SQS -------------------------------------------------------------------------------------

_SQS_ACTIONS = {
    "SendMessage": "SendMessage",
    "SendMessageBatch": "SendMessage",
    "ReceiveMessage": "ReceiveMessage",
    "DeleteMessage": "DeleteMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibility": "ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
    "GetQueueAttributes": "GetQueueAttributes",
    "SetQueueAttributes": "SetQueueAttributes",
    "PurgeQueue": "PurgeQueue",
    "DeleteQueue": "DeleteQueue",
    "ListDeadLetterSourceQueues": "ListDeadLetterSourceQueues",
    "ListQueueTags": "ListQueueTags",
    "TagQueue": "TagQueue",
    "UntagQueue": "UntagQueue",
}


def _queue_arn(mapper: ActionMapper, queue: str) -> str:
    if queue.startswith("arn:"):
        return queue
    found = mapper.facts.queue_arn(queue)
    if found:
        return found
    # https://sqs.<region>.amazonaws.com/<account>/<name>: the URL names the queue
    parts = queue.rstrip("/").split("/")
    account = parts[-2] if len(parts) >= 2 and parts[-2].isdigit() else mapper.account
    return f"arn:{mapper.partition}:sqs:{mapper.region}:{account}:{parts[-1]}"


def _queue_kms(mapper: ActionMapper, queue_arn: str, actions: tuple[str, ...]) -> list[Requirement]:
    key = mapper.facts.queue_key(queue_arn)
    return mapper.kms("sqs", key, actions, {"aws:sqs:arn": queue_arn})


@rule("sqs")
def _sqs(
    mapper: ActionMapper, op: str, params: dict[str, Any], request: ParsedRequest
) -> list[Requirement]:
    if op in _SQS_ACTIONS:
        queue = _queue_arn(mapper, _one(params, "QueueUrl"))
        found = [Requirement(f"sqs:{_SQS_ACTIONS[op]}", queue)]
        if op in ("SendMessage", "SendMessageBatch"):
            found += _queue_kms(mapper, queue, ("kms:GenerateDataKey", "kms:Decrypt"))
        elif op == "ReceiveMessage":
            found += _queue_kms(mapper, queue, ("kms:Decrypt",))
        return found
    if op in ("GetQueueUrl", "CreateQueue"):
        name = _one(params, "QueueName")
        account = str(params.get("QueueOwnerAWSAccountId") or mapper.account)
        return [
            Requirement(f"sqs:{op}", f"arn:{mapper.partition}:sqs:{mapper.region}:{account}:{name}")
        ]
    if op == "ListQueues":
        return [Requirement("sqs:ListQueues", "*")]
    if op == "StartMessageMoveTask":
        # SQS Developer Guide, "Configuring queue permissions for dead-letter queue redrive"
        source = _one(params, "SourceArn")
        found = [
            Requirement("sqs:StartMessageMoveTask", source),
            Requirement("sqs:ReceiveMessage", source),
            Requirement("sqs:DeleteMessage", source),
            Requirement("sqs:GetQueueAttributes", source),
        ]
        if params.get("DestinationArn"):
            found.append(Requirement("sqs:SendMessage", str(params["DestinationArn"])))
        return found
    if op == "ListMessageMoveTasks":
        return [Requirement("sqs:ListMessageMoveTasks", _one(params, "SourceArn"))]
    raise NoLocalRule("sqs", op)


# -- SNS -------------------------------------------------------------------------------------

_SNS_TOPIC_OPS = {
    "GetTopicAttributes",
    "SetTopicAttributes",
    "Subscribe",
    "ListSubscriptionsByTopic",
    "DeleteTopic",
}


@rule("sns")
def _sns(
    mapper: ActionMapper, op: str, params: dict[str, Any], request: ParsedRequest
) -> list[Requirement]:
    if op in ("Publish", "PublishBatch"):
        target = _one(params, "TopicArn", "TargetArn", "PhoneNumber")
        found = [Requirement("sns:Publish", target)]
        if target.startswith("arn:") and ":sns:" in target:
            key = mapper.facts.topic_key(target)
            found += mapper.kms(
                "sns", key, ("kms:GenerateDataKey", "kms:Decrypt"), {"aws:sns:topicArn": target}
            )
        return found
    if op in _SNS_TOPIC_OPS:
        return [Requirement(f"sns:{op}", _one(params, "TopicArn"))]
    if op == "Unsubscribe":
        topic = _one(params, "SubscriptionArn").rsplit(":", 1)[0]
        return [Requirement("sns:Unsubscribe", topic)]
    if op == "CreateTopic":
        return [Requirement("sns:CreateTopic", mapper.arn("sns", _one(params, "Name")))]
    if op in ("ListTopics", "ListSubscriptions"):
        return [Requirement(f"sns:{op}", "*")]
    raise NoLocalRule("sns", op)


# -- S3 --------------------------------------------------------------------------------------

_S3_AUTH_TYPES = {"header": "REST-HEADER", "query": "REST-QUERY-STRING", "post": "POST"}


def _s3_context(request: ParsedRequest) -> dict[str, Any]:
    context: dict[str, Any] = {}
    auth = _S3_AUTH_TYPES.get(request.credentials.auth)
    if auth:
        context["s3:authType"] = auth
        context["s3:signatureversion"] = "AWS4-HMAC-SHA256"
    return context


def _object_kms(
    mapper: ActionMapper, bucket: str, key: str, key_arn: str | None, actions: tuple[str, ...]
) -> list[Requirement]:
    _, bucket_key = mapper.facts.bucket_key(bucket)
    subject = f"arn:{mapper.partition}:s3:::{bucket}" + ("" if bucket_key else f"/{key}")
    return mapper.kms("s3", key_arn, actions, {"aws:s3:arn": subject})


def _upload_key(mapper: ActionMapper, bucket: str, algorithm: Any, key_id: Any) -> str | None:
    """The customer-managed key an upload is encrypted with (asked for, or the default)."""
    if algorithm == "aws:kms" and key_id:
        return mapper.facts.key_arn(str(key_id))
    default, _ = mapper.facts.bucket_key(bucket)
    if algorithm in (None, "", "aws:kms"):
        return default
    return None


def _s3_object(
    mapper: ActionMapper, op: str, params: dict[str, Any], request: ParsedRequest
) -> list[Requirement]:
    bucket, key = str(params["Bucket"]), str(params["Key"])
    arn = f"arn:{mapper.partition}:s3:::{bucket}/{key}"
    context = _s3_context(request)
    version = params.get("VersionId")
    if version:
        context["s3:versionid"] = version
    if op in ("GetObject", "HeadObject"):
        action = "s3:GetObjectVersion" if version else "s3:GetObject"
        found = [Requirement(action, arn, context)]
        if op == "GetObject":
            stored = mapper.facts.object_key(bucket, key, version)
            found += _object_kms(mapper, bucket, key, stored, ("kms:Decrypt",))
        return found
    if op == "DeleteObject":
        return [
            Requirement("s3:DeleteObjectVersion" if version else "s3:DeleteObject", arn, context)
        ]
    if op == "PostObject":
        fields = {name.lower(): value for name, value in params.get("Fields", {}).items()}
        algorithm = fields.get("x-amz-server-side-encryption")
        key_id = fields.get("x-amz-server-side-encryption-aws-kms-key-id")
    else:
        algorithm, key_id = params.get("ServerSideEncryption"), params.get("SSEKMSKeyId")
    if algorithm:
        context["s3:x-amz-server-side-encryption"] = algorithm
    found = [Requirement("s3:PutObject", arn, context)]
    if params.get("Tagging"):
        found.append(Requirement("s3:PutObjectTagging", arn, context))
    if params.get("ACL"):
        found.append(Requirement("s3:PutObjectAcl", arn, context))
    actions: tuple[str, ...] = ("kms:GenerateDataKey",)
    if op == "CreateMultipartUpload":
        actions = ("kms:GenerateDataKey", "kms:Decrypt")
    return found + _object_kms(
        mapper, bucket, key, _upload_key(mapper, bucket, algorithm, key_id), actions
    )


_S3_OBJECT_OPS = {"GetObject", "HeadObject", "PutObject", "PostObject", "DeleteObject"}
_S3_BUCKET_ACTIONS = {
    "ListObjects": "s3:ListBucket",
    "ListObjectsV2": "s3:ListBucket",
    "HeadBucket": "s3:ListBucket",
    "ListObjectVersions": "s3:ListBucketVersions",
    "GetBucketLocation": "s3:GetBucketLocation",
    "GetBucketPolicy": "s3:GetBucketPolicy",
    "GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "GetBucketVersioning": "s3:GetBucketVersioning",
    "GetBucketCors": "s3:GetBucketCORS",
    "GetBucketNotificationConfiguration": "s3:GetBucketNotification",
}


@rule("s3")
def _s3(
    mapper: ActionMapper, op: str, params: dict[str, Any], request: ParsedRequest
) -> list[Requirement]:
    if op in _S3_OBJECT_OPS or op in ("CreateMultipartUpload", "UploadPart"):
        if op == "UploadPart":
            arn = f"arn:{mapper.partition}:s3:::{params['Bucket']}/{params['Key']}"
            return [Requirement("s3:PutObject", arn, _s3_context(request))]
        return _s3_object(mapper, op, params, request)
    if op in ("CompleteMultipartUpload", "AbortMultipartUpload"):
        arn = f"arn:{mapper.partition}:s3:::{params['Bucket']}/{params['Key']}"
        action = "s3:PutObject" if op == "CompleteMultipartUpload" else "s3:AbortMultipartUpload"
        return [Requirement(action, arn, _s3_context(request))]
    if op == "CopyObject":
        source = unquote(str(params["CopySource"])).lstrip("/").split("?versionId=", 1)
        source_arn = f"arn:{mapper.partition}:s3:::{source[0]}"
        copy = [
            Requirement("s3:GetObjectVersion" if len(source) > 1 else "s3:GetObject", source_arn)
        ]
        return copy + _s3_object(mapper, "PutObject", params, request)
    if op in _S3_BUCKET_ACTIONS:
        context = _s3_context(request)
        for param, key in (
            ("Prefix", "s3:prefix"),
            ("Delimiter", "s3:delimiter"),
            ("MaxKeys", "s3:max-keys"),
        ):
            if param in params:
                context[key] = params[param]
        arn = f"arn:{mapper.partition}:s3:::{params['Bucket']}"
        return [Requirement(_S3_BUCKET_ACTIONS[op], arn, context)]
    if op == "ListBuckets":
        return [Requirement("s3:ListAllMyBuckets", "*")]
    raise NoLocalRule("s3", op)


# -- Secrets Manager, SSM, KMS -----------------------------------------------------------------

_SECRET_OPS = {
    "GetSecretValue",
    "DescribeSecret",
    "PutSecretValue",
    "UpdateSecret",
    "DeleteSecret",
    "RotateSecret",
    "ListSecretVersionIds",
    "GetResourcePolicy",
    "TagResource",
    "UntagResource",
    "UpdateSecretVersionStage",
}


@rule("secretsmanager")
def _secretsmanager(
    mapper: ActionMapper, op: str, params: dict[str, Any], request: ParsedRequest
) -> list[Requirement]:
    if op in ("GetRandomPassword", "ListSecrets"):
        return [Requirement(f"secretsmanager:{op}", "*")]
    if op not in _SECRET_OPS:
        raise NoLocalRule("secretsmanager", op)
    secret_id = _one(params, "SecretId")
    arn: str | None = mapper.facts.secret_arn(secret_id)
    if arn is None:  # no such secret: AWS authorizes against the name it was given
        arn = (
            secret_id
            if secret_id.startswith("arn:")
            else mapper.arn("secretsmanager", f"secret:{secret_id}")
        )
    context: dict[str, Any] = {"secretsmanager:SecretId": secret_id}
    for param, name in (
        ("VersionId", "secretsmanager:VersionId"),
        ("VersionStage", "secretsmanager:VersionStage"),
    ):
        if params.get(param):
            context[name] = params[param]
    found = [Requirement(f"secretsmanager:{op}", arn, context)]
    key = mapper.facts.secret_key(arn)
    encryption = {"SecretARN": str(arn)}
    if op == "GetSecretValue":
        found += mapper.kms("secretsmanager", key, ("kms:Decrypt",), encryption)
    elif op in ("PutSecretValue", "UpdateSecret") and (
        "SecretString" in params or "SecretBinary" in params
    ):
        found += mapper.kms("secretsmanager", key, ("kms:GenerateDataKey",), encryption)
    return found


def parameter_arn(mapper: ActionMapper, name: str) -> str:
    """`/a/b` -> arn:...:parameter/a/b; `a` -> arn:...:parameter/a (a `:version` or
    `:label` selector is not part of the ARN)."""
    if name.startswith("arn:"):
        return ":".join(name.split(":")[:6])
    plain = name.split(":", 1)[0]
    return mapper.arn("ssm", f"parameter/{plain[1:] if plain.startswith('/') else plain}")


@rule("ssm")
def _ssm(
    mapper: ActionMapper, op: str, params: dict[str, Any], request: ParsedRequest
) -> list[Requirement]:
    names: list[str]
    if op in (
        "GetParameter",
        "PutParameter",
        "DeleteParameter",
        "GetParameterHistory",
        "LabelParameterVersion",
    ):
        names = [_one(params, "Name")]
    elif op in ("GetParameters", "DeleteParameters"):
        names = [str(name) for name in params.get("Names", [])]
    elif op == "GetParametersByPath":
        names = [_one(params, "Path")]
    elif op == "DescribeParameters":
        return [Requirement("ssm:DescribeParameters", "*")]
    else:
        raise NoLocalRule("ssm", op)
    found = []
    for name in names:
        arn = parameter_arn(mapper, name)
        found.append(Requirement(f"ssm:{op}", arn))
        if params.get("WithDecryption") and op != "PutParameter":
            key = mapper.facts.parameter_key(
                name.split(":", 1)[0] if not name.startswith("arn:") else name
            )
            found += mapper.kms("ssm", key, ("kms:Decrypt",), {"PARAMETER_ARN": arn})
    return found


_KMS_KEY_OPS = {
    "Encrypt",
    "Decrypt",
    "ReEncrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "DescribeKey",
    "GetKeyPolicy",
    "GetKeyRotationStatus",
    "ListResourceTags",
}


@rule("kms")
def _kms(
    mapper: ActionMapper, op: str, params: dict[str, Any], request: ParsedRequest
) -> list[Requirement]:
    if op in ("ListKeys", "ListAliases", "GenerateRandom"):
        return [Requirement(f"kms:{op}", "*")]
    if op not in _KMS_KEY_OPS:
        raise NoLocalRule("kms", op)
    key_id = params.get("KeyId") or params.get("DestinationKeyId")
    if not key_id:
        raise NoLocalRule("kms", f"{op} without KeyId")
    arn = mapper.facts.key_arn(str(key_id)) or (
        str(key_id) if str(key_id).startswith("arn:") else mapper.arn("kms", f"key/{key_id}")
    )
    context: dict[str, Any] = {}
    encryption = params.get("EncryptionContext") or {}
    for name, value in encryption.items():
        context[f"kms:EncryptionContext:{name}"] = value
    if encryption:
        context["kms:EncryptionContextKeys"] = sorted(encryption)
    if str(key_id).startswith("alias/") or ":alias/" in str(key_id):
        context["kms:RequestAlias"] = str(key_id).split(":", 5)[-1]
    action = "kms:ReEncryptFrom" if op == "ReEncrypt" else f"kms:{op}"
    return [Requirement(action, arn, context)]


# -- SES, STS, Lambda ------------------------------------------------------------------------


def _addresses(values: Any) -> list[str]:
    return [email.utils.parseaddr(str(value))[1] or str(value) for value in values or []]


@rule("sesv2")
def _sesv2(
    mapper: ActionMapper, op: str, params: dict[str, Any], request: ParsedRequest
) -> list[Requirement]:
    if op != "SendEmail":
        raise NoLocalRule("sesv2", op)
    display, address = email.utils.parseaddr(_one(params, "FromEmailAddress"))
    destination = params.get("Destination", {})
    recipients = [
        *_addresses(destination.get("ToAddresses")),
        *_addresses(destination.get("CcAddresses")),
        *_addresses(destination.get("BccAddresses")),
    ]
    return _send_email(
        mapper,
        version="2",
        address=address,
        display=display,
        recipients=recipients,
        params=params,
    )


@rule("ses")
def _ses(
    mapper: ActionMapper, op: str, params: dict[str, Any], request: ParsedRequest
) -> list[Requirement]:
    if op not in ("SendEmail", "SendRawEmail"):
        raise NoLocalRule("ses", op)
    display, address = email.utils.parseaddr(_one(params, "Source"))
    destination = params.get("Destination", {})
    recipients = [
        *_addresses(destination.get("ToAddresses")),
        *_addresses(destination.get("CcAddresses")),
        *_addresses(destination.get("BccAddresses")),
        *_addresses(params.get("Destinations")),
    ]
    found = _send_email(
        mapper,
        version="1",
        address=address,
        display=display,
        recipients=recipients,
        params=params,
    )
    return [
        Requirement(f"ses:{op}", r.resource, r.context, r.via) if r.action == "ses:SendEmail" else r
        for r in found
    ]


def _send_email(
    mapper: ActionMapper,
    *,
    version: str,
    address: str,
    display: str,
    recipients: list[str],
    params: dict[str, Any],
) -> list[Requirement]:
    """ses:SendEmail on the sending identity (and the configuration set, if any); context
    keys ses:FromAddress, ses:FromDisplayName, ses:Recipients, ses:ApiVersion."""
    context: dict[str, Any] = {"ses:FromAddress": address, "ses:ApiVersion": version}
    if display:
        context["ses:FromDisplayName"] = display
    if recipients:
        context["ses:Recipients"] = recipients
    feedback = params.get("FeedbackForwardingEmailAddress") or params.get("ReturnPath")
    if feedback:
        context["ses:FeedbackAddress"] = str(feedback)
    identity_arn = params.get("FromEmailAddressIdentityArn") or params.get("SourceArn")
    identity = (
        str(identity_arn)
        if identity_arn
        else mapper.arn("ses", f"identity/{mapper.facts.email_identity(address)}")
    )
    found = [Requirement("ses:SendEmail", identity, context)]
    if params.get("ConfigurationSetName"):
        arn = mapper.arn("ses", f"configuration-set/{params['ConfigurationSetName']}")
        found.append(Requirement("ses:SendEmail", arn, context))
    return found


@rule("sts")
def _sts(
    mapper: ActionMapper, op: str, params: dict[str, Any], request: ParsedRequest
) -> list[Requirement]:
    if op == "GetCallerIdentity":
        return []  # "No permissions are required to perform this operation." (STS API)
    if op == "AssumeRole":
        return [Requirement("sts:AssumeRole", _one(params, "RoleArn"))]
    raise NoLocalRule("sts", op)


@rule("lambda")
def _lambda(
    mapper: ActionMapper, op: str, params: dict[str, Any], request: ParsedRequest
) -> list[Requirement]:
    actions = {
        "Invoke": "lambda:InvokeFunction",
        "GetFunction": "lambda:GetFunction",
        "GetFunctionConfiguration": "lambda:GetFunctionConfiguration",
    }
    if op not in actions:
        raise NoLocalRule("lambda", op)
    name = _one(params, "FunctionName")
    if not name.startswith("arn:"):
        name = mapper.arn("lambda", f"function:{name}")
    if params.get("Qualifier"):
        name = f"{name}:{params['Qualifier']}"
    return [Requirement(actions[op], name)]


_RDS_DATA_OPS = {
    "ExecuteStatement",
    "BatchExecuteStatement",
    "BeginTransaction",
    "CommitTransaction",
    "RollbackTransaction",
}


@rule("rds-data")
def _rds_data(
    mapper: ActionMapper, op: str, params: dict[str, Any], request: ParsedRequest
) -> list[Requirement]:
    if op not in _RDS_DATA_OPS:
        raise NoLocalRule("rds-data", op)
    cluster = _one(params, "resourceArn")
    secret = {"SecretId": _one(params, "secretArn")}
    read = _secretsmanager(mapper, "GetSecretValue", secret, request)
    # the secret read is the Data API's, with the caller's permissions: implicit in the call
    implicit = [
        r if r.via is not None else Requirement(r.action, r.resource, r.context, via="rds-data")
        for r in read
    ]
    return [Requirement(f"rds-data:{op}", cluster), *implicit]
