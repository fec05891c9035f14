"""The Lambda Invoke API of the local stack, like `sam local start-lambda`.

`POST /2015-03-31/functions/<name>/invocations` runs the function in its execution
environments and answers as Lambda does: the payload, `X-Amz-Function-Error: Unhandled` on a
failed invocation and, with `X-Amz-Log-Type: Tail`, the last 4 KB of its log in
`X-Amz-Log-Result`. `make invoke` uses it against a running `make api`; so can
`aws lambda invoke --endpoint-url <LambdaEndpointUrl>` or boto3. The name may be the
function's name, its ARN or its logical id in template.yaml.

`PUT /2015-03-31/functions/<name>/configuration` is UpdateFunctionConfiguration: the
environment variables given replace the function's (none given: unchanged), and, as in
Lambda, the next invocation starts a new execution environment. `make sync` uses it so a
fetcher that cached the previous feed URL starts afresh.
"""

import base64
import json
import re
import time
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

from local_stack.functions import FunctionError, Invocation, LocalFunction, Throttled

_INVOKE = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")
_CONFIGURATION = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/configuration/?$")
# LocalStack.update_function_configuration: (logical id, variables) -> the updated function
Update = Callable[..., LocalFunction]
_TAIL_BYTES = 4096


def find(functions: dict[str, LocalFunction], name: str) -> LocalFunction | None:
    for logical_id, function in functions.items():
        if name in (logical_id, function.name, function.arn):
            return function
    return None


def handler_for(
    functions: dict[str, LocalFunction], update: Update | None = None
) -> type[BaseHTTPRequestHandler]:
    class LambdaApiHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body leave in two writes; with Nagle's algorithm the body waits for
        # the client's delayed ACK (about 40 ms per keep-alive request, `make bench`).
        disable_nagle_algorithm = True
        server_version = "local-lambda"

        def _target(self, operation: re.Pattern[str]) -> tuple[LocalFunction, bytes] | None:
            """The function the path names and the request's body, or None once the error
            is sent (an unknown operation, a function that does not exist)."""
            matched = operation.match(self.path.split("?", 1)[0])
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if matched is None:
                self._error(404, "UnknownOperationException", "Unknown operation")
                return None
            function = find(functions, matched["name"])
            if function is None:
                self._error(
                    404, "ResourceNotFoundException", f"Function not found: {matched['name']}"
                )
                return None
            return function, body

        def do_POST(self) -> None:
            target = self._target(_INVOKE)
            if target is None:
                return
            function, body = target
            try:
                event = json.loads(body) if body else {}
            except json.JSONDecodeError:
                self._error(400, "InvalidRequestContentException", "Could not parse request body")
                return
            tail = self.headers.get("X-Amz-Log-Type") == "Tail"
            try:
                invocation = function.invoke(event)
            except Throttled as throttled:  # Lambda's 429: reserved concurrency in use
                answer = json.dumps(throttled.payload).encode()
                self.send_response(429)
                self.send_header("Content-Type", "application/json")
                self.send_header("x-amzn-ErrorType", throttled.error_type)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
                return
            except FunctionError as error:
                self._reply(
                    json.dumps(error.error).encode(),
                    {"X-Amz-Function-Error": "Unhandled"},
                    error.logs if tail else None,
                )
                return
            self._reply(
                json.dumps(invocation.result).encode(), {}, invocation.logs if tail else None
            )

        def do_PUT(self) -> None:
            target = self._target(_CONFIGURATION)
            if target is None:
                return
            if update is None:  # a server without configuration updates
                self._error(404, "UnknownOperationException", "Unknown operation")
                return
            function, body = target
            try:
                request = json.loads(body) if body else {}
                variables = dict(request.get("Environment", {}).get("Variables", {}))
            except (json.JSONDecodeError, AttributeError):
                self._error(400, "InvalidParameterValueException", "Could not parse request body")
                return
            updated = update(function.source.logical_id, **variables)
            configuration = {
                "FunctionName": updated.name,
                "FunctionArn": updated.arn,
                "Environment": {"Variables": updated.config.variables},
                "State": "Active",
                "LastUpdateStatus": "Successful",
            }
            self._reply(json.dumps(configuration).encode(), {}, None)

        def _reply(self, payload: bytes, headers: dict[str, str], logs: str | None) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Amz-Executed-Version", "$LATEST")
            for key, value in headers.items():
                self.send_header(key, value)
            if logs is not None:
                tail = logs.encode()[-_TAIL_BYTES:]
                self.send_header("X-Amz-Log-Result", base64.b64encode(tail).decode())
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _error(self, status: int, kind: str, message: str) -> None:
            body = json.dumps({"Type": "User", "message": message}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("x-amzn-ErrorType", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return  # the function's own log says what happened

    return LambdaApiHandler


def invoke_remote(endpoint_url: str, name: str, event: Any, timeout_s: float = 960) -> Invocation:
    """Invoke a function of a running local stack through its Lambda API (what `make invoke`
    does from another terminal); a failed invocation raises FunctionError, as locally."""
    request = urllib.request.Request(  # noqa: S310 - the local stack's own endpoint
        f"{endpoint_url}/2015-03-31/functions/{name}/invocations",
        data=json.dumps(event).encode(),
        headers={"Content-Type": "application/json", "X-Amz-Log-Type": "Tail"},
        method="POST",
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
        payload = json.loads(response.read() or b"null")
        logs = base64.b64decode(response.headers.get("X-Amz-Log-Result") or "").decode()
        failed = response.headers.get("X-Amz-Function-Error")
    if failed:
        raise FunctionError(name, payload, logs)
    return Invocation(payload, logs, (time.perf_counter() - started) * 1000, "", False)
