"""The local Lambda API answers what it cannot serve as Lambda does: a JSON error with its
type in `x-amzn-ErrorType`, never a traceback or an HTML page."""

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import pytest

from local_stack import lambda_api


@pytest.fixture
def api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), lambda_api.handler_for({}))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("method", "path", "kind"),
    [
        ("POST", "/2015-03-31/functions/Nope/invocations", "ResourceNotFoundException"),
        ("PUT", "/2015-03-31/functions/Nope/configuration", "ResourceNotFoundException"),
        ("POST", "/2015-03-31/functions/Nope/somethingelse", "UnknownOperationException"),
        ("PUT", "/2015-03-31/functions/Nope/invocations", "UnknownOperationException"),
    ],
)
def test_what_the_api_cannot_serve_is_a_json_404(api: str, method: str, path: str, kind: str):
    """Catches: an unknown function or operation answered with a traceback, or the wrong
    error type (boto3 maps x-amzn-ErrorType to its exception classes)."""
    request = urllib.request.Request(api + path, data=b"{}", method=method)  # noqa: S310

    with pytest.raises(urllib.error.HTTPError) as answered:
        urllib.request.urlopen(request, timeout=10)  # noqa: S310

    assert answered.value.code == 404
    assert answered.value.headers["x-amzn-ErrorType"] == kind
    assert "message" in json.loads(answered.value.read())
