"""Facts about resources that a request names only indirectly: a queue's ARN from its URL,
the customer-managed KMS key that encrypts a queue, topic, table, secret, parameter, bucket
or object, the stream a shard iterator reads, the identity an email address sends as.

`ResourceFacts` is what the authorization rules need; `MotoFacts` answers from moto's
backends in this process (the gate runs in the process that serves moto). A key that AWS
manages (`alias/aws/sqs`, ...) counts as no customer-managed key: its key policy lets every
principal of the account use it through the service, so it implies no permission a role
must hold.
"""

import email.utils
from typing import Any, Protocol


class ResourceFacts(Protocol):
    def queue_arn(self, queue: str) -> str | None:
        """ARN of a queue given by URL or name."""

    def queue_key(self, queue_arn: str) -> str | None:
        """ARN of the customer-managed key encrypting the queue (None: none, or SSE-SQS)."""

    def topic_key(self, topic_arn: str) -> str | None: ...

    def table_key(self, table_name: str) -> str | None: ...

    def secret_arn(self, secret_id: str) -> str | None:
        """Full ARN of a secret given by name, full ARN or partial ARN."""

    def secret_key(self, secret_arn: str) -> str | None: ...

    def parameter_key(self, name: str) -> str | None:
        """The customer-managed key of a SecureString parameter."""

    def bucket_key(self, bucket: str) -> tuple[str | None, bool]:
        """(customer-managed key of the bucket's default encryption, S3 Bucket Key on)."""

    def object_key(self, bucket: str, key: str, version_id: str | None) -> str | None:
        """The customer-managed key of a stored object (None: absent or not SSE-KMS)."""

    def key_arn(self, key_id: str) -> str | None:
        """ARN of a customer-managed key given by id, ARN, alias or alias ARN."""

    def stream_arn(self, shard_iterator: str) -> str | None: ...

    def email_identity(self, address: str) -> str:
        """The SES identity an address sends as: the address if verified, else its domain."""


class MotoFacts:
    """`ResourceFacts` from moto's in-process backends."""

    def __init__(self, account: str, region: str, partition: str = "aws") -> None:
        self.account = account
        self.region = region
        self.partition = partition

    def _backend(self, service: str) -> Any:
        from moto.backends import get_backend  # noqa: PLC0415 - moto is heavy to import

        # global services (S3) keep one backend per partition, not per region
        where = self.partition if service in ("s3", "iam") else self.region
        return get_backend(service)[self.account][where]  # type: ignore[call-overload]

    # -- KMS ---------------------------------------------------------------------------------

    def key_arn(self, key_id: str) -> str | None:
        if not key_id:
            return None
        kms = self._backend("kms")
        try:
            raw = kms.any_id_to_key_id(key_id)
        except (KeyError, TypeError, AttributeError):
            return None
        key = kms.keys.get(raw) if raw else None
        if key is None or getattr(key, "key_manager", "CUSTOMER") != "CUSTOMER":
            return None
        return str(key.arn)

    # -- SQS ---------------------------------------------------------------------------------

    def _queue(self, queue: str) -> Any:
        name = queue.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
        return self._backend("sqs").queues.get(name)

    def queue_arn(self, queue: str) -> str | None:
        found = self._queue(queue)
        return str(found.queue_arn) if found is not None else None

    def queue_key(self, queue_arn: str) -> str | None:
        found = self._queue(queue_arn)
        key_id = getattr(found, "kms_master_key_id", None) if found is not None else None
        return self.key_arn(str(key_id)) if key_id else None

    # -- SNS, DynamoDB, Secrets Manager, SSM -------------------------------------------------

    def topic_key(self, topic_arn: str) -> str | None:
        topic = self._backend("sns").topics.get(topic_arn)
        key_id = getattr(topic, "kms_master_key_id", None) if topic is not None else None
        return self.key_arn(str(key_id)) if key_id else None

    def table_key(self, table_name: str) -> str | None:
        name = table_name.split(":table/", 1)[-1].split("/", 1)[0]
        table = self._backend("dynamodb").tables.get(name)
        sse = getattr(table, "sse_specification", None) or {}
        if not sse or str(sse.get("Enabled", sse.get("SSEEnabled", "false"))).lower() != "true":
            return None
        key_id = sse.get("KMSMasterKeyId")
        return self.key_arn(str(key_id)) if key_id else None

    def secret_arn(self, secret_id: str) -> str | None:
        secret = self._backend("secretsmanager").secrets.get(secret_id)
        return str(secret.arn) if secret is not None else None

    def secret_key(self, secret_arn: str) -> str | None:
        secret = self._backend("secretsmanager").secrets.get(secret_arn)
        key_id = getattr(secret, "kms_key_id", None) if secret is not None else None
        return self.key_arn(str(key_id)) if key_id else None

    def parameter_key(self, name: str) -> str | None:
        ssm = self._backend("ssm")
        try:
            parameter = ssm.get_parameter(name)
        except Exception:  # noqa: BLE001 - a missing parameter implies no key
            return None
        if parameter is None or getattr(parameter, "parameter_type", "") != "SecureString":
            return None
        key_id = getattr(parameter, "keyid", None)
        return self.key_arn(str(key_id)) if key_id else None

    # -- S3 ------------------------------------------------------------------------------------

    def bucket_key(self, bucket: str) -> tuple[str | None, bool]:
        found = self._backend("s3").buckets.get(bucket)
        encryption = getattr(found, "encryption", None) or {}
        rule = encryption.get("Rule", encryption.get("Rules", {}))
        rule = rule[0] if isinstance(rule, list) and rule else rule
        default = rule.get("ApplyServerSideEncryptionByDefault", {}) if rule else {}
        if default.get("SSEAlgorithm") not in ("aws:kms", "aws:kms:dsse"):
            return None, False
        bucket_key = str(rule.get("BucketKeyEnabled", "false")).lower() == "true"
        key_id = default.get("KMSMasterKeyID")
        return (self.key_arn(str(key_id)) if key_id else None), bucket_key

    def object_key(self, bucket: str, key: str, version_id: str | None) -> str | None:
        s3 = self._backend("s3")
        found = s3.buckets.get(bucket)
        if found is None:
            return None
        stored = found.keys.getlist(key) if hasattr(found.keys, "getlist") else []
        if version_id:
            stored = [item for item in stored if str(item.version_id) == version_id]
        item = stored[-1] if stored else None
        if item is None or getattr(item, "encryption", None) != "aws:kms":
            return None
        key_id = getattr(item, "kms_key_id", None)
        return self.key_arn(str(key_id)) if key_id else None

    # -- DynamoDB Streams, SES -------------------------------------------------------------------

    def stream_arn(self, shard_iterator: str) -> str | None:
        # moto's iterators are "<stream ARN>|1|<id>"
        arn, separator, _ = shard_iterator.partition("|")
        return arn if separator and arn.startswith("arn:") else None

    def email_identity(self, address: str) -> str:
        _, parsed = email.utils.parseaddr(address)
        parsed = parsed or address
        domain = parsed.rpartition("@")[2]
        # moto keeps SES v1 and v2 identities in one place: the ses backend
        verified = self._backend("ses").email_identities
        if parsed in verified or domain.lower() not in verified:
            return parsed
        return domain
