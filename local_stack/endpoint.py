"""The local AWS endpoint: moto in server mode on 127.0.0.1, in this process.

Every AWS call of the local stack goes through this one HTTP endpoint: the functions' (from
their own processes, with their own credentials), the service emulators' (acting as the
service would) and the tools' and tests' (as the account's administrator). Running moto
in this process keeps its backends inspectable by the stack (CloudFormation's resource
map, S3 notifications), and a WSGI middleware in front of it can see, check and record
every request before moto does.
"""

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from threading import Thread
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Any]

# The account's administrator: the local tools, the tests and the stack's own deployment.
# moto accepts any credentials; these are fixed so that logs and the IAM check can tell
# the administrator from a function.
ADMIN_ACCESS_KEY_ID = "AKIAIOSFODNN7LOCALAD"
ADMIN_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": ADMIN_ACCESS_KEY_ID,
    "AWS_SECRET_ACCESS_KEY": "local-administrator-not-a-secret",
}
REGION = "us-east-1"


class AwsEndpoint:
    """moto's server app behind optional middleware, on a free 127.0.0.1 port."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        middleware: Callable[[WsgiApp], WsgiApp] | None = None,
    ) -> None:
        self.app: WsgiApp = DomainDispatcherApplication(create_backend_app)
        if middleware is not None:
            self.app = middleware(self.app)
        self._server: BaseWSGIServer = make_server(
            host, port, self.app, threaded=True, request_handler=MotoRequestHandler
        )
        self._thread = Thread(target=self._server.serve_forever, name="aws-endpoint", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> "AwsEndpoint":
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


@contextmanager
def administrator(endpoint: AwsEndpoint) -> Iterator[None]:
    """This process's boto3 clients act as the account's administrator on `endpoint`."""
    names = [*ADMIN_CREDENTIALS, "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_REGION"]
    names += ["AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE"]
    saved = {name: os.environ.get(name) for name in names}
    for name in ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE"):
        os.environ.pop(name, None)
    os.environ.update(ADMIN_CREDENTIALS)
    os.environ.update(AWS_ENDPOINT_URL=endpoint.url, AWS_DEFAULT_REGION=REGION, AWS_REGION=REGION)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
