"""`make api`: the whole stack on this machine, served over HTTP like `sam local start-api`.

The local AWS endpoint (moto in server mode, local_stack.services.endpoint) starts on a free
127.0.0.1 port, template.yaml is deployed into it, every function gets its execution
environments (local_stack.runtime), and two HTTP servers start: the API (API Gateway's
REST API, on PORT, 3000 by default) and the Lambda Invoke API (like `sam local
start-lambda`). Function logs stream to the terminal, prefixed with the function's logical
id, and to the stack's own folder (local_stack.commands.running: .local/stacks/<port>/logs/).
"""

import errno
import json
import os
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from socketserver import BaseServer
from typing import Any, TextIO
from urllib.parse import parse_qs, urlsplit

from local_stack.assembly.stack import LocalStack
from local_stack.commands.cli import messages_not_tracebacks
from local_stack.commands.running import OUTPUTS_FILE, StackFolder
from local_stack.network.sockets import LocalHTTPServer
from local_stack.paths import STATE_DIR
from local_stack.runtime import interpreter_note
from local_stack.services import authorizer, lambda_api, mysql
from local_stack.services.apigateway import MAX_PAYLOAD_BYTES, LocalApi
from local_stack.services.endpoint import AwsEndpoint, administrator

__all__ = ["OUTPUTS_FILE", "RunningStack", "running_stack"]
DECISIONS_DIR = STATE_DIR / "iam" / "decisions"  # what `make iam-report` reads
DEFAULT_PORT = 3000
SAMPLE_EVENT = "events/customers_dynamodb/list.json"


class PortInUse(RuntimeError):
    """The API's port is taken; the message says by what, probably, and what to do."""

    def __init__(self, port: int, host: str) -> None:
        super().__init__(
            f"port {port} is already in use on {host} (another `make api`?). Stop it, or "
            f"choose another port: make api PORT={port + 1}"
        )


def _json_error(handler: BaseHTTPRequestHandler, status: int, message: str) -> None:
    body = json.dumps({"message": message}).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("x-amzn-ErrorType", "GatewayError")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)


def _handler_for(api: LocalApi) -> type[BaseHTTPRequestHandler]:
    class ApiGatewayHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body leave in two writes; with Nagle's algorithm the body waits for
        # the client's delayed ACK (about 40 ms per keep-alive request, `make bench`).
        disable_nagle_algorithm = True
        server_version = "local-api-gateway"

        def __getattr__(self, name: str) -> Any:
            # Every method, known to http.server or not (TRACE, CONNECT, PROPFIND...), goes
            # to the API, which answers as API Gateway does: never with an HTML page.
            if name.startswith("do_"):
                return self._serve
            raise AttributeError(name)

        def send_error(self, code: int, message: str | None = None, explain: str | None = None):  # type: ignore[no-untyped-def]
            # A request http.server cannot even parse (bad request line, huge headers).
            self.close_connection = True
            _json_error(self, code, message or HTTPStatus(code).phrase)

        def _serve(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_PAYLOAD_BYTES:
                # Drain what the client sends, then refuse, so it sees the 413, not a reset.
                remaining = length
                while remaining > 0:
                    remaining -= len(self.rfile.read(min(remaining, 1 << 20)) or b"x" * remaining)
                _json_error(self, 413, "Request Too Long")
                return
            body = self.rfile.read(length) if length else None
            response = api.request(
                self.command,
                url.path,
                query=parse_qs(url.query, keep_blank_values=True),
                headers=dict(self.headers.items()),
                body=body,
                source_ip=self.client_address[0],
            )
            self._reply(response.status, response.headers, response.body)

        def _reply(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for key, value in headers.items():
                if key.lower() not in ("content-length", "connection"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            if os.environ.get("LOCAL_API_QUIET") != "1":
                sys.stderr.write(
                    f"  {self.command} {self.path} -> {args[1] if len(args) > 1 else ''}\n"
                )

    return ApiGatewayHandler


@dataclass
class RunningStack:
    stack: LocalStack
    api_url: str
    aws_endpoint_url: str
    lambda_endpoint_url: str
    outputs: dict[str, Any]
    folder: StackFolder  # its state: outputs, MySQL CA, logs (local_stack.commands.running)


def _listen(port: int, handler: type[BaseHTTPRequestHandler], host: str) -> LocalHTTPServer:
    """Serve `handler` on a thread; a burst of LISTEN_BACKLOG connects is queued, not reset."""
    try:
        server = LocalHTTPServer((host, port), handler)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise PortInUse(port, host) from None
        raise
    threading.Thread(target=server.serve_forever, name=f"http-{port}", daemon=True).start()
    return server


def check_port(port: int, host: str = "127.0.0.1") -> None:
    """Fail in a second, before deploying anything, when the API's port is taken."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise PortInUse(port, host) from None
            raise


def sam_env_vars(stack: LocalStack, endpoint_port: int) -> dict[str, dict[str, str]]:
    """`sam local invoke --env-vars` for every function: its template variables resolved
    against this local stack, and the local AWS endpoint as a container reaches it."""
    container_endpoint = f"http://host.docker.internal:{endpoint_port}"
    return {
        logical_id: {
            name: container_endpoint if name == "AWS_ENDPOINT_URL" else value
            for name, value in function.config.variables.items()
        }
        for logical_id, function in stack.functions.items()
    }


@contextmanager
def running_stack(
    port: int | None = None,
    write_outputs: bool = True,
    *,
    echo: TextIO | None = None,
    parameters: dict[str, str] | None = None,
    host: str = "127.0.0.1",
    record_as: str | None = None,
) -> Iterator[RunningStack]:
    """The AWS endpoint, the deployed template, the API and the Lambda API; all stop on exit.
    The stack's state (outputs, MySQL CA, function logs) goes to a folder of its own
    (local_stack.commands.running); with `write_outputs` it is a stack the other commands
    find, else a throwaway one. With `record_as`, every IAM decision goes to
    .local/iam/decisions/<record_as>-<pid>.jsonl (replacing that command's previous file) for
    `make iam-report`."""
    if port:
        check_port(port, host)
    folder = StackFolder.claim(port, throwaway=not write_outputs)
    decisions = None
    if record_as is not None:
        for previous in DECISIONS_DIR.glob(f"{record_as}-*.jsonl"):
            previous.unlink(missing_ok=True)
        decisions = DECISIONS_DIR / f"{record_as}-{os.getpid()}.jsonl"
    endpoint = AwsEndpoint(host=host, decisions=decisions).start()
    servers: list[BaseServer] = []
    stack: LocalStack | None = None
    functions: lambda_api.LambdaApi | None = None
    try:
        with administrator(endpoint):
            requested = authorizer.requested_parameters() | (parameters or {})
            stack = LocalStack(
                endpoint=endpoint, parameters=requested, echo=echo, log_dir=folder.logs
            ).deploy()
            stack.event_sources.start()  # queue consumers, the stream trigger, schedules
            api = _listen(port or 0, _handler_for(stack.api), host)
            servers.append(api)
            functions = lambda_api.LambdaApi.from_stack(stack)
            invoke = lambda_api.serve(functions, host)
            servers.append(invoke)
            api_url = f"http://127.0.0.1:{api.server_address[1]}"
            lambda_url = f"http://127.0.0.1:{invoke.server_address[1]}"
            outputs = stack.outputs(api_url=api_url) | {
                "AwsEndpointUrl": endpoint.url,
                "LambdaEndpointUrl": lambda_url,
                "MySqlCaFile": str(folder.write_ca(mysql.server().ca_pem)),
            }
            if write_outputs:
                port_of_endpoint = int(endpoint.url.rsplit(":", 1)[1])
                folder = folder.publish(outputs, sam_env_vars(stack, port_of_endpoint))
            yield RunningStack(stack, api_url, endpoint.url, lambda_url, outputs, folder)
    finally:
        # The outputs stay (API.md: make api and make demo write them); stack.json says the
        # stack stopped, and the commands that read them check that it answers.
        for server in servers:
            server.shutdown()
            server.server_close()
        if functions is not None:
            functions.close()  # queued asynchronous invocations: dropped, not failed
        if stack is not None:
            stack.close()
        endpoint.stop()
        folder.release()


def access_note(outputs: dict[str, Any]) -> str:
    """What the startup output says about access: open here, whatever ApiAuth deploys."""
    deployed = outputs.get("ApiAuthMode", "COGNITO")
    return (
        "The API is open locally, like `sam local start-api`: no authentication and no API key"
        f" are checked.\nDeployed, ApiAuth={deployed} guards every route"
        " (docs/api-security.md; `make token` prints the headers)."
    )


@messages_not_tracebacks("make api")
def main() -> int:
    port = int(os.environ.get("PORT") or DEFAULT_PORT)
    host = os.environ.get("BIND") or "127.0.0.1"
    stop = threading.Event()
    # Explicit handlers: a shell's background job inherits SIGINT as ignored.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"Functions run on {interpreter_note('python3.13')}", flush=True)
    try:
        with running_stack(port=port, echo=sys.stderr, host=host, record_as="api") as running:
            outputs = running.outputs
            width = max(len(key) for key in outputs)
            print("\nLocal stack is up: moto behind one endpoint, each function in its own")
            print("execution environments (Lambda Runtime Interface Emulator + awslambdaric).")
            print((authorizer.access_note(running.stack) or access_note(outputs)) + "\n")
            for key, value in outputs.items():
                print(f"  {key:<{width}}  {value}")
            admin = mysql.server()
            written = f"{running.folder.outputs_file}"
            chosen = f" PORT={port}"  # another stack is the default one: name this one
            if OUTPUTS_FILE.exists() and json.loads(OUTPUTS_FILE.read_text()) == outputs:
                written, chosen = f"{OUTPUTS_FILE} and {written}", ""
            print(f"\nOutputs written to {written}; function logs in {running.stack.log_dir}")
            print(f"Try:  curl -s {running.api_url}/dynamodb/customers")
            print(f'      make aws{chosen} ARGS="dynamodb list-tables"')
            print(f"      make invoke{chosen} FN=CustomersDynamoDBFunction EVENT={SAMPLE_EVENT}")
            print(f"      make logs{chosen} FN=CustomersRdsFunction")
            print(
                f"      mysql -h {admin.host} -P {admin.port} -u {admin.user} "
                f"--ssl-ca {outputs['MySqlCaFile']}  (the local MySQL, TLS required)"
            )
            print(
                "State lives in memory: stopping this stack loses it (`make clean` removes .local)."
            )
            print(f"Ready: {running.api_url}  (Ctrl-C stops everything)\n", flush=True)
            while not stop.wait(0.5):
                pass
            print("\nStopping...", flush=True)
    except PortInUse as error:
        print(f"make api: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
