"""customer_platform.http: a body that is not UTF-8, or that no JSON parser would take
(nested too deeply, an integer too long), is the client's 400; any other decoding failure
stays a generic 500."""

import base64
import json
from typing import Any

import pytest
from aws_lambda_powertools import Logger
from pydantic import BaseModel

from customer_platform.http import JsonApiResolver, install_error_handlers


class Greeting(BaseModel):
    name: str


def resolver() -> JsonApiResolver:
    app = JsonApiResolver(enable_validation=True)
    install_error_handlers(app, Logger(service="test-http"))

    @app.post("/greetings")
    def greet(greeting: Greeting) -> dict[str, str]:
        return {"hello": greeting.name}

    @app.post("/broken")
    def broken() -> dict[str, str]:
        return {"oops": b"\xff".decode()}  # a bug of ours, not the client's

    return app


def post(path: str, body: bytes) -> dict[str, Any]:
    """What API Gateway sends for a body that is not text: base64, isBase64Encoded."""
    event = {
        "resource": path,
        "path": path,
        "httpMethod": "POST",
        "headers": {"Content-Type": "application/json"},
        "multiValueHeaders": {"Content-Type": ["application/json"]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "requestContext": {"requestId": "r", "stage": "v1", "httpMethod": "POST"},
        "body": base64.b64encode(body).decode(),
        "isBase64Encoded": True,
    }
    result: dict[str, Any] = resolver().resolve(event, None)  # type: ignore[arg-type]
    return result


def test_a_base64_body_that_is_utf8_json_is_read():
    result = post("/greetings", '{"name": "Zoë"}'.encode())

    assert (result["statusCode"], json.loads(result["body"])) == (200, {"hello": "Zoë"})


def test_a_body_that_is_not_utf8_is_400_with_a_json_message():
    result = post("/greetings", b'{"name": "Zo\xeb"}')

    assert result["statusCode"] == 400
    assert json.loads(result["body"]) == {"message": "request body must be UTF-8 encoded JSON"}


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"[" * 100_000, id="nested-too-deeply"),
        pytest.param(b'{"name": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", id="deep-in-a-field"),
        pytest.param(b'{"name": ' + b"1" * 5_000 + b"}", id="integer-beyond-int-max-str-digits"),
    ],
)
def test_a_body_the_json_parser_cannot_take_is_400_not_500(body: bytes):
    """Catches: RecursionError or ValueError from json.loads ending the request as a 500
    (remove `json_body_deserializer=json_body` from JsonApiResolver to see it)."""
    result = post("/greetings", body)

    assert result["statusCode"] == 400
    assert json.loads(result["body"]) == {"message": "request body must be a JSON object"}


def test_a_decoding_error_of_our_own_is_a_generic_500():
    result = post("/broken", b"{}")

    assert result["statusCode"] == 500
    assert json.loads(result["body"]) == {"message": "internal server error"}
