"""Errors in the shape each AWS protocol answers them, so botocore parses the same
`ClientError` (code and message) from the local stack as from AWS.

* JSON protocol (DynamoDB, Secrets Manager, SSM, KMS, SQS): HTTP 400, `{"__type", "message"}`;
  SQS is "query compatible": its JSON errors also carry `x-amzn-query-error:
  <code>;Sender`, from which botocore takes the classic code (`AccessDenied`).
* Query protocol (SNS, STS, SES v1): an `<ErrorResponse>` document; SNS answers an access
  denial with `AuthorizationError` (HTTP 403, as modelled in botocore's SNS model), the
  others with `AccessDenied`.
* REST-XML (S3): HTTP 403 `<Error><Code>AccessDenied</Code>...`, no body for HEAD.
* REST-JSON (SES v2, Lambda): HTTP 403 with `x-amzn-ErrorType`.

Message shape (IAM User Guide, "Access denied error messages"):
`User: <principal ARN> is not authorized to perform: <action> on resource: <resource>
because no identity-based policy allows the <action> action`, or `... with an explicit deny
in an identity-based policy` / `... because no resource-based policy allows ...`. As the
services print it: SQS lower-cases the action (`sqs:sendmessage`), SNS writes `SNS:Publish`,
S3 quotes the resource.
"""

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

REASONS = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 500: "Internal Server Error"}


@dataclass(frozen=True)
class AwsError:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    code: str
    message: str

    @property
    def status_line(self) -> str:
        return f"{self.status} {REASONS.get(self.status, 'Error')}"


_JSON_VERSIONS = {"dynamodb": "1.0", "dynamodbstreams": "1.0", "sqs": "1.0"}
_JSON_TYPE_PREFIX = {
    "dynamodb": "com.amazonaws.dynamodb.v20120810#",
    "dynamodbstreams": "com.amazonaws.dynamodb.v20120810#",
    "sqs": "com.amazon.coral.service#",
}
# classic (query) codes for the JSON codes of a query-compatible service (SQS)
_QUERY_CODES = {
    "AccessDeniedException": "AccessDenied",
    "UnrecognizedClientException": "InvalidClientTokenId",
    "ExpiredTokenException": "ExpiredToken",
}
QUERY_COMPATIBLE = {"sqs"}


def render(
    service: str,
    protocol: str,
    code: str,
    message: str,
    *,
    status: int | None = None,
    query_code: str | None = None,
    details: Sequence[tuple[str, str]] = (),
) -> AwsError:
    """`code` is the protocol's own error code (`AccessDeniedException` for JSON,
    `AccessDenied`/`AuthorizationError` for query and S3). `details`: S3's extra elements
    of an error (`<X-Amz-Expires>`, `<MaxSizeAllowed>`, ...), in order."""
    request_id = str(uuid.uuid4())
    if protocol == "json":
        version = _JSON_VERSIONS.get(service, "1.1")
        body = json.dumps({"__type": _JSON_TYPE_PREFIX.get(service, "") + code, "message": message})
        headers = [
            ("Content-Type", f"application/x-amz-json-{version}"),
            ("x-amzn-RequestId", request_id),
        ]
        if service in QUERY_COMPATIBLE:
            headers.append(
                ("x-amzn-query-error", f"{query_code or _QUERY_CODES.get(code, code)};Sender")
            )
        return AwsError(status or 400, tuple(headers), body.encode(), code, message)
    if protocol == "query":
        body = (
            "<ErrorResponse><Error><Type>Sender</Type>"
            f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
        return AwsError(status or 403, tuple(headers), body.encode(), code, message)
    if protocol == "rest-json":
        body = json.dumps({"message": message, "Message": message})
        headers = [
            ("Content-Type", "application/json"),
            ("x-amzn-ErrorType", f"{code}:"),
            ("x-amzn-RequestId", request_id),
        ]
        return AwsError(status or 403, tuple(headers), body.encode(), code, message)
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
        + "".join(f"<{name}>{escape(value)}</{name}>" for name, value in details)
        + f"<RequestId>{request_id}</RequestId><HostId>{request_id}</HostId></Error>"
    )
    headers = [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)]
    return AwsError(status or 403, tuple(headers), body.encode(), code, message)


def display_action(service: str, action: str) -> str:
    prefix, _, name = action.partition(":")
    if service == "sqs" and prefix == "sqs":
        return action.lower()
    if service == "sns" and prefix == "sns":
        return f"SNS:{name}"
    return action


def not_authorized(service: str, principal: str, action: str, resource: str, phrase: str) -> str:
    """`User: ... is not authorized to perform: ... on resource: ... <phrase>`; `phrase` may
    contain `{action}`, filled with the action as the service prints it."""
    shown = display_action(service, action)
    where = f'"{resource}"' if service == "s3" and resource != "*" else resource
    return (
        f"User: {principal} is not authorized to perform: {shown} on resource: {where} "
        + phrase.format(action=shown)
    )


def access_denied(service: str, protocol: str, message: str) -> AwsError:
    """The service's answer to a request IAM denies."""
    if protocol == "json":
        return render(service, protocol, "AccessDeniedException", message)
    if service == "sns":
        return render(service, protocol, "AuthorizationError", message, status=403)
    if protocol == "rest-json":
        return render(service, protocol, "AccessDeniedException", message)
    return render(service, protocol, "AccessDenied", message, status=403)


def kms_denied(service: str, protocol: str, message: str) -> AwsError:
    """The service's answer when the caller may not use the resource's KMS key."""
    if service == "sqs":
        # botocore's SQS model: KmsAccessDenied, classic code KMS.AccessDeniedException
        return render(
            service, protocol, "KmsAccessDenied", message, query_code="KMS.AccessDeniedException"
        )
    if service == "sns":
        return render(service, protocol, "KMSAccessDenied", message, status=400)
    if service in ("dynamodb", "dynamodbstreams"):
        return render(
            service, protocol, "AccessDeniedException", f"KMS key access denied error: {message}"
        )
    return access_denied(service, protocol, message)


def invalid_token(service: str, protocol: str) -> AwsError:
    """An access key the local stack never issued (AWS: a key it does not know)."""
    if protocol == "rest-xml":
        return render(
            service,
            protocol,
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
        )
    message = "The security token included in the request is invalid."
    if protocol == "query":
        return render(service, protocol, "InvalidClientTokenId", message, status=403)
    return render(
        service,
        protocol,
        "UnrecognizedClientException",
        message,
        status=403 if protocol == "rest-json" else 400,
    )


def expired_token(service: str, protocol: str) -> AwsError:
    if protocol == "rest-xml":
        return render(
            service, protocol, "ExpiredToken", "The provided token has expired.", status=400
        )
    message = "The security token included in the request is expired"
    if protocol == "query":
        return render(service, protocol, "ExpiredToken", message, status=403)
    return render(
        service,
        protocol,
        "ExpiredTokenException",
        message,
        status=403 if protocol == "rest-json" else 400,
    )
