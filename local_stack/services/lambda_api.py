"""The Lambda API of the local stack, like `sam local start-lambda`, answering as Lambda does.

It listens on a port of its own (`LambdaEndpointUrl` in the stack's outputs) for boto3, the
AWS CLI (`make aws ARGS="lambda ..."`), `make invoke` and `make sync`. Each request is read
with botocore's model of the Lambda API (local_stack.iam.requests), so a function name, a
partial ARN (`123456789012:function:name`), a full ARN, a qualifier (`name:live`,
`?Qualifier=1`) and the `X-Amz-*` headers mean what they mean to Lambda. Every answer carries
`x-amzn-RequestId`; every error is Lambda's JSON error, its type in `x-amzn-ErrorType`.

Invoke (`POST /2015-03-31/functions/<name>/invocations`)
    RequestResponse  runs the function: its result, or Lambda's error payload with
                     `X-Amz-Function-Error: Unhandled`; `X-Amz-Log-Type: Tail` adds the last
                     4 KB of its log; `X-Amz-Executed-Version` is the version that ran
                     (`$LATEST`, or the number the alias `live` points to).
    Event            202 at once; local_stack.services.lambda_async runs it with Lambda's
                     retries and the qualifier's EventInvokeConfig destinations.
    DryRun           204: the function and qualifier exist and the caller may invoke them;
                     nothing runs.
    Limits           a request over 6 MB (1 MB for Event) is 413 RequestTooLargeException; a
                     result over 6 MB is the function error Function.ResponseSizeTooLarge.

Read from the template: ListFunctions, GetFunction, GetFunctionConfiguration,
ListVersionsByFunction, ListAliases, GetAlias and GetFunctionEventInvokeConfig (lists in
pages of at most 50, with Marker and NextMarker). UpdateFunctionConfiguration replaces the
environment variables given (none given: unchanged) and, as in Lambda, the next invocation
starts a new execution environment; `make sync` uses it so a fetcher that cached the previous
feed URL starts afresh. Every other operation of Lambda's API is 404
UnknownOperationException: the stack's functions come from template.yaml.

The caller: a request signed with the local administrator's key, or not signed at all (as
`sam local start-lambda` accepts), acts as the account's administrator. One signed with a
function's credentials is authorized as that function's role, against its policies and the
target's resource policy, as Lambda would (AccessDeniedException).

The function name may also be the function's logical id in template.yaml (`make invoke
FN=...`), a local convenience Lambda does not have.
"""

import base64
import binascii
import hashlib
import json
import re
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from local_stack.iam import Requirement
from local_stack.iam.records import DecisionRecord
from local_stack.iam.requests import RawRequest, RequestParser, UnreadableRequest
from local_stack.runtime.functions import FunctionError, Invocation, LocalFunction, Throttled
from local_stack.runtime.pool import MAX_REQUEST_BYTES
from local_stack.services.endpoint import ADMIN_ACCESS_KEY_ID, ADMIN_CREDENTIALS, REGION
from local_stack.services.lambda_async import AsyncConfig, AsyncEvent, AsyncInvoker

if TYPE_CHECKING:
    from local_stack.assembly.stack import LocalStack
    from local_stack.iam.gate import CredentialRegistry, Gate

MAX_EVENT_REQUEST_BYTES = 1024 * 1024  # an asynchronous invocation's payload: 1 MB
TAIL_BYTES = 4096
PAGE_SIZE = 50  # ListFunctions returns at most 50 items a page, whatever MaxItems says
INVOCATION_TYPES = ("Event", "RequestResponse", "DryRun")
LOG_TYPES = ("None", "Tail")
# Lambda's FunctionName pattern (botocore's model, NamespacedFunctionName), with names
_FUNCTION_NAME = re.compile(
    r"^(?:arn:(?P<partition>aws[a-zA-Z-]*)?:lambda:)?"
    r"(?:(?P<region>[a-z]{2}(?:(?:-gov)|(?:-iso[a-z]?))?-[a-z]+-\d):)?"
    r"(?:(?P<account>\d{12}):)?(?:function:)?(?P<name>[a-zA-Z0-9\-_.]+)"
    r"(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9\-_]+))?$"
)
_MODEL = RequestParser(["lambda"]).model("lambda")


class LambdaError(Exception):
    """An answer of Lambda's API other than success: status, error type, message.

    The message goes under the member name the error's shape in botocore's model uses
    (`Message` for ResourceNotFoundException, `message` for most others)."""

    def __init__(self, status: int, kind: str, message: str, **fields: str | int | None) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message
        self.fields = {key: value for key, value in fields.items() if value is not None}

    def response(self) -> Response:
        members = {}
        if self.kind in _MODEL.shape_names:
            members = _MODEL.shape_for(self.kind).members  # type: ignore[attr-defined]
        key = "Message" if "Message" in members else "message"
        body: dict[str, Any] = {
            "Type": "User" if self.status < 500 else "Service",
            key: self.message,
        }
        body |= self.fields
        return Response(
            json.dumps(body),
            status=self.status,
            headers={"x-amzn-ErrorType": self.kind},
            content_type="application/json",
        )


def not_found(arn: str) -> LambdaError:
    return LambdaError(404, "ResourceNotFoundException", f"Function not found: {arn}")


# -- the template's functions, versions, aliases and async configurations -----------------


@dataclass(frozen=True)
class Published:
    """What the template publishes of one function, besides `$LATEST`."""

    versions: tuple[str, ...] = ()  # version numbers ("1": AutoPublishAlias publishes one)
    aliases: Mapping[str, str] = field(default_factory=dict)  # alias -> version
    async_configs: Mapping[str, AsyncConfig] = field(default_factory=dict)  # by qualifier
    event_invoke_configs: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    properties: Mapping[str, Any] = field(default_factory=dict)  # resolved, as deployed


@dataclass(frozen=True)
class Target:
    """A function and the qualifier a request named (None: the unqualified function)."""

    function: LocalFunction
    qualifier: str | None
    version: str  # "$LATEST" or a version number

    @property
    def arn(self) -> str:
        return f"{self.function.arn}:{self.qualifier}" if self.qualifier else self.function.arn


@dataclass
class Catalog:
    functions: dict[str, LocalFunction]  # by logical id
    published: dict[str, Published] = field(default_factory=dict)  # by logical id
    region: str = REGION
    account: str = "123456789012"
    deployed_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    revisions: dict[str, str] = field(default_factory=dict)  # logical id -> RevisionId

    def find(self, reference: str) -> tuple[LocalFunction, str | None]:
        """The function a FunctionName names, and the qualifier it carries."""
        found = _FUNCTION_NAME.match(reference)
        if found is None:
            raise LambdaError(
                400,
                "ValidationException",
                f"1 validation error detected: Value '{reference}' at 'functionName' failed "
                "to satisfy constraint: Member must satisfy regular expression pattern: "
                + _FUNCTION_NAME.pattern,
            )
        name = found["name"]
        mine = found["region"] in (None, self.region) and found["account"] in (None, self.account)
        for logical_id, function in self.functions.items():
            if mine and name in (function.name, logical_id):
                return function, found["qualifier"]
        arn = f"arn:aws:lambda:{found['region'] or self.region}:{found['account'] or self.account}"
        raise not_found(f"{arn}:function:{name}")

    def target(self, reference: str, qualifier: str | None = None) -> Target:
        function, derived = self.find(reference)
        if derived is not None and qualifier is not None and derived != qualifier:
            raise LambdaError(
                400,
                "InvalidParameterValueException",
                "The derived qualifier from the function name does not match the specified "
                "qualifier.",
            )
        qualifier = derived or qualifier
        published = self.published.get(function.logical_id, Published())
        if qualifier is None or qualifier == "$LATEST":
            return Target(function, qualifier, "$LATEST")
        if qualifier in published.versions:
            return Target(function, qualifier, qualifier)
        if qualifier in published.aliases:
            return Target(function, qualifier, published.aliases[qualifier])
        raise not_found(f"{function.arn}:{qualifier}")

    def async_config(self, target: Target) -> AsyncConfig:
        published = self.published.get(target.function.logical_id, Published())
        found = published.async_configs.get(target.qualifier or "$LATEST")
        dead_letter = (published.properties.get("DeadLetterConfig") or {}).get("TargetArn")
        base = found or AsyncConfig()
        return AsyncConfig(
            base.retries, base.max_age_s, base.on_success, base.on_failure, dead_letter or None
        )

    # -- Lambda's shapes ----------------------------------------------------------------

    def configuration(self, target: Target) -> dict[str, Any]:
        """FunctionConfiguration (botocore's shape) of the function or version."""
        function = target.function
        props = self.published.get(function.logical_id, Published()).properties
        latest = target.version == "$LATEST"
        variables = function.config.variables if latest else _variables(props)
        source = function.source.code_dir
        configuration: dict[str, Any] = {
            "FunctionName": function.name,
            "FunctionArn": function.arn if latest else f"{function.arn}:{target.version}",
            "Runtime": function.config.runtime,
            "Role": function.config.role_arn,
            "Handler": function.config.handler,
            "CodeSize": sum(p.stat().st_size for p in source.rglob("*") if p.is_file()),
            "Description": str(props.get("Description", "")),
            "Timeout": function.config.timeout_s,
            "MemorySize": function.config.memory_mb,
            "LastModified": self.deployed_at.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
            "CodeSha256": _code_digest(source),
            "Version": target.version,
            "Environment": {"Variables": dict(variables)},
            "TracingConfig": {"Mode": "Active" if function.config.tracing else "PassThrough"},
            "RevisionId": self.revisions.setdefault(function.logical_id, str(uuid.uuid4())),
            "Layers": [{"Arn": str(arn)} for arn in props.get("Layers", [])],
            "State": "Active",
            "LastUpdateStatus": "Successful",
            "PackageType": "Zip",
            "Architectures": list(props.get("Architectures", ["x86_64"])),
            "EphemeralStorage": {
                "Size": int((props.get("EphemeralStorage") or {}).get("Size", 512))
            },
            "LoggingConfig": {"LogFormat": "Text", "LogGroup": function.config.log_group},
        }
        vpc = props.get("VpcConfig")
        if vpc:
            configuration["VpcConfig"] = {
                "SubnetIds": list(vpc.get("SubnetIds", [])),
                "SecurityGroupIds": list(vpc.get("SecurityGroupIds", [])),
            }
        dead_letter = (props.get("DeadLetterConfig") or {}).get("TargetArn")
        if dead_letter:
            configuration["DeadLetterConfig"] = {"TargetArn": str(dead_letter)}
        snap_start = (props.get("SnapStart") or {}).get("ApplyOn")
        if snap_start:
            configuration["SnapStart"] = {
                "ApplyOn": snap_start,
                "OptimizationStatus": "On" if snap_start != "None" and not latest else "Off",
            }
        return configuration

    def entries(self, function: LocalFunction, all_versions: bool) -> list[Target]:
        published = self.published.get(function.logical_id, Published())
        versions = published.versions if all_versions else ()
        return [Target(function, None, "$LATEST")] + [
            Target(function, version, version) for version in versions
        ]

    def alias(self, function: LocalFunction, name: str) -> dict[str, Any]:
        published = self.published.get(function.logical_id, Published())
        return {
            "AliasArn": f"{function.arn}:{name}",
            "Name": name,
            "FunctionVersion": published.aliases[name],
            "Description": "",
            "RevisionId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{function.arn}:{name}")),
        }

    @classmethod
    def from_stack(cls, stack: "LocalStack") -> "Catalog":
        """Versions, aliases, EventInvokeConfigs and properties from the deployed template."""
        resources: dict[str, Any] = stack.template.transformed["Resources"]
        resolve = stack.cloud.resolve
        versions: dict[str, list[str]] = {}
        aliases: dict[str, dict[str, str]] = {}
        configs: dict[str, dict[str, AsyncConfig]] = {}
        raw_configs: dict[str, dict[str, dict[str, Any]]] = {}
        for logical_id, resource in resources.items():
            props = resource.get("Properties", {})
            owner = (props.get("FunctionName") or {}) if isinstance(props, dict) else {}
            function = owner.get("Ref") if isinstance(owner, dict) else None
            if function not in stack.functions:
                continue
            if resource["Type"] == "AWS::Lambda::Version":
                version = str(resolve({"Fn::GetAtt": [logical_id, "Version"]}))
                versions.setdefault(function, []).append(version)
            elif resource["Type"] == "AWS::Lambda::Alias":
                aliases.setdefault(function, {})[props["Name"]] = str(
                    resolve(props["FunctionVersion"])
                )
            elif resource["Type"] == "AWS::Lambda::EventInvokeConfig":
                resolved = resolve(props)
                destinations = resolved.get("DestinationConfig") or {}
                qualifier = str(resolved.get("Qualifier", "$LATEST"))
                configs.setdefault(function, {})[qualifier] = AsyncConfig(
                    retries=int(resolved.get("MaximumRetryAttempts", 2)),
                    max_age_s=int(resolved.get("MaximumEventAgeInSeconds", 21600)),
                    on_success=(destinations.get("OnSuccess") or {}).get("Destination"),
                    on_failure=(destinations.get("OnFailure") or {}).get("Destination"),
                )
                raw_configs.setdefault(function, {})[qualifier] = resolved
        published = {
            logical_id: Published(
                versions=tuple(sorted(set(versions.get(logical_id, [])), key=int)),
                aliases=aliases.get(logical_id, {}),
                async_configs=configs.get(logical_id, {}),
                event_invoke_configs=raw_configs.get(logical_id, {}),
                properties=resolve(
                    {k: v for k, v in resources[logical_id]["Properties"].items() if k != "Code"}
                ),
            )
            for logical_id in stack.functions
        }
        return cls(
            functions=stack.functions,
            published=published,
            region=stack.region,
            account=stack.policies.account,
        )


def _variables(props: Mapping[str, Any]) -> dict[str, str]:
    variables = (props.get("Environment") or {}).get("Variables") or {}
    return {
        key: str(value).lower() if isinstance(value, bool) else str(value)
        for key, value in variables.items()
    }


def _code_digest(folder: Path) -> str:
    """A stand-in for CodeSha256 (Lambda hashes the .zip): SHA-256 of the function folder's
    files, by relative path, base64 as Lambda writes it."""
    digest = hashlib.sha256()
    for path in sorted(
        p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    ):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return base64.b64encode(digest.digest()).decode()


# -- who calls ----------------------------------------------------------------------------


@dataclass
class Caller:
    """Authorizes a call of the Lambda API as Lambda would: the administrator (or an unsigned
    request) may do anything; a function's credentials as its role allows."""

    registry: "CredentialRegistry | None" = None
    gate: "Gate | None" = None
    region: str = REGION

    def authorize(self, access_key: str | None, action: str, resource: str) -> None:
        if access_key is None or access_key == ADMIN_ACCESS_KEY_ID or self.registry is None:
            return
        principal = self.registry.principal(access_key)
        if principal is None or self.gate is None:
            raise LambdaError(
                403,
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
        now = datetime.now(UTC)
        if principal.expires_at is not None and now >= principal.expires_at:
            raise LambdaError(
                403,
                "ExpiredTokenException",
                "The security token included in the request is expired",
            )
        decision = self.gate.evaluate(principal, Requirement(action, resource), self.region)
        message = (
            None
            if decision.allowed
            else f"User: {principal.arn} is not authorized to perform: {action} on resource: "
            f"{resource} {decision.phrase(action)}"
        )
        self.gate.log.record(
            DecisionRecord(
                principal=principal.arn,
                action=action,
                resource=resource,
                allowed=decision.allowed,
                reason=decision.reason,
                function=principal.function,
                service="lambda",
                operation=action.split(":", 1)[1],
                statements=tuple(source.id for source in decision.statements),
                message=message,
            )
        )
        if message is not None:
            raise LambdaError(403, "AccessDeniedException", message)

    def may_invoke(self, function: LocalFunction, arn: str) -> str | None:
        """Whether `function`'s role may invoke `arn` (a Lambda destination): None, or why
        not."""
        if self.registry is None:
            return None
        try:
            self.authorize(function.credentials.access_key_id, "lambda:InvokeFunction", arn)
        except LambdaError as denied:
            return denied.message
        return None


# -- the API --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    operation: str
    params: dict[str, Any]
    access_key: str | None
    body_bytes: int


# UpdateFunctionConfiguration: (logical id, variables) -> the updated function
Update = Callable[..., LocalFunction]


class LambdaApi:
    """A WSGI application: the Lambda API over one local stack's functions."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        caller: Caller | None = None,
        update: Update | None = None,
        invoker: AsyncInvoker | None = None,
    ) -> None:
        self.catalog = catalog
        self.caller = caller or Caller()
        self.update = update
        self.invoker = invoker
        self.parser = RequestParser(["lambda"])
        self._update_lock = threading.Lock()
        self._operations: dict[str, Callable[[Call], Response]] = {
            "Invoke": self._invoke,
            "ListFunctions": self._list_functions,
            "GetFunction": self._get_function,
            "GetFunctionConfiguration": self._get_function_configuration,
            "ListVersionsByFunction": self._list_versions,
            "ListAliases": self._list_aliases,
            "GetAlias": self._get_alias,
            "GetFunctionEventInvokeConfig": self._get_event_invoke_config,
            "UpdateFunctionConfiguration": self._update_function_configuration,
        }

    @classmethod
    def from_stack(cls, stack: "LocalStack") -> "LambdaApi":
        catalog = Catalog.from_stack(stack)
        caller = Caller(stack.endpoint.registry, stack.endpoint.gate, stack.region)
        api = cls(catalog, caller=caller, update=stack.update_function_configuration)
        api.invoker = AsyncInvoker(stack.cloud, caller.may_invoke, api.invoke_async)
        return api

    def close(self) -> None:
        if self.invoker is not None:
            self.invoker.close()

    # -- WSGI -----------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request_id = str(uuid.uuid4())
        try:
            response = self._operate(self._read(Request(environ)))
        except LambdaError as error:
            response = error.response()
        except Exception:  # noqa: BLE001 - Lambda's ServiceException, never a traceback page
            traceback.print_exc(file=sys.stderr)
            response = LambdaError(500, "ServiceException", "local Lambda API error").response()
        response.headers.setdefault("x-amzn-RequestId", request_id)
        return response(environ, start_response)

    def _read(self, request: Request) -> Call:
        """The operation and its parameters, read with botocore's model; the body is read
        up to the largest request Lambda accepts (the rest is drained, never answered with a
        reset)."""
        body = request.stream.read(MAX_REQUEST_BYTES + 1)
        size = len(body)
        while chunk := request.stream.read(1 << 20):
            size += len(chunk)
        raw = RawRequest.from_environ(request.environ, body)
        try:
            parsed = self.parser.parse_rest("lambda", raw)
        except UnreadableRequest:
            raise LambdaError(404, "UnknownOperationException", "Unknown operation") from None
        except ValueError as error:
            raise LambdaError(
                400, "InvalidRequestContentException", f"Could not parse request body: {error}"
            ) from None
        return Call(parsed.operation, parsed.params, parsed.credentials.access_key, size)

    def _operate(self, call: Call) -> Response:
        operation = self._operations.get(call.operation)
        if operation is None:
            raise LambdaError(
                404,
                "UnknownOperationException",
                f"{call.operation} is not served by the local Lambda API: the stack's functions "
                "come from template.yaml",
            )
        return operation(call)

    # -- Invoke ---------------------------------------------------------------------------

    def _invoke(self, call: Call) -> Response:
        params = call.params
        kind = str(params.get("InvocationType") or "RequestResponse")
        log_type = str(params.get("LogType") or "None")
        for value, member, allowed in (
            (kind, "invocationType", INVOCATION_TYPES),
            (log_type, "logType", LOG_TYPES),
        ):
            if value not in allowed:
                raise LambdaError(
                    400,
                    "ValidationException",
                    f"1 validation error detected: Value '{value}' at '{member}' failed to "
                    "satisfy constraint: Member must satisfy enum value set: "
                    f"[{', '.join(allowed)}]",
                )
        target = self.catalog.target(str(params["FunctionName"]), params.get("Qualifier"))
        limit = MAX_EVENT_REQUEST_BYTES if kind == "Event" else MAX_REQUEST_BYTES
        if call.body_bytes > limit:
            raise LambdaError(
                413,
                "RequestTooLargeException",
                f"Request must be smaller than {limit} bytes for the InvokeFunction operation",
            )
        self.caller.authorize(call.access_key, "lambda:InvokeFunction", target.arn)
        raw = params.get("Payload") or b""
        try:
            event = json.loads(raw) if raw.strip() else {}
        except (ValueError, UnicodeDecodeError) as error:
            raise LambdaError(
                400,
                "InvalidRequestContentException",
                f"Could not parse request body into json: {error}",
            ) from None
        if kind == "DryRun":
            return Response(status=204)
        if kind == "Event":
            request_id = str(uuid.uuid4())
            self.invoke_async(target.arn, event, request_id=request_id, target=target)
            return Response(status=202, headers={"x-amzn-RequestId": request_id})
        return self._run(target, event, tail=log_type == "Tail")

    def _run(self, target: Target, event: Any, *, tail: bool) -> Response:
        """One synchronous invocation and Lambda's answer to each way it can end."""
        try:
            invocation = target.function.invoke(event)
        except Throttled as throttled:  # reserved concurrency in use: nothing ran
            raise LambdaError(
                429, throttled.error_type, "Rate Exceeded.", Reason=throttled.reason
            ) from None
        except FunctionError as failed:
            return _invocation_response(target, failed.error, failed.logs, tail, failed=True)
        return _invocation_response(target, invocation.result, invocation.logs, tail)

    def invoke_async(
        self,
        arn: str,
        event: Any,
        *,
        request_id: str | None = None,
        target: Target | None = None,
    ) -> None:
        """Queue an asynchronous invocation of `arn` (also a Lambda destination's)."""
        if self.invoker is None:
            raise LambdaError(
                404, "UnknownOperationException", "asynchronous invocations are not served here"
            )
        target = target or self.catalog.target(arn)
        self.invoker.submit(
            AsyncEvent(
                function=target.function,
                function_arn=target.arn if target.qualifier else f"{target.arn}:$LATEST",
                version=target.version,
                payload=event,
                request_id=request_id or str(uuid.uuid4()),
                config=self.catalog.async_config(target),
            )
        )

    # -- reading the template --------------------------------------------------------------

    def _list_functions(self, call: Call) -> Response:
        self.caller.authorize(call.access_key, "lambda:ListFunctions", "*")
        every = call.params.get("FunctionVersion") == "ALL"
        functions = sorted(self.catalog.functions.values(), key=lambda f: f.name)
        entries = [t for f in functions for t in self.catalog.entries(f, every)]
        page, marker = _page(entries, call.params)
        return _json({"Functions": [self.catalog.configuration(t) for t in page]} | marker)

    def _get_function(self, call: Call) -> Response:
        target = self.catalog.target(str(call.params["FunctionName"]), call.params.get("Qualifier"))
        self.caller.authorize(call.access_key, "lambda:GetFunction", target.arn)
        props = self.catalog.published.get(target.function.logical_id, Published()).properties
        document: dict[str, Any] = {
            "Configuration": self.catalog.configuration(target),
            "Code": {
                "RepositoryType": "S3",
                "Location": target.function.source.code_dir.as_uri(),
            },
            "Tags": {str(tag["Key"]): str(tag["Value"]) for tag in props.get("Tags", [])},
        }
        reserved = target.function.config.reserved_concurrency
        if reserved is not None:
            document["Concurrency"] = {"ReservedConcurrentExecutions": reserved}
        return _json(document)

    def _get_function_configuration(self, call: Call) -> Response:
        target = self.catalog.target(str(call.params["FunctionName"]), call.params.get("Qualifier"))
        self.caller.authorize(call.access_key, "lambda:GetFunctionConfiguration", target.arn)
        return _json(self.catalog.configuration(target))

    def _unqualified(self, call: Call, action: str) -> LocalFunction:
        function, qualifier = self.catalog.find(str(call.params["FunctionName"]))
        if qualifier is not None:
            raise LambdaError(
                400, "InvalidParameterValueException", "A qualifier is not allowed here."
            )
        self.caller.authorize(call.access_key, action, function.arn)
        return function

    def _list_versions(self, call: Call) -> Response:
        function = self._unqualified(call, "lambda:ListVersionsByFunction")
        page, marker = _page(self.catalog.entries(function, True), call.params)
        return _json({"Versions": [self.catalog.configuration(t) for t in page]} | marker)

    def _list_aliases(self, call: Call) -> Response:
        function = self._unqualified(call, "lambda:ListAliases")
        published = self.catalog.published.get(function.logical_id, Published())
        version = call.params.get("FunctionVersion")
        names = sorted(
            name for name, points in published.aliases.items() if version in (None, points)
        )
        page, marker = _page(names, call.params)
        return _json({"Aliases": [self.catalog.alias(function, name) for name in page]} | marker)

    def _get_alias(self, call: Call) -> Response:
        function = self._unqualified(call, "lambda:GetAlias")
        name = str(call.params["Name"])
        if name not in self.catalog.published.get(function.logical_id, Published()).aliases:
            raise LambdaError(
                404, "ResourceNotFoundException", f"Cannot find alias arn: {function.arn}:{name}"
            )
        return _json(self.catalog.alias(function, name))

    def _get_event_invoke_config(self, call: Call) -> Response:
        target = self.catalog.target(str(call.params["FunctionName"]), call.params.get("Qualifier"))
        self.caller.authorize(call.access_key, "lambda:GetFunctionEventInvokeConfig", target.arn)
        published = self.catalog.published.get(target.function.logical_id, Published())
        found = published.event_invoke_configs.get(target.qualifier or "$LATEST")
        if found is None:
            raise LambdaError(
                404,
                "ResourceNotFoundException",
                f"The function {target.arn} doesn't have an EventInvokeConfig",
            )
        document: dict[str, Any] = {
            "LastModified": self.catalog.deployed_at.timestamp(),
            "FunctionArn": target.arn,
            "MaximumRetryAttempts": int(found.get("MaximumRetryAttempts", 2)),
            "MaximumEventAgeInSeconds": int(found.get("MaximumEventAgeInSeconds", 21600)),
        }
        if found.get("DestinationConfig"):
            document["DestinationConfig"] = found["DestinationConfig"]
        return _json(document)

    def _update_function_configuration(self, call: Call) -> Response:
        function = self._unqualified(call, "lambda:UpdateFunctionConfiguration")
        if self.update is None:
            raise LambdaError(404, "UnknownOperationException", "Unknown operation")
        variables = (call.params.get("Environment") or {}).get("Variables") or {}
        if not isinstance(variables, dict):
            raise LambdaError(400, "InvalidParameterValueException", "Environment.Variables")
        with self._update_lock:
            updated = self.update(function.logical_id, **{k: str(v) for k, v in variables.items()})
            self.catalog.revisions[updated.logical_id] = str(uuid.uuid4())
        return _json(self.catalog.configuration(Target(updated, None, "$LATEST")))


def _json(document: dict[str, Any]) -> Response:
    return Response(json.dumps(document), status=200, content_type="application/json")


def _page(items: list[Any], params: Mapping[str, Any]) -> tuple[list[Any], dict[str, str]]:
    """One page of `items` after the request's Marker, and NextMarker when more follow."""
    start = 0
    marker = params.get("Marker")
    if marker:
        try:
            start = int(json.loads(base64.urlsafe_b64decode(str(marker)))["start"])
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise LambdaError(
                400, "InvalidParameterValueException", "Invalid marker value"
            ) from None
    size = min(int(params.get("MaxItems") or PAGE_SIZE), PAGE_SIZE)
    if size < 1:
        raise LambdaError(400, "InvalidParameterValueException", "MaxItems must be at least 1")
    end = start + size
    more = {}
    if end < len(items):
        token = base64.urlsafe_b64encode(json.dumps({"start": end}).encode()).decode()
        more = {"NextMarker": token}
    return items[start:end], more


_REQUEST_ID = re.compile(r"^START RequestId: (\S+)", re.MULTILINE)


def _invocation_response(
    target: Target, payload: Any, logs: str, tail: bool, *, failed: bool = False
) -> Response:
    headers = {"X-Amz-Executed-Version": target.version}
    found = _REQUEST_ID.search(logs)
    if found:
        headers["x-amzn-RequestId"] = found.group(1)
    if failed:
        headers["X-Amz-Function-Error"] = "Unhandled"
    if tail:
        headers["X-Amz-Log-Result"] = base64.b64encode(logs.encode()[-TAIL_BYTES:]).decode()
    return Response(
        json.dumps(payload), status=200, headers=headers, content_type="application/json"
    )


# -- serving ----------------------------------------------------------------------------------


class _Handler(WSGIRequestHandler):
    # Headers and body leave in two writes; with Nagle's algorithm the body waits for the
    # client's delayed ACK (about 40 ms per keep-alive request, `make bench`).
    disable_nagle_algorithm = True

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return  # the function's own log says what happened


def serve(api: LambdaApi, host: str = "127.0.0.1", port: int = 0) -> BaseWSGIServer:
    """The API on `host:port` (0: a free port), served by werkzeug's threaded server, whose
    listen backlog is 128; `shutdown()` and `server_close()` stop it."""
    server = make_server(host, port, api, threaded=True, request_handler=_Handler)
    threading.Thread(target=server.serve_forever, name="lambda-api", daemon=True).start()
    return server


# -- a client, for `make invoke` and `make sync` ----------------------------------------------


def client(endpoint_url: str, timeout_s: float = 960) -> Any:
    """boto3's Lambda client for a running local stack, as its administrator; one attempt
    (a retried Invoke would run the function twice) and a read timeout above Lambda's 900 s."""
    return boto3.client(
        "lambda",
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id=ADMIN_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=ADMIN_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        config=Config(read_timeout=timeout_s, retries={"total_max_attempts": 1}),
    )


def invoke_remote(endpoint_url: str, name: str, event: Any, timeout_s: float = 960) -> Invocation:
    """Invoke a function of a running local stack through its Lambda API (what `make invoke`
    does from another terminal); a failed invocation raises FunctionError, as locally."""
    started = time.perf_counter()
    answer = client(endpoint_url, timeout_s).invoke(
        FunctionName=name, Payload=json.dumps(event).encode(), LogType="Tail"
    )
    payload = json.loads(answer["Payload"].read() or b"null")
    logs = base64.b64decode(answer.get("LogResult") or "").decode(errors="replace")
    if answer.get("FunctionError"):
        raise FunctionError(name, payload, logs)
    request_id = str(answer["ResponseMetadata"]["RequestId"])
    return Invocation(payload, logs, (time.perf_counter() - started) * 1000, request_id, False)
