"""API Gateway (REST API, Lambda proxy integration) for the local stack.

Routes come from the `Api` events of template.yaml's functions. A request becomes the proxy
event API Gateway would send, the function's response becomes the HTTP response, and the
edge behaves as API Gateway does: an unknown route is a 403 with a JSON `message`, a body
over 10 MB a 413, a crashed or malformed integration a 502, a throttled function (its
reserved concurrency in use) a 500.
"""

import base64
import json
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from local_stack.runtime.functions import FunctionError, LocalFunction, Throttled
from local_stack.template.transform import SamTemplate

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway's hard limit on a request
# What a REST API routes (ANY means these); anything else (TRACE, CONNECT...) never reaches
# a function.
GATEWAY_METHODS = frozenset({"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"})


_INVOKED = re.compile(r":lambda:path/2015-03-31/functions/(?P<arn>.+)/invocations$")


def integration_arns(
    template: SamTemplate, resolve: Callable[[Any], Any]
) -> dict[tuple[str, str], str]:
    """The function ARN each (resource, METHOD or ANY) of the transformed template's REST APIs
    invokes: its Lambda proxy integration's URI, as SAM wrote it (with AutoPublishAlias, the
    function's "live" alias, which its permissions name too)."""
    found: dict[tuple[str, str], str] = {}
    for resource in template.transformed["Resources"].values():
        if resource["Type"] != "AWS::ApiGateway::RestApi":
            continue
        paths = resource.get("Properties", {}).get("Body", {}).get("paths", {})
        for path, operations in paths.items():
            for method, operation in operations.items():
                uri = operation.get("x-amazon-apigateway-integration", {}).get("uri")
                invoked = _INVOKED.search(str(resolve(uri))) if uri is not None else None
                if invoked is not None:
                    name = "ANY" if method == "x-amazon-apigateway-any-method" else method.upper()
                    found[(path, name)] = invoked["arn"]
    return found


@dataclass(frozen=True)
class Route:
    method: str  # "ANY" or an HTTP method
    resource: str  # e.g. /dynamodb/customers/{id}
    function_id: str
    pattern: re.Pattern[str]
    static_segments: int

    @classmethod
    def of(cls, method: str, resource: str, function_id: str) -> "Route":
        regex = ""
        static = 0
        for segment in resource.strip("/").split("/"):
            if segment.startswith("{") and segment.endswith("+}"):
                regex += f"/(?P<{segment[1:-2]}>.+)"
            elif segment.startswith("{"):
                regex += f"/(?P<{segment[1:-1]}>[^/]+)"
            else:
                regex += "/" + re.escape(segment) if segment else ""
                static += 1
        return cls(method.upper(), resource, function_id, re.compile(f"^{regex or '/'}/?$"), static)


@dataclass
class ApiResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    function_id: str | None = None
    logs: str = ""

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class LocalApi:
    routes: list[Route]
    functions: dict[str, LocalFunction]
    stage: str
    deliveries: Any = None  # local_stack.iam.Deliveries: may API Gateway invoke the function?
    api_id: str = "local"
    invocations: list[str] = field(default_factory=list)
    # run before each request: asynchronous work the client could already observe in AWS
    # (S3 notifications of a finished upload, for instance)
    before_request: list[Callable[[], object]] = field(default_factory=list)
    # ApiAuth=COGNITO locally (local_stack/services/authorizer.py): a 401, or the claims put
    # in the event
    authorize: Callable[[dict[str, Any]], "ApiResponse | None"] | None = None
    # (resource, method) -> the function ARN its integration invokes (the "live" alias)
    integrations: Mapping[tuple[str, str], str] = field(default_factory=dict)

    @classmethod
    def from_template(
        cls,
        template: SamTemplate,
        functions: dict[str, LocalFunction],
        stage: str,
        deliveries: Any = None,
        resolve: Callable[[Any], Any] | None = None,
    ) -> "LocalApi":
        routes = [
            Route.of(event["Properties"]["Method"], event["Properties"]["Path"], function_id)
            for function_id, source in template.functions.items()
            for event in source.events.values()
            if event.get("Type") == "Api"
        ]
        # API Gateway prefers the most specific resource (more literal segments first) and,
        # on one resource, a method's own route (POST with its request model) over ANY.
        routes.sort(key=lambda r: (-r.static_segments, r.resource, r.method == "ANY"))
        return cls(
            routes=routes,
            functions=functions,
            stage=stage,
            deliveries=deliveries,
            integrations=integration_arns(template, resolve) if resolve is not None else {},
        )

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            found = route.pattern.match(path)
            if found and route.method in ("ANY", method.upper()):
                return route, {k: unquote(v) for k, v in found.groupdict().items()}
        return None

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str | list[str]] | None = None,
        headers: dict[str, str] | None = None,
        body: bytes | str | None = None,
        source_ip: str = "127.0.0.1",
    ) -> ApiResponse:
        for hook in self.before_request:
            hook()
        raw = body.encode() if isinstance(body, str) else body
        if raw is not None and len(raw) > MAX_PAYLOAD_BYTES:
            return _gateway_error(413, "Request Too Long")
        matched = self.match(method, path) if method.upper() in GATEWAY_METHODS else None
        if matched is None:
            # What a REST API answers for any path/method it has no resource for.
            return _gateway_error(403, "Missing Authentication Token")
        route, path_parameters = matched
        event = self._event(
            method=method,
            path=path,
            route=route,
            path_parameters=path_parameters,
            query=query,
            headers=headers,
            body=raw,
            source_ip=source_ip,
        )
        refusal = self.authorize(event) if self.authorize is not None else None
        if refusal is not None:
            return refusal
        function = self.functions[route.function_id]
        if self.deliveries is not None:
            # API Gateway invokes with its service principal, allowed only by the
            # function's resource policy (the permission SAM adds per route). Without it,
            # AWS answers 500 ("Invalid permissions on Lambda function").
            arn = self.integrations[(route.resource, route.method.upper())]
            decision = self.deliveries.api_to_lambda(self.api_id, self.stage, method, path, arn)
            if not decision.allowed:
                return _gateway_error(500, "Internal server error", route.function_id)
        self.invocations.append(route.function_id)
        try:
            invocation = function.invoke(event)
        except (Throttled, FunctionError) as error:
            return _integration_failure(error, route.function_id)
        return _proxy_response(invocation.result, route.function_id, invocation.logs)

    def _event(
        self,
        *,
        method: str,
        path: str,
        route: Route,
        path_parameters: dict[str, str],
        query: Mapping[str, str | list[str]] | None,
        headers: dict[str, str] | None,
        body: bytes | None,
        source_ip: str,
    ) -> dict[str, Any]:
        multi_query = {
            key: list(value) if isinstance(value, list) else [value]
            for key, value in (query or {}).items()
        }
        header_values = {"Host": "127.0.0.1", "User-Agent": "local-stack"} | (headers or {})
        is_text = body is None or _is_text(body)
        now = time.time()
        return {
            "resource": route.resource,
            "path": path,
            "httpMethod": method.upper(),
            "headers": header_values,
            "multiValueHeaders": {key: [value] for key, value in header_values.items()},
            "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": path_parameters or None,
            "stageVariables": None,
            "requestContext": {
                "resourceId": "local",
                "resourcePath": route.resource,
                "httpMethod": method.upper(),
                "path": f"/{self.stage}{path}",
                "stage": self.stage,
                "requestId": str(uuid.uuid4()),
                "extendedRequestId": str(uuid.uuid4()),
                "accountId": "123456789012",
                "apiId": self.api_id,
                "protocol": "HTTP/1.1",
                "requestTimeEpoch": int(now * 1000),
                "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                "identity": {"sourceIp": source_ip, "userAgent": header_values["User-Agent"]},
                "domainName": "127.0.0.1",
            },
            "body": None
            if body is None
            else (body.decode() if is_text else base64.b64encode(body).decode()),
            "isBase64Encoded": not is_text,
        }


def _is_text(body: bytes) -> bool:
    try:
        body.decode()
    except UnicodeDecodeError:
        return False
    return True


def _gateway_error(status: int, message: str, function_id: str | None = None) -> ApiResponse:
    return ApiResponse(
        status=status,
        headers={"Content-Type": "application/json", "x-amzn-ErrorType": "GatewayError"},
        body=json.dumps({"message": message}).encode(),
        function_id=function_id,
    )


def _integration_failure(error: Throttled | FunctionError, function_id: str) -> ApiResponse:
    """API Gateway's answer when the Lambda integration did not answer: a rejected invoke
    (Lambda's 429, the function's reserved concurrency in use) is a 500, a failed one (a
    function error, a timeout, a crashed runtime) a 502, both with {"message": "Internal
    server error"} ("Handle Lambda errors with an API Gateway API", Lambda developer
    guide). A failure's logs are in .local/logs/<LogicalId>.log and, under `make api`, on
    screen."""
    if isinstance(error, Throttled):
        return _gateway_error(500, "Internal server error", function_id)
    response = _gateway_error(502, "Internal server error", function_id)
    response.logs = error.logs
    return response


def _proxy_response(result: Any, function_id: str, logs: str) -> ApiResponse:
    """Map a Lambda proxy result to HTTP, refusing malformed ones as API Gateway does."""
    if not isinstance(result, dict) or not isinstance(result.get("statusCode"), int):
        return _gateway_error(502, "Internal server error", function_id)
    headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
    for key, values in (result.get("multiValueHeaders") or {}).items():
        headers[str(key)] = ", ".join(str(v) for v in values)
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    return ApiResponse(result["statusCode"], headers, raw, function_id, logs)
