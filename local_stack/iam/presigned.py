"""Presigned S3 requests, verified at the local AWS endpoint as S3 verifies them.

moto serves S3 without checking any signature, and the IAM gate reads a request's access
key only to know who is calling. A presigned URL or POST, though, is a credential that
travels: whoever holds it may do what it says, for as long as it says, and nothing else.
So before the gate authorizes one, `refusal` checks what S3 checks:

* a presigned GET, PUT, HEAD or DELETE (SigV4 query-string authentication): the six
  `X-Amz-*` parameters; the credential scope (its date is X-Amz-Date's, its region the
  stack's, its service `s3`); X-Amz-Expires at most 604800 (a week); the signature of the
  canonical request with the signer's secret, so a swapped key, bucket, method, signed header
  or parameter (X-Amz-Expires and X-Amz-Date included) is `SignatureDoesNotMatch`; then the
  time: refused from X-Amz-Date + X-Amz-Expires on ("Request has expired"), and while
  X-Amz-Date is more than the 15 minutes of allowed clock skew ahead;
* a presigned POST (browser upload, SigV4): the signature of the base64 policy, the policy's
  expiration, every condition (exact match, `starts-with`, `content-length-range` against the
  file's size, `bucket` against the URL's bucket), and no form field the policy does not name
  (S3 exempts `policy`, `x-amz-signature`, the file and `x-ignore-*` fields);
* SigV2 (`AWSAccessKeyId` and `Signature`): refused, as S3 refuses it on every bucket created
  since June 2020.

The expected signature is botocore's (`S3SigV4QueryAuth`, `S3SigV4PostAuth`: the canonical
request, the string to sign and the HMAC chain are its code, not a copy), computed with the
secret the endpoint's credential registry knows for the key. A refusal is S3's: its status,
code, message and the extra elements of its error document (`X-Amz-Expires`, `Expires` and
`ServerTime` of an expired URL; `ProposedSize` and `MaxSizeAllowed` of a too large upload).
Not compared with S3 itself: the message of a URL dated in the future, and the codes of a
POST whose credential scope is malformed (no client of this stack produces either).
"""

import base64
import binascii
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from botocore.auth import S3SigV4PostAuth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials

from local_stack.iam import errors
from local_stack.iam.requests import ParsedRequest, RawRequest

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_EXPIRES_SECONDS = 604800  # a week: the longest a SigV4 presigned URL may last
CLOCK_SKEW = timedelta(minutes=15)  # how far ahead of S3's clock a request may be dated
_QUERY_PARAMETERS = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Signature",
    "X-Amz-Date",
    "X-Amz-SignedHeaders",
    "X-Amz-Expires",
)
_POST_FIELDS = ("x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature", "policy")
_NOT_IN_POLICY = {"policy", "x-amz-signature", "file"}  # and x-ignore-*: need no condition
_TIMESTAMP = "%Y%m%dT%H%M%SZ"
_SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your key and signing method."
)


def _s3(code: str, message: str, status: int, *details: tuple[str, str]) -> errors.AwsError:
    return errors.render("s3", "rest-xml", code, message, status=status, details=details)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class Refused(Exception):
    """A presigned request S3 would refuse, with S3's answer."""

    def __init__(self, error: errors.AwsError) -> None:
        super().__init__(error.message)
        self.error = error


def is_sigv2(parsed: ParsedRequest, raw: RawRequest) -> bool:
    names = {name.lower() for name in parsed.form}
    names |= {pair.partition("=")[0].lower() for pair in raw.query.split("&")}
    return "awsaccesskeyid" in names


def sigv2_refusal() -> errors.AwsError:
    return _s3(
        "InvalidRequest",
        f"The authorization mechanism you have provided is not supported. Please use {ALGORITHM}.",
        400,
    )


@dataclass(frozen=True)
class Scope:
    """`<key>/<yyyymmdd>/<region>/<service>/aws4_request`, checked against a request."""

    access_key: str
    date: str
    region: str
    service: str

    @classmethod
    def parse(cls, credential: str, signed_at: str, region: str, code: str) -> "Scope":
        parts = credential.split("/")
        prefix = "Error parsing the X-Amz-Credential parameter; "
        if len(parts) != 5 or parts[4] != "aws4_request":
            raise Refused(
                _s3(
                    code,
                    prefix + "the Credential is mal-formed; expecting "
                    '"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".',
                    400,
                )
            )
        scope = cls(*parts[:4])
        if scope.date != signed_at[:8]:
            message = "Invalid credential date. Date is not the same as X-Amz-Date."
            raise Refused(_s3(code, message, 400))
        if scope.region != region:
            message = f"the region '{scope.region}' is wrong; expecting '{region}'"
            raise Refused(_s3(code, prefix + message, 400))
        if scope.service != "s3":
            message = f'incorrect service "{scope.service}". This endpoint belongs to "s3".'
            raise Refused(_s3(code, prefix + message, 400))
        return scope


def _same_signature(expected: str, provided: str, access_key: str, string_to_sign: str) -> None:
    if not hmac.compare_digest(expected, provided):
        raise Refused(
            _s3(
                "SignatureDoesNotMatch",
                _SIGNATURE_MISMATCH,
                403,
                ("AWSAccessKeyId", access_key),
                ("StringToSign", string_to_sign),
                ("SignatureProvided", provided),
            )
        )


def _timestamp(text: str, code: str, name: str) -> datetime:
    try:
        return datetime.strptime(text, _TIMESTAMP).replace(tzinfo=UTC)
    except ValueError:
        message = f"{name} must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\""
        raise Refused(_s3(code, message, 400)) from None


# -- presigned URLs ----------------------------------------------------------------------------


def _query_pairs(query: str) -> list[tuple[str, str]]:
    """The query's parameters, percent-decoded (a `+` stays a `+`, as S3 reads it)."""
    pairs = []
    for item in filter(None, query.split("&")):
        name, _, value = item.partition("=")
        pairs.append((unquote(name), unquote(value)))
    return pairs


def _expires(text: str) -> int:
    code = "AuthorizationQueryParametersError"
    try:
        seconds = int(text)
    except ValueError:
        raise Refused(_s3(code, "X-Amz-Expires should be a number", 400)) from None
    if seconds < 0:
        raise Refused(_s3(code, "X-Amz-Expires must be non-negative", 400))
    if seconds > MAX_EXPIRES_SECONDS:
        message = (
            f"X-Amz-Expires must be less than a week (in seconds) that is {MAX_EXPIRES_SECONDS}"
        )
        raise Refused(_s3(code, message, 400))
    return seconds


def check_url(raw: RawRequest, secret: str, region: str, now: datetime) -> None:
    """Raise `Refused` unless S3 would accept this presigned (query-string) request."""
    code = "AuthorizationQueryParametersError"
    pairs = _query_pairs(raw.query)
    values = dict(pairs)
    if any(name not in values for name in _QUERY_PARAMETERS):
        message = (
            "Query-string authentication version 4 requires the X-Amz-Algorithm, "
            "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and "
            "X-Amz-Expires parameters."
        )
        raise Refused(_s3(code, message, 400))
    if values["X-Amz-Algorithm"] != ALGORITHM:
        raise Refused(_s3(code, f'X-Amz-Algorithm only supports "{ALGORITHM}"', 400))
    signed_at = _timestamp(values["X-Amz-Date"], code, "X-Amz-Date")
    scope = Scope.parse(values["X-Amz-Credential"], values["X-Amz-Date"], region, code)
    expires = _expires(values["X-Amz-Expires"])

    signed_headers = values["X-Amz-SignedHeaders"].split(";")
    request = AWSRequest(
        method=raw.method,
        url=f"http://{raw.host}{raw.path}",
        headers={name: raw.header(name) or "" for name in signed_headers},
    )
    # every parameter but the signature, repeated ones too (botocore takes a list of pairs)
    signed: Any = [(name, value) for name, value in pairs if name != "X-Amz-Signature"]
    request.params = signed
    request.context["timestamp"] = values["X-Amz-Date"]
    signer = S3SigV4QueryAuth(ReadOnlyCredentials(scope.access_key, secret, None), "s3", region)
    canonical_request = signer.canonical_request(request)
    string_to_sign = signer.string_to_sign(request, canonical_request)
    expected = signer.signature(string_to_sign, request)
    _same_signature(expected, values["X-Amz-Signature"], scope.access_key, string_to_sign)
    ends = signed_at + timedelta(seconds=expires)
    if now >= ends:
        raise Refused(
            _s3(
                "AccessDenied",
                "Request has expired",
                403,
                ("X-Amz-Expires", str(expires)),
                ("Expires", _iso(ends)),
                ("ServerTime", _iso(now)),
            )
        )
    if signed_at > now + CLOCK_SKEW:
        raise Refused(_s3("AccessDenied", "Request is not valid yet", 403))


# -- presigned POST ----------------------------------------------------------------------------


def _policy_failure(message: str) -> Refused:
    return Refused(_s3("AccessDenied", f"Invalid according to Policy: {message}", 403))


def _invalid_policy(message: str) -> Refused:
    return Refused(_s3("InvalidPolicyDocument", f"Invalid Policy: {message}", 400))


def _policy(encoded: str) -> dict[str, Any]:
    try:
        document = json.loads(base64.b64decode(encoded, validate=True))
    except (binascii.Error, ValueError):
        raise _invalid_policy("Invalid JSON.") from None
    if not isinstance(document, dict):
        raise _invalid_policy("Invalid JSON.")
    return document


def _expiration(document: Mapping[str, Any]) -> datetime:
    text = document.get("expiration")
    if not isinstance(text, str):
        raise _invalid_policy("Policy missing expiration.")
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        raise _invalid_policy(f"Invalid 'expiration' value: '{text}'") from None


@dataclass(frozen=True)
class Condition:
    """One condition of a POST policy, as S3 prints it when it fails."""

    operator: str  # "eq", "starts-with" or "content-length-range"
    field: str  # lower-cased form field name ("" for content-length-range)
    operands: tuple[Any, ...]
    shown: str

    @classmethod
    def parse(cls, condition: Any) -> "Condition":
        if isinstance(condition, dict):
            if len(condition) != 1:
                raise _invalid_policy(
                    "Invalid Simple-Condition: Simple-Conditions must have exactly one "
                    "property specified."
                )
            ((name, value),) = condition.items()
            shown = json.dumps(["eq", f"${name}", value])
            return cls("eq", str(name).lower(), (value,), shown)
        if isinstance(condition, list) and len(condition) == 3:
            operator = str(condition[0]).lower()
            shown = json.dumps(condition)
            if operator == "content-length-range":
                try:
                    bounds = (int(condition[1]), int(condition[2]))
                except (TypeError, ValueError):
                    raise _invalid_policy(f"Invalid content-length-range: {shown}") from None
                return cls(operator, "", bounds, shown)
            target = condition[1]
            if operator in ("eq", "starts-with") and isinstance(target, str):
                return cls(operator, target.removeprefix("$").lower(), (condition[2],), shown)
        raise _invalid_policy(f"Invalid Condition: {json.dumps(condition)}")

    def check(self, fields: Mapping[str, str], bucket: str, size: int) -> None:
        if self.operator == "content-length-range":
            low, high = self.operands
            if size < low:
                raise Refused(
                    _s3(
                        "EntityTooSmall",
                        "Your proposed upload is smaller than the minimum allowed size",
                        400,
                        ("ProposedSize", str(size)),
                        ("MinSizeAllowed", str(low)),
                    )
                )
            if size > high:
                raise Refused(
                    _s3(
                        "EntityTooLarge",
                        "Your proposed upload exceeds the maximum allowed size",
                        400,
                        ("ProposedSize", str(size)),
                        ("MaxSizeAllowed", str(high)),
                    )
                )
            return
        actual = bucket if self.field == "bucket" else fields.get(self.field)
        expected = str(self.operands[0])
        matched = actual is not None and (
            actual == expected if self.operator == "eq" else actual.startswith(expected)
        )
        if not matched:
            raise _policy_failure(f"Policy Condition failed: {self.shown}")


def check_post(parsed: ParsedRequest, secret: str, region: str, now: datetime) -> None:
    """Raise `Refused` unless S3 would accept this browser upload (presigned POST)."""
    code = "InvalidArgument"
    fields = {name.lower(): value for name, value in parsed.form.items()}
    for name in ("key", *_POST_FIELDS):
        if name not in fields:
            message = (
                f"Bucket POST must contain a field named '{name}'.  If it is specified, "
                "please check the order of the fields."
            )
            raise Refused(_s3(code, message, 400, ("ArgumentName", name)))
    if parsed.upload_size is None:
        message = "POST requires exactly one file upload per request."
        raise Refused(_s3(code, message, 400, ("ArgumentName", "file")))
    if fields["x-amz-algorithm"] != ALGORITHM:
        raise Refused(_s3(code, f'X-Amz-Algorithm only supports "{ALGORITHM}"', 400))
    _timestamp(fields["x-amz-date"], code, "X-Amz-Date")
    scope = Scope.parse(fields["x-amz-credential"], fields["x-amz-date"], region, code)

    request = AWSRequest()
    request.context["timestamp"] = fields["x-amz-date"]
    signer = S3SigV4PostAuth(ReadOnlyCredentials(scope.access_key, secret, None), "s3", region)
    expected = signer.signature(fields["policy"], request)
    _same_signature(expected, fields["x-amz-signature"], scope.access_key, fields["policy"])
    document = _policy(fields["policy"])
    if now >= _expiration(document):
        raise _policy_failure("Policy expired.")
    raw_conditions = document.get("conditions", [])
    if not isinstance(raw_conditions, list):
        raise _invalid_policy("Invalid 'conditions' value: must be a List.")
    conditions = [Condition.parse(condition) for condition in raw_conditions]
    named = {condition.field for condition in conditions}
    extra = [
        name
        for name in parsed.form
        if name.lower() not in named
        and name.lower() not in _NOT_IN_POLICY
        and not name.lower().startswith("x-ignore-")
    ]
    if extra:
        raise _policy_failure(f"Extra input fields: {', '.join(extra)}")
    bucket = str(parsed.params.get("Bucket", ""))
    for condition in conditions:
        condition.check(fields, bucket, parsed.upload_size)


def refusal(
    raw: RawRequest, parsed: ParsedRequest, secret: str, region: str, now: datetime
) -> errors.AwsError | None:
    """S3's answer to a presigned request it would refuse, or None (it may go on to IAM)."""
    try:
        if parsed.credentials.auth == "post":
            check_post(parsed, secret, region, now)
        else:
            check_url(raw, secret, region, now)
    except Refused as refused:
        return refused.error
    return None
