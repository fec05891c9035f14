"""moto in server mode: S3 over real HTTP, as a browser or curl sees it.

`ThreadedMotoServer` listens on 127.0.0.1 on a free port; template.yaml is deployed into
it exactly as `make api` does (AWS_ENDPOINT_URL points boto3, and so every function, at
the server), and the presigned URLs the API hands out are then used with `requests`.
The server runs in this process, so it shares moto's backends with `mock_aws`: a test of
another module that runs in between on the same worker still finds its own resources.
"""

import logging
import os
import uuid
from collections.abc import Iterator

import pytest
from moto.server import ThreadedMotoServer

from local_stack.stack import LocalStack


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    saved = os.environ.get("AWS_ENDPOINT_URL")
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    try:
        yield endpoint
    finally:
        if saved is None:
            os.environ.pop("AWS_ENDPOINT_URL", None)
        else:
            os.environ["AWS_ENDPOINT_URL"] = saved
        server.stop()


def deployed(parameters: dict[str, str] | None = None) -> LocalStack:
    name = f"http-{uuid.uuid4().hex[:8]}"
    return LocalStack(stack_name=name, parameters=parameters or {}).deploy()


@pytest.fixture(scope="module")
def http_stack(moto_endpoint: str) -> Iterator[LocalStack]:
    """The template with its defaults (900 s URLs, 10 MiB uploads), behind the moto server."""
    stack = deployed()
    yield stack
    stack.close()


@pytest.fixture(scope="module")
def tight_stack(moto_endpoint: str) -> Iterator[LocalStack]:
    """The template with an hour of URL validity and a 1 KiB upload limit."""
    stack = deployed({"DocumentsUrlExpirySeconds": "1800", "DocumentsMaxUploadBytes": "1024"})
    yield stack
    stack.close()
