"""`make api`: the whole stack on this machine, served over HTTP like `sam local start-api`.

moto runs in server mode on a free 127.0.0.1 port (so boto3 and the AWS CLI can reach the
local resources with `--endpoint-url`), template.yaml is deployed into it, and a small HTTP
server turns each request into an API Gateway proxy event for the right function.
"""

import json
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from moto.server import ThreadedMotoServer

from local_stack import authorizer
from local_stack.apigateway import MAX_PAYLOAD_BYTES, LocalApi
from local_stack.stack import LocalStack
from local_stack.template import ROOT

STATE_DIR = Path(os.environ.get("LOCAL_STATE_DIR") or ROOT / ".local")
OUTPUTS_FILE = STATE_DIR / "outputs.json"
FUNCTIONS_FILE = STATE_DIR / "functions.json"  # for `make invoke` from another shell
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",  # moto accepts any credentials
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def _handler_for(api: LocalApi) -> type[BaseHTTPRequestHandler]:
    class ApiGatewayHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "local-api-gateway"

        def _serve(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_PAYLOAD_BYTES:
                # Drain what the client sends, then refuse, so it sees the 413, not a reset.
                remaining = length
                while remaining > 0:
                    remaining -= len(self.rfile.read(min(remaining, 1 << 20)) or b"x" * remaining)
                refusal = b'{"message": "Request Too Long"}'
                self._reply(413, {"Content-Type": "application/json"}, refusal)
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

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

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
    outputs: dict[str, Any]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running_stack(port: int | None = None, write_outputs: bool = True) -> Iterator[RunningStack]:
    """moto server + deployed template + HTTP API; everything stops on exit."""
    os.environ.update(FAKE_CREDENTIALS)
    os.environ.pop("AWS_PROFILE", None)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    moto.start()
    http: ThreadingHTTPServer | None = None
    stack: LocalStack | None = None
    try:
        host, moto_port = moto.get_host_and_port()
        endpoint = f"http://{host}:{moto_port}"
        os.environ["AWS_ENDPOINT_URL"] = endpoint  # boto3 >= 1.28 honours it for every client
        stack = LocalStack(parameters=authorizer.requested_parameters()).deploy()
        stack.event_sources.start()  # queue consumers and the stream trigger, continuously
        stack.on_close(stack.event_sources.stop)
        http = ThreadingHTTPServer(("127.0.0.1", port or 0), _handler_for(stack.api))
        http.daemon_threads = True
        threading.Thread(target=http.serve_forever, daemon=True).start()
        api_url = f"http://127.0.0.1:{http.server_address[1]}"
        outputs = stack.outputs(api_url=api_url) | {"AwsEndpointUrl": endpoint}
        if write_outputs:
            OUTPUTS_FILE.parent.mkdir(parents=True, exist_ok=True)
            functions = {
                logical_id: {"name": function.name, "environment": function.environment}
                for logical_id, function in stack.functions.items()
            }
            FUNCTIONS_FILE.write_text(json.dumps(functions, indent=2) + "\n")
            # Last and whole (written aside, then renamed): its existence means "ready", and
            # whoever waits for it never reads it half-written.
            partial = OUTPUTS_FILE.with_name(OUTPUTS_FILE.name + ".partial")
            partial.write_text(json.dumps(outputs, indent=2) + "\n")
            partial.replace(OUTPUTS_FILE)
        yield RunningStack(stack, api_url, endpoint, outputs)
    finally:
        if http is not None:
            http.shutdown()
            http.server_close()
        if stack is not None:
            stack.close()
        moto.stop()
        os.environ.pop("AWS_ENDPOINT_URL", None)


def access_note(outputs: dict[str, Any]) -> str:
    """What the startup output says about access: open here, whatever ApiAuth deploys."""
    deployed = outputs.get("ApiAuthMode", "COGNITO")
    return (
        "The API is open locally, like `sam local start-api`: no authentication and no API key"
        f" are checked.\nDeployed, ApiAuth={deployed} guards every route"
        " (docs/api-security.md; `make token` prints the headers)."
    )


def main() -> int:
    port = int(os.environ.get("PORT", "3000"))
    stop = threading.Event()
    # Explicit handlers: a shell's background job inherits SIGINT as ignored.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with running_stack(port=port) as running:
        width = max(len(key) for key in running.outputs)
        print("\nLocal stack is up (moto + in-process functions; no Docker, no AWS account).")
        print((authorizer.access_note(running.stack) or access_note(running.outputs)) + "\n")
        for key, value in running.outputs.items():
            print(f"  {key:<{width}}  {value}")
        print(f"\nOutputs written to {OUTPUTS_FILE}")
        print(f"Try:  curl -s {running.api_url}/dynamodb/customers")
        print(f"      aws --endpoint-url {running.aws_endpoint_url} dynamodb list-tables")
        print("Ctrl-C stops everything.\n", flush=True)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        print("\nStopping...", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
