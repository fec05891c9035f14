"""The local Lambda API answers what it cannot serve as Lambda does: a JSON error with its
type in `x-amzn-ErrorType` and a request id, never a traceback or an HTML page.

Plain HTTP requests on purpose: paths and methods no SDK would send."""

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from local_stack.services import lambda_api


@pytest.fixture
def api() -> Iterator[str]:
    served = lambda_api.LambdaApi(lambda_api.Catalog(functions={}))
    server = lambda_api.serve(served)
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("method", "path", "status", "kind"),
    [
        ("POST", "/2015-03-31/functions/Nope/invocations", 404, "ResourceNotFoundException"),
        ("PUT", "/2015-03-31/functions/Nope/configuration", 404, "ResourceNotFoundException"),
        ("GET", "/2015-03-31/functions/Nope", 404, "ResourceNotFoundException"),
        ("POST", "/2015-03-31/functions/Nope/somethingelse", 404, "UnknownOperationException"),
        ("PUT", "/2015-03-31/functions/Nope/invocations", 404, "UnknownOperationException"),
        ("TRACE", "/", 404, "UnknownOperationException"),
        ("DELETE", "/2015-03-31/functions/Nope", 404, "UnknownOperationException"),
        ("POST", "/2015-03-31/functions/a%20b/invocations", 400, "ValidationException"),
    ],
)
def test_what_the_api_cannot_serve_is_a_json_error(
    api: str, method: str, path: str, status: int, kind: str
):
    """Catches: an unknown function or operation answered with a traceback, an HTML page or
    a 501 (the old API's http.server answered DELETE and GET with its HTML 501), the wrong
    error type (boto3 maps x-amzn-ErrorType to its exception classes), or no request id."""
    request = urllib.request.Request(api + path, data=b"{}", method=method)  # noqa: S310

    with pytest.raises(urllib.error.HTTPError) as answered:
        urllib.request.urlopen(request, timeout=10)  # noqa: S310

    assert answered.value.code == status
    assert answered.value.headers["x-amzn-ErrorType"] == kind
    assert answered.value.headers["x-amzn-RequestId"]
    assert answered.value.headers["Content-Type"] == "application/json"
    body = json.loads(answered.value.read())
    assert {"Type", "message"} <= body.keys() or {"Type", "Message"} <= body.keys()
