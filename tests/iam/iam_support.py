"""Helpers of the IAM tests: requests as botocore serializes and signs them, and fixed
resource facts."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config

from local_stack.iam.requests import RawRequest

ACCESS_KEY = "ASIATESTFUNCTIONKEY1"
ACCOUNT = "123456789012"
REGION = "us-east-1"


class _Captured(Exception):
    pass


def client(service: str, endpoint: str = "http://127.0.0.1:5000", **config: Any) -> Any:
    return boto3.client(  # type: ignore[call-overload]
        service,
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key="secret",
        aws_session_token="token",
        config=Config(retries={"max_attempts": 1}, **config),
    )


def raw_from_url(
    method: str, url: str, headers: dict[str, str] | None = None, body: bytes = b""
) -> RawRequest:
    parts = urlsplit(url)
    return RawRequest(
        method=method,
        path=parts.path or "/",
        query=parts.query,
        headers={"host": parts.netloc} | {k.lower(): v for k, v in (headers or {}).items()},
        body=body,
    )


def captured(call: Callable[[Any], Any], service_client: Any) -> RawRequest:
    """The request botocore builds, serializes and signs for `call(client)`, not sent."""
    holder: dict[str, Any] = {}

    def grab(request: Any, **_: Any) -> None:
        holder["request"] = request
        raise _Captured

    service_client.meta.events.register_first("before-send", grab)
    try:
        call(service_client)
    except _Captured:
        pass
    finally:
        service_client.meta.events.unregister("before-send", grab)
    request = holder["request"]
    body = request.body or b""
    if hasattr(body, "read"):
        body = body.read()
    if isinstance(body, str):
        body = body.encode()
    headers = {
        key: value.decode() if isinstance(value, bytes) else str(value)
        for key, value in request.headers.items()
    }
    return raw_from_url(request.method, request.url, headers, body)


@dataclass
class FakeFacts:
    """ResourceFacts with fixed answers (None everywhere unless set)."""

    keys: dict[str, str] = field(
        default_factory=dict
    )  # resource (queue/topic/table/...) -> key ARN
    secrets: dict[str, str] = field(default_factory=dict)  # name -> full ARN
    bucket_keys: dict[str, tuple[str | None, bool]] = field(default_factory=dict)
    objects: dict[tuple[str, str], str] = field(default_factory=dict)
    identities: dict[str, str] = field(default_factory=dict)

    def queue_arn(self, queue: str) -> str | None:
        name = queue.rstrip("/").rsplit("/", 1)[-1]
        return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"

    def queue_key(self, queue_arn: str) -> str | None:
        return self.keys.get(queue_arn)

    def topic_key(self, topic_arn: str) -> str | None:
        return self.keys.get(topic_arn)

    def table_key(self, table_name: str) -> str | None:
        return self.keys.get(table_name)

    def secret_arn(self, secret_id: str) -> str | None:
        if secret_id in self.secrets:
            return self.secrets[secret_id]
        return next(
            (
                arn
                for arn in self.secrets.values()
                if arn == secret_id or arn.startswith(secret_id + "-")
            ),
            None,
        )

    def secret_key(self, secret_arn: str) -> str | None:
        return self.keys.get(secret_arn)

    def parameter_key(self, name: str) -> str | None:
        return self.keys.get(name)

    def bucket_key(self, bucket: str) -> tuple[str | None, bool]:
        return self.bucket_keys.get(bucket, (None, False))

    def object_key(self, bucket: str, key: str, version_id: str | None) -> str | None:
        return self.objects.get((bucket, key))

    def key_arn(self, key_id: str) -> str | None:
        return key_id if key_id.startswith("arn:aws:kms") else None

    def stream_arn(self, shard_iterator: str) -> str | None:
        arn, _, _ = shard_iterator.partition("|")
        return arn or None

    def email_identity(self, address: str) -> str:
        return self.identities.get(address, address)
