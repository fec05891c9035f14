"""S3 (and the CloudFront option in front of it) for the local stack.

* Buckets: moto's CloudFormation creates a bucket but ignores most of its properties, so
  the shim here creates it through moto's S3 API with every property template.yaml sets
  (encryption, public access block, ownership, versioning, lifecycle, CORS, notifications,
  tags). A property it does not know fails the deploy rather than vanish silently.
* Bucket policies: resolved and checked, but not put into moto (see `bucket_policy`);
  docs/documents.md explains the policy line by line.
* CloudFront has no local implementation: its resources get placeholder ids and domain
  names, so the template also deploys with the CDN switched on.
* S3 -> Lambda notifications: moto would invoke its own (Docker) Lambda. For functions of
  the local stack the notification is queued instead, released when moto has finished
  the request that caused it (moto emits the event before it stores the upload's
  Content-Type), and delivered by an event source, as Lambda's asynchronous invoke does:
  two retries, then the function's dead-letter queue.
"""

import copy
import functools
import hashlib
import json
import sys
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from moto.s3 import notifications as moto_notifications
from moto.s3.responses import S3Response

from local_stack.runtime.functions import LocalFunction
from local_stack.template.intrinsics import without_novalue


class Cloud(Protocol):
    """What the shims need of local_stack.assembly.cloud.LocalCloud."""

    stack_name: str
    region: str

    def client(self, service: str, credentials: Any = None) -> Any: ...


Created = tuple[str, dict[str, str]]  # physical id, GetAtt attributes


# -- buckets ---------------------------------------------------------------------------------


def _flag(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).lower() == "true"


def _encryption(config: dict[str, Any]) -> dict[str, Any]:
    rules = []
    for rule in config["ServerSideEncryptionConfiguration"]:
        api: dict[str, Any] = {}
        default = rule.get("ServerSideEncryptionByDefault")
        if default:
            api["ApplyServerSideEncryptionByDefault"] = {
                key: default[key] for key in ("SSEAlgorithm", "KMSMasterKeyID") if key in default
            }
        if "BucketKeyEnabled" in rule:
            api["BucketKeyEnabled"] = _flag(rule["BucketKeyEnabled"])
        rules.append(api)
    return {"Rules": rules}


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    api: dict[str, Any] = {"ID": rule.get("Id", ""), "Status": rule["Status"]}
    conditions: dict[str, Any] = {}
    if "Prefix" in rule:
        conditions["Prefix"] = rule["Prefix"]
    for size in ("ObjectSizeGreaterThan", "ObjectSizeLessThan"):
        if size in rule:
            conditions[size] = int(rule[size])
    if len(conditions) > 1:
        api["Filter"] = {"And": conditions}
    else:
        api["Filter"] = conditions or {"Prefix": ""}
    if "Transitions" in rule:
        api["Transitions"] = [
            {"Days": int(t["TransitionInDays"]), "StorageClass": t["StorageClass"]}
            for t in rule["Transitions"]
        ]
    if "NoncurrentVersionExpiration" in rule:
        api["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": int(rule["NoncurrentVersionExpiration"]["NoncurrentDays"])
        }
    if "ExpirationInDays" in rule:
        api["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    elif "ExpiredObjectDeleteMarker" in rule:
        api["Expiration"] = {"ExpiredObjectDeleteMarker": _flag(rule["ExpiredObjectDeleteMarker"])}
    if "AbortIncompleteMultipartUpload" in rule:
        days = rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]
        api["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": int(days)}
    return api


def _cors_rule(rule: dict[str, Any]) -> dict[str, Any]:
    renamed = {"Id": "ID", "MaxAge": "MaxAgeSeconds", "ExposedHeaders": "ExposeHeaders"}
    return {
        renamed.get(key, key): int(value) if key == "MaxAge" else value
        for key, value in rule.items()
    }


def _filter(rule: dict[str, Any]) -> dict[str, Any]:
    rules = rule.get("Filter", {}).get("S3Key", {}).get("Rules", [])
    return {"Key": {"FilterRules": [{"Name": r["Name"], "Value": r["Value"]} for r in rules]}}


def _notifications(config: dict[str, Any]) -> dict[str, Any]:
    api: dict[str, Any] = {}
    for cfn_key, api_key, target, arn_key in (
        ("LambdaConfigurations", "LambdaFunctionConfigurations", "Function", "LambdaFunctionArn"),
        ("QueueConfigurations", "QueueConfigurations", "Queue", "QueueArn"),
        ("TopicConfigurations", "TopicConfigurations", "Topic", "TopicArn"),
    ):
        if cfn_key in config:
            api[api_key] = [
                {arn_key: item[target], "Events": [item["Event"]], "Filter": _filter(item)}
                for item in config[cfn_key]
            ]
    if _flag(config.get("EventBridgeConfiguration", {}).get("EventBridgeEnabled", False)):
        api["EventBridgeConfiguration"] = {}
    return api


# CloudFormation property -> how to apply it through the S3 API
_BUCKET_PROPERTIES: dict[str, Callable[[Any, str, Any], None]] = {
    "BucketEncryption": lambda s3, name, value: s3.put_bucket_encryption(
        Bucket=name, ServerSideEncryptionConfiguration=_encryption(value)
    ),
    "PublicAccessBlockConfiguration": lambda s3, name, value: s3.put_public_access_block(
        Bucket=name,
        PublicAccessBlockConfiguration={key: _flag(flag) for key, flag in value.items()},
    ),
    "OwnershipControls": lambda s3, name, value: s3.put_bucket_ownership_controls(
        Bucket=name, OwnershipControls=value
    ),
    "VersioningConfiguration": lambda s3, name, value: s3.put_bucket_versioning(
        Bucket=name, VersioningConfiguration={"Status": value["Status"]}
    ),
    "LifecycleConfiguration": lambda s3, name, value: s3.put_bucket_lifecycle_configuration(
        Bucket=name, LifecycleConfiguration={"Rules": [_lifecycle_rule(r) for r in value["Rules"]]}
    ),
    "CorsConfiguration": lambda s3, name, value: s3.put_bucket_cors(
        Bucket=name, CORSConfiguration={"CORSRules": [_cors_rule(r) for r in value["CorsRules"]]}
    ),
    "NotificationConfiguration": lambda s3, name, value: s3.put_bucket_notification_configuration(
        Bucket=name, NotificationConfiguration=_notifications(value)
    ),
    "Tags": lambda s3, name, value: s3.put_bucket_tagging(
        Bucket=name, Tagging={"TagSet": [{"Key": t["Key"], "Value": t["Value"]} for t in value]}
    ),
}


def bucket(logical_id: str, props: dict[str, Any], cloud: Cloud) -> Created:
    props = without_novalue(props)
    unknown = sorted(set(props) - set(_BUCKET_PROPERTIES) - {"BucketName"})
    if unknown:
        raise RuntimeError(f"{logical_id}: no local implementation for {', '.join(unknown)}")
    suffix = uuid.uuid4().hex[:12]
    name = props.get("BucketName") or f"{cloud.stack_name}-{logical_id}-{suffix}".lower()[:63]
    s3 = cloud.client("s3")
    if cloud.region == "us-east-1":
        s3.create_bucket(Bucket=name)
    else:
        s3.create_bucket(
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": cloud.region}
        )
    for key, apply in _BUCKET_PROPERTIES.items():
        if key in props:
            apply(s3, name, props[key])
    return name, {
        "Arn": f"arn:aws:s3:::{name}",
        "DomainName": f"{name}.s3.amazonaws.com",
        "RegionalDomainName": f"{name}.s3.{cloud.region}.amazonaws.com",
        "DualStackDomainName": f"{name}.s3.dualstack.{cloud.region}.amazonaws.com",
        "WebsiteURL": f"http://{name}.s3-website-{cloud.region}.amazonaws.com",
    }


def bucket_policy(logical_id: str, props: dict[str, Any], cloud: Cloud) -> Created:
    """Checked, not put: moto evaluates a bucket policy on object requests but treats every
    condition it cannot evaluate (aws:SecureTransport, aws:PrincipalArn, ...) as a deny,
    so the real policy would refuse every request. Tests read the resolved policy from
    the template instead (`LocalCloud.resolve`)."""
    policy = without_novalue(props["PolicyDocument"])
    cloud.client("s3").head_bucket(Bucket=props["Bucket"])  # the bucket it protects exists
    json.dumps(policy)  # and the document resolved to plain JSON
    return f"{cloud.stack_name}-{logical_id}", {}


def cloudfront_placeholder(logical_id: str, props: dict[str, Any], cloud: Cloud) -> Created:
    """A stable fake id (and domain name) for a CloudFront resource."""
    digest = hashlib.sha256(f"{cloud.stack_name}/{logical_id}".encode()).hexdigest()
    resource_id = "E" + digest[:13].upper()
    return resource_id, {"Id": resource_id, "DomainName": f"d{digest[:13]}.cloudfront.net"}


# -- S3 -> Lambda notifications --------------------------------------------------------------

_request = threading.local()


class _Notifications:
    """Notifications of moto's buckets for in-process functions (one per process, like
    moto's backends)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._targets: set[str] = set()
        self._ready: list[tuple[str, dict[str, Any]]] = []
        self._installed = False

    def install(self) -> None:
        with self._lock:
            if self._installed:
                return
            original = moto_notifications._invoke_awslambda

            def invoke(account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
                if fn_arn not in self._targets:
                    original(account_id, event_body, fn_arn, region_name)
                    return
                held = getattr(_request, "held", None)
                if held is None:
                    self._release([(fn_arn, copy.deepcopy(event_body))])
                else:
                    held.append((fn_arn, copy.deepcopy(event_body)))

            moto_notifications._invoke_awslambda = invoke
            for name in ("bucket_response", "key_response"):
                setattr(S3Response, name, self._holding(getattr(S3Response, name)))
            self._installed = True

    def _holding(self, handler: Callable[..., Any]) -> Callable[..., Any]:
        """Hold events raised during an S3 request until moto has finished handling it."""

        @functools.wraps(handler)
        def wrapper(response: Any, *args: Any, **kwargs: Any) -> Any:
            outermost = getattr(_request, "held", None) is None
            if outermost:
                _request.held = []
            try:
                return handler(response, *args, **kwargs)
            finally:
                if outermost:
                    held, _request.held = _request.held, None
                    self._release(held)

        return wrapper

    def _release(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        with self._lock:
            self._ready.extend(events)

    def register(self, function_arn: str) -> None:
        self.install()
        with self._lock:
            self._targets.add(function_arn)

    def take(self, function_arn: str) -> list[dict[str, Any]]:
        with self._lock:
            mine = [event for arn, event in self._ready if arn == function_arn]
            self._ready = [(arn, event) for arn, event in self._ready if arn != function_arn]
        return mine


NOTIFICATIONS = _Notifications()


ASYNC_ATTEMPTS = 3  # Lambda's asynchronous invoke: the first try and two retries


@dataclass
class S3NotificationMapping:
    """Delivers a bucket's notifications to a function, as S3's asynchronous invoke does."""

    function: LocalFunction
    function_arn: str  # as the bucket's notification names it (the "live" alias), qualifier kept
    dead_letter_queue_url: str | None
    cloud: Cloud
    deliveries: Any = None  # local_stack.iam.Deliveries: may S3 invoke the function?
    failures: list[tuple[dict[str, Any], str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        NOTIFICATIONS.register(self.function_arn)

    def poll(self) -> int:
        events = NOTIFICATIONS.take(self.function_arn)
        for event in events:
            self._deliver(event)
        return len(events)

    def _deliver(self, event: dict[str, Any]) -> None:
        if self.deliveries is not None:
            # S3 invokes with its service principal: only the function's resource policy
            # (an AWS::Lambda::Permission for this bucket) can allow it. Without one, AWS
            # refuses the notification configuration, or drops the events.
            bucket = event["Records"][0]["s3"]["bucket"]["name"]
            decision = self.deliveries.s3_to_lambda(bucket, self.function_arn)
            if not decision.allowed:
                self.failures.append((event, decision.reason))
                print(f"S3 did not invoke {self.function_arn}: {decision.reason}", file=sys.stderr)
                return
        error: Exception | None = None
        for _ in range(ASYNC_ATTEMPTS):
            try:
                self.function.invoke(event)
            except Exception as failure:  # noqa: BLE001 - Lambda retries any error
                error = failure
            else:
                return
        self.failures.append((event, repr(error)))
        if self.dead_letter_queue_url is not None:  # Lambda sends it with the function's role
            self.cloud.client("sqs", self.function.credentials).send_message(
                QueueUrl=self.dead_letter_queue_url, MessageBody=json.dumps(event)
            )


def deliver_notifications(mappings: list[Any]) -> int:
    """Run the S3 notifications that are ready (the API does, before each request)."""
    return sum(m.poll() for m in mappings if isinstance(m, S3NotificationMapping))
