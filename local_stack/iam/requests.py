"""From a raw HTTP request reaching the moto server to (credentials, service, operation,
parameters), read with botocore's own service models.

* who: the access key id of the SigV4 `Authorization` header, of a presigned URL's
  `X-Amz-Credential` query parameter, or of a presigned POST's `x-amz-credential` form field
  (SigV2's `AWS <key>:<signature>` and `AWSAccessKeyId` too). Header signatures are not
  verified: the local stack trusts its own processes, and the key only says which principal
  is calling. Presigned S3 requests, which travel beyond those processes, are
  (`local_stack.iam.presigned`).
* which service: the JSON protocol's `X-Amz-Target` (its prefix is the model's
  `targetPrefix`), else the credential scope's signing name (`ses` with a `/v2/` path is
  SES v2);
* which operation: the `X-Amz-Target` suffix (JSON), the `Action` parameter (query), or the
  model operation whose `requestUri` template and method match (REST: S3 path-style and
  virtual-host-style, SES v2, Lambda); several S3 operations share a URI and differ by a
  literal query key (`?acl`) or a required header or query member (`x-amz-copy-source`,
  `partNumber`), so the most specific match wins. A multipart POST to a bucket is S3's
  POST Object (browser upload), which the model does not describe: `PostObject`.
* parameters: the JSON body, the query form (flattened names turned back into nested
  members), or the URI labels, query string, headers and JSON payload of a REST operation
  (REST-XML payloads are not read: no rule needs them).
"""

import base64
import email.parser
import email.policy
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape

# Services whose requests the local stack serves: botocore name -> (signing name, JSON
# target prefix, protocol). Kept here so that routing a request loads one model, not all;
# tests/iam/test_iam_requests.py checks every row against botocore's models.
SERVICES: dict[str, tuple[str, str | None, str]] = {
    "dynamodb": ("dynamodb", "DynamoDB_20120810", "json"),
    "dynamodbstreams": ("dynamodb", "DynamoDBStreams_20120810", "json"),
    "sqs": ("sqs", "AmazonSQS", "json"),
    "sns": ("sns", None, "query"),
    "s3": ("s3", None, "rest-xml"),
    "secretsmanager": ("secretsmanager", "secretsmanager", "json"),
    "ssm": ("ssm", "AmazonSSM", "json"),
    "kms": ("kms", "TrentService", "json"),
    "sesv2": ("ses", None, "rest-json"),
    "ses": ("ses", None, "query"),
    "sts": ("sts", None, "query"),
    "lambda": ("lambda", None, "rest-json"),
    "logs": ("logs", "Logs_20140328", "json"),
    "events": ("events", "AWSEvents", "json"),
    "scheduler": ("scheduler", None, "rest-json"),
    "cloudformation": ("cloudformation", None, "query"),
    "apigateway": ("apigateway", None, "rest-json"),
    "cognito-idp": ("cognito-idp", "AWSCognitoIdentityProviderService", "json"),
    "rds-data": ("rds-data", None, "rest-json"),
    "iam": ("iam", None, "query"),
}

AuthKind = Literal["header", "query", "post", "none"]


class UnreadableRequest(ValueError):
    """A request the parser cannot attribute to a service operation."""

    def __init__(self, message: str, service: str | None = None) -> None:
        super().__init__(message)
        self.service = service


@dataclass(frozen=True)
class RawRequest:
    method: str
    path: str  # as sent (percent-encoded), without the query string
    query: str = ""  # the raw query string
    headers: Mapping[str, str] = field(default_factory=dict)  # names lower-cased
    body: bytes = b""

    @property
    def host(self) -> str:
        return self.headers.get("host", "")

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @classmethod
    def from_environ(cls, environ: Mapping[str, Any], body: bytes) -> "RawRequest":
        headers = {
            key[5:].replace("_", "-").lower(): str(value)
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(key):
                headers[key.replace("_", "-").lower()] = str(environ[key])
        # WSGI decodes PATH_INFO as latin-1; RAW_URI/REQUEST_URI keep the original bytes
        raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI")
        if raw_uri:
            path = str(raw_uri).split("?", 1)[0]
            if "://" in path:  # absolute-form request target
                path = "/" + path.split("://", 1)[1].partition("/")[2]
        else:
            path = str(environ.get("PATH_INFO", "/")).encode("latin-1").decode("utf-8", "replace")
        return cls(
            method=str(environ.get("REQUEST_METHOD", "GET")).upper(),
            path=path or "/",
            query=str(environ.get("QUERY_STRING", "")),
            headers=headers,
            body=body,
        )


@dataclass(frozen=True)
class Credentials:
    access_key: str | None
    region: str | None = None
    signing_name: str | None = None
    session_token: str | None = None
    auth: AuthKind = "none"


@dataclass(frozen=True)
class ParsedRequest:
    service: str  # botocore service name: "sqs", "dynamodbstreams", "sesv2", ...
    operation: str  # model operation name: "SendMessage" (S3 browser upload: "PostObject")
    params: dict[str, Any]
    protocol: str  # "json", "query", "rest-json", "rest-xml"
    credentials: Credentials
    form: Mapping[str, str] = field(default_factory=dict)  # a presigned POST's fields
    upload_size: int | None = None  # the size of a presigned POST's file, in bytes


_CREDENTIAL = re.compile(r"Credential=([^,\s]+)")
_S3_VIRTUAL_HOST = (
    re.compile(r"^(?P<bucket>.+?)\.s3(?:[.-][a-z0-9-]+)*\.amazonaws\.com(?:\.cn)?$"),
    re.compile(r"^(?P<bucket>.+)\.localhost$"),
)


def _scope(credential: str) -> tuple[str, str | None, str | None]:
    """`AKID/20240101/us-east-1/sqs/aws4_request` -> (key, region, signing name)."""
    parts = credential.split("/")
    if len(parts) == 5:
        return parts[0], parts[2], parts[3]
    return parts[0], None, None


def credentials_of(raw: RawRequest, form: Mapping[str, str]) -> Credentials:
    authorization = raw.header("authorization") or ""
    found = _CREDENTIAL.search(authorization) if authorization.startswith("AWS4-") else None
    if found:
        key, region, name = _scope(unquote(found.group(1)))
        return Credentials(key, region, name, raw.header("x-amz-security-token"), "header")
    if authorization.startswith("AWS "):  # SigV2
        key = authorization[4:].split(":", 1)[0]
        return Credentials(key, None, "s3", raw.header("x-amz-security-token"), "header")
    # presigned: in the query string (GET) or in the form fields (POST); names as S3 has them
    query = {name.lower(): value for name, value in parse_qsl(raw.query, keep_blank_values=True)}
    fields = {name.lower(): value for name, value in form.items()}
    for values, auth in ((query, "query"), (fields, "post")):
        token = values.get("x-amz-security-token")
        if "x-amz-credential" in values:
            key, region, name = _scope(values["x-amz-credential"])
            return Credentials(key, region, name, token, auth)  # type: ignore[arg-type]
        if "awsaccesskeyid" in values:
            return Credentials(values["awsaccesskeyid"], None, "s3", token, auth)  # type: ignore[arg-type]
    return Credentials(None)


@dataclass(frozen=True)
class MultipartForm:
    """A multipart/form-data body: its text fields (the file's name under `${filename}`),
    and the size of its file part, if it has one (a presigned POST's upload)."""

    fields: dict[str, str] = field(default_factory=dict)
    file_size: int | None = None


def read_multipart(raw: RawRequest) -> MultipartForm:
    content_type = raw.header("content-type") or ""
    if not content_type.lower().startswith("multipart/form-data"):
        return MultipartForm()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + raw.body
    )
    fields: dict[str, str] = {}
    file_size = None
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        filename = part.get_filename()
        if filename is not None:
            fields["${filename}"] = filename
            file_size = len(payload) if isinstance(payload, bytes) else 0
            continue
        fields[name] = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return MultipartForm(fields, file_size)


def multipart_form(raw: RawRequest) -> dict[str, str]:
    """The text fields of a multipart/form-data body (the file's name under `${filename}`)."""
    return read_multipart(raw).fields


# -- type conversion of text values (query, URI, headers) ----------------------------------------


def _scalar(shape: Shape, text: str) -> Any:
    kind = shape.type_name
    if kind in ("integer", "long"):
        try:
            return int(text)
        except ValueError:
            return text
    if kind in ("float", "double"):
        try:
            return float(text)
        except ValueError:
            return text
    if kind == "boolean":
        return text.lower() == "true"
    return text


_MISSING = object()


def _query_value(shape: Shape, key: str, form: Mapping[str, str]) -> Any:
    kind = shape.type_name
    if kind == "structure":
        found = _query_structure(shape, key, form)
        return found if found else _MISSING
    if kind == "list":
        member = shape.member  # type: ignore[attr-defined]
        if shape.serialization.get("flattened"):
            name = member.serialization.get("name")
            prefix = ".".join([*key.split(".")[:-1], name]) if name else key
        else:
            prefix = f"{key}.{member.serialization.get('name', 'member')}"
        items = []
        index = 1
        while True:
            value = _query_value(member, f"{prefix}.{index}", form)
            if value is _MISSING:
                break
            items.append(value)
            index += 1
        if not items:
            return [] if form.get(key) == "" else _MISSING
        return items
    if kind == "map":
        prefix = key if shape.serialization.get("flattened") else f"{key}.entry"
        key_name = shape.key.serialization.get("name", "key")  # type: ignore[attr-defined]
        value_name = shape.value.serialization.get("name", "value")  # type: ignore[attr-defined]
        entries: dict[str, Any] = {}
        index = 1
        while f"{prefix}.{index}.{key_name}" in form:
            value = _query_value(shape.value, f"{prefix}.{index}.{value_name}", form)  # type: ignore[attr-defined]
            entries[form[f"{prefix}.{index}.{key_name}"]] = None if value is _MISSING else value
            index += 1
        return entries if entries else _MISSING
    if key not in form:
        return _MISSING
    return _scalar(shape, form[key])


def _query_structure(shape: Shape, prefix: str, form: Mapping[str, str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, member in shape.members.items():  # type: ignore[attr-defined]
        serialized = member.serialization.get("name", name)
        value = _query_value(member, f"{prefix}.{serialized}" if prefix else serialized, form)
        if value is not _MISSING:
            found[name] = value
    return found


# -- REST: requestUri templates --------------------------------------------------------------


@dataclass(frozen=True)
class _Route:
    operation: OperationModel
    method: str
    path: re.Pattern[str]
    labels: tuple[str, ...]
    literal_query: tuple[tuple[str, str | None], ...]  # ?acl, ?list-type=2
    required_location: tuple[tuple[str, str], ...]  # (location, serialized name)


def _route(operation: OperationModel) -> _Route:
    uri = operation.http["requestUri"]
    path_part, _, query_part = uri.partition("?")
    regex = []
    labels = []
    for piece in re.split(r"(\{[^}]+\})", path_part):
        if piece.startswith("{"):
            name = piece[1:-1]
            greedy = name.endswith("+")
            name = name.rstrip("+")
            labels.append(name)
            regex.append(
                f"(?P<{re.sub(r'[^A-Za-z0-9_]', '_', name)}>{'.+' if greedy else '[^/]+'})"
            )
        else:
            regex.append(re.escape(piece))
    literal = []
    for item in filter(None, query_part.split("&")):
        name, equals, value = item.partition("=")
        literal.append((name, value if equals else None))
    required = []
    shape = operation.input_shape
    members = shape.members if shape is not None else {}
    for name in shape.required_members if shape is not None else ():
        member = members[name]
        location = member.serialization.get("location")
        if location in ("header", "querystring"):
            required.append((location, member.serialization.get("name", name)))
    pattern = "".join(regex)
    return _Route(
        operation=operation,
        method=operation.http["method"],
        path=re.compile(rf"\A{pattern}/?\Z" if pattern != "/" else r"\A/\Z", re.DOTALL),
        labels=tuple(labels),
        literal_query=tuple(literal),
        required_location=tuple(required),
    )


def _rest_body(
    operation: OperationModel, body_members: Mapping[str, str], raw: RawRequest
) -> dict[str, Any]:
    """Members carried in a REST body: the payload member, or a REST-JSON document's."""
    shape = operation.input_shape
    payload = shape.serialization.get("payload") if shape is not None else None
    content_type = (raw.header("content-type") or "").lower()
    if shape is not None and payload:
        if shape.members[payload].type_name in {"blob", "string"}:
            return {payload: raw.body}
        if raw.body and "json" in content_type:
            return {payload: json.loads(raw.body)}
        return {}
    if body_members and raw.body and operation.metadata["protocol"] == "rest-json":
        document = json.loads(raw.body)
        return {name: document[key] for key, name in body_members.items() if key in document}
    return {}


class RequestParser:
    """Parses requests for `services` (botocore names); models are loaded on first use."""

    def __init__(self, services: Iterable[str] = tuple(SERVICES)) -> None:
        self._names = tuple(name for name in services if name in SERVICES)
        self._session = botocore.session.get_session()
        self._models: dict[str, ServiceModel] = {}
        self._routes: dict[str, list[_Route]] = {}

    def model(self, service: str) -> ServiceModel:
        if service not in self._models:
            self._models[service] = self._session.get_service_model(service)
        return self._models[service]

    @cached_property
    def _targets(self) -> dict[str, str]:
        return {SERVICES[name][1]: name for name in self._names if SERVICES[name][1]}  # type: ignore[misc]

    @cached_property
    def _by_signing_name(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for name in self._names:
            found.setdefault(SERVICES[name][0], []).append(name)
        return found

    def routes(self, service: str) -> list[_Route]:
        if service not in self._routes:
            model = self.model(service)
            self._routes[service] = [
                _route(model.operation_model(op)) for op in model.operation_names
            ]
        return self._routes[service]

    # -- entry point ---------------------------------------------------------------------

    def unauthenticated(self, parsed: ParsedRequest) -> bool:
        """Whether AWS serves the operation without credentials (its model says noAuth:
        Cognito's InitiateAuth, RespondToAuthChallenge, SignUp...)."""
        try:
            operation = self.model(parsed.service).operation_model(parsed.operation)
        except Exception:  # noqa: BLE001 - an operation botocore does not know needs auth
            return False
        return operation.auth_type == "none"

    def parse(self, raw: RawRequest) -> ParsedRequest:
        upload = read_multipart(raw) if raw.method == "POST" else MultipartForm()
        form = upload.fields
        credentials = credentials_of(raw, form)
        target = raw.header("x-amz-target")
        if target:
            prefix, _, operation = target.rpartition(".")
            service = self._targets.get(prefix)
            if service is None:
                raise UnreadableRequest(f"unknown X-Amz-Target {target!r}", prefix)
            return self._json(service, operation, raw, credentials)
        signing = credentials.signing_name or self._guess_signing_name(raw, form)
        body_form = self._urlencoded(raw)
        action = body_form.get("Action")
        if action:
            service = self._query_service(signing, raw)
            return self._query(service, action, body_form, credentials)
        service = self._rest_service(signing, raw)
        if service == "s3" and form and raw.method == "POST":
            return self._post_object(raw, form, credentials, upload.file_size)
        return self._rest(service, raw, credentials)

    def parse_rest(self, service: str, raw: RawRequest) -> ParsedRequest:
        """`raw` as a request of the REST service `service`, signed or not: for an endpoint
        that serves one service (the local Lambda API), where no signature says which."""
        return self._rest(service, raw, credentials_of(raw, {}))

    # -- protocols -----------------------------------------------------------------------

    def _json(
        self, service: str, operation: str, raw: RawRequest, credentials: Credentials
    ) -> ParsedRequest:
        model = self.model(service)
        if operation not in model.operation_names:
            raise UnreadableRequest(f"{service} has no operation {operation!r}", service)
        try:
            params = json.loads(raw.body) if raw.body else {}
        except ValueError as error:
            raise UnreadableRequest(f"{service}:{operation}: body is not JSON", service) from error
        return ParsedRequest(service, operation, params, "json", credentials)

    @staticmethod
    def _urlencoded(raw: RawRequest) -> dict[str, str]:
        content_type = (raw.header("content-type") or "").lower()
        text = raw.query
        if raw.method == "POST" and content_type.startswith("application/x-www-form-urlencoded"):
            text = raw.body.decode("utf-8", "replace")
        return dict(parse_qsl(text, keep_blank_values=True))

    def _query_service(self, signing: str | None, raw: RawRequest) -> str:
        candidates = [
            name
            for name in self._by_signing_name.get(signing or "", [])
            if SERVICES[name][2] in ("query", "json")
        ]
        query_models = [name for name in candidates if SERVICES[name][2] == "query"]
        chosen = query_models or candidates
        if not chosen:
            raise UnreadableRequest(f"no service signs as {signing!r}", signing)
        return chosen[0]

    def _query(
        self, service: str, action: str, form: Mapping[str, str], credentials: Credentials
    ) -> ParsedRequest:
        model = self.model(service)
        if action not in model.operation_names:
            raise UnreadableRequest(f"{service} has no operation {action!r}", service)
        shape = model.operation_model(action).input_shape
        params = _query_structure(shape, "", form) if shape is not None else {}
        return ParsedRequest(service, action, params, "query", credentials)

    @staticmethod
    def _guess_signing_name(raw: RawRequest, form: Mapping[str, str]) -> str | None:
        if (
            form
            or raw.host.endswith(("amazonaws.com", "localhost"))
            or raw.method
            in (
                "GET",
                "HEAD",
                "PUT",
                "DELETE",
            )
        ):
            return "s3"  # unsigned REST requests reach moto's S3 by default too
        return None

    def _rest_service(self, signing: str | None, raw: RawRequest) -> str:
        if signing == "ses":
            return "sesv2" if raw.path.startswith("/v2/") else "ses"
        names = self._by_signing_name.get(signing or "", [])
        rest = [n for n in names if SERVICES[n][2].startswith("rest")]
        if not rest:
            raise UnreadableRequest(f"no REST service signs as {signing!r}", signing)
        return rest[0]

    def _s3_path(self, raw: RawRequest) -> str:
        host = raw.host.rsplit(":", 1)[0] if not raw.host.startswith("[") else raw.host
        for pattern in _S3_VIRTUAL_HOST:
            found = pattern.match(host)
            if found and found["bucket"] not in ("s3", "s3-external-1"):
                return f"/{found['bucket']}{raw.path}"
        return raw.path

    def _rest(self, service: str, raw: RawRequest, credentials: Credentials) -> ParsedRequest:
        path = self._s3_path(raw) if service == "s3" else raw.path
        query = parse_qsl(raw.query, keep_blank_values=True)
        query_keys = {name for name, _ in query}
        query_values = dict(query)
        best: tuple[int, _Route, re.Match[str]] | None = None
        for route in self.routes(service):
            if route.method != raw.method:
                continue
            found = route.path.match(path)
            if found is None:
                continue
            if any(
                name not in query_keys or (value is not None and query_values[name] != value)
                for name, value in route.literal_query
            ):
                continue
            present = all(
                (name in query_keys) if location == "querystring" else raw.header(name) is not None
                for location, name in route.required_location
            )
            if not present:
                continue
            score = len(route.literal_query) + len(route.required_location)
            if best is None or score > best[0]:
                best = (score, route, found)
        if best is None:
            raise UnreadableRequest(f"no {service} operation for {raw.method} {raw.path}", service)
        _, route, found = best
        return ParsedRequest(
            service,
            route.operation.name,
            self._rest_params(route, found, query_values, raw),
            self.model(service).protocol,
            credentials,
        )

    @staticmethod
    def _rest_params(
        route: _Route, found: re.Match[str], query: Mapping[str, str], raw: RawRequest
    ) -> dict[str, Any]:
        shape = route.operation.input_shape
        params: dict[str, Any] = {}
        if shape is None:
            return params
        body_members = {}
        for name, member in shape.members.items():
            location = member.serialization.get("location")
            serialized = member.serialization.get("name", name)
            if location == "uri":
                group = re.sub(r"[^A-Za-z0-9_]", "_", serialized)
                value = found.groupdict().get(group)
                if value is not None:
                    params[name] = unquote(value)
            elif location == "querystring" and serialized in query:
                params[name] = _scalar(member, query[serialized])
            elif location == "header" and raw.header(serialized) is not None:
                params[name] = _scalar(member, str(raw.header(serialized)))
            elif location is None:
                body_members[serialized] = name
        return params | _rest_body(route.operation, body_members, raw)

    def _post_object(
        self,
        raw: RawRequest,
        form: Mapping[str, str],
        credentials: Credentials,
        upload_size: int | None,
    ) -> ParsedRequest:
        bucket = self._s3_path(raw).strip("/").split("/", 1)[0]
        key = form.get("key", "").replace("${filename}", form.get("${filename}", ""))
        fields = {name: value for name, value in form.items() if name != "${filename}"}
        policy = fields.get("policy") or fields.get("Policy")
        conditions: list[Any] = []
        if policy:
            try:
                conditions = json.loads(base64.b64decode(policy)).get("conditions", [])
            except ValueError:
                conditions = []
        params = {"Bucket": bucket, "Key": key, "Fields": fields, "PolicyConditions": conditions}
        return ParsedRequest(
            "s3",
            "PostObject",
            params,
            "rest-xml",
            credentials,
            form=fields,
            upload_size=upload_size,
        )
