"""A function whose reserved concurrency is in use is throttled as Lambda throttles it, and
each caller answers as its AWS service does: the Lambda Invoke API with 429
TooManyRequestsException, API Gateway's Lambda proxy integration with 500.

The reservation is taken where Lambda counts it, in the function's pool (`admit`, what an
invocation in flight holds), so no test depends on how long an invocation takes.
"""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from http.client import HTTPConnection
from typing import Any

import boto3
import pytest
from botocore.config import Config

from local_stack.assembly.stack import LocalStack
from local_stack.commands.server import _handler_for, _listen
from local_stack.runtime.functions import LocalFunction
from local_stack.services import lambda_api


@contextmanager
def reservation_in_use(function: LocalFunction) -> Iterator[None]:
    """Every slot of the function's reserved concurrency taken, as by invocations in flight."""
    reserved = function.config.reserved_concurrency
    assert reserved, f"{function.logical_id} reserves no concurrency"
    slots = [function.admit() for _ in range(reserved)]
    try:
        yield
    finally:
        for slot in slots:
            slot.release()


@pytest.fixture(scope="module")
def lambda_client(stack: LocalStack) -> Iterator[Any]:
    """boto3's Lambda client on the stack's local Lambda API, as `make api` serves it."""
    server = lambda_api.serve(lambda_api.LambdaApi.from_stack(stack))
    try:
        yield boto3.client(
            "lambda",
            region_name=stack.region,
            endpoint_url=f"http://127.0.0.1:{server.server_address[1]}",
            config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
        )
    finally:
        server.shutdown()
        server.server_close()


def test_the_lambda_api_answers_a_throttled_invoke_with_429_and_lambdas_reason(
    stack: LocalStack, lambda_client: Any
):
    """Catches: the Lambda API without its Throttled branch (a caller would get an HTML 500
    or wait), or another status, error type or reason than Lambda's."""
    # Given the outbox relay (reserved concurrency 1) busy
    relay = stack.function("OutboxRelayFunction")

    # When boto3 invokes it
    with (
        reservation_in_use(relay),
        pytest.raises(lambda_client.exceptions.TooManyRequestsException) as throttled,
    ):
        lambda_client.invoke(FunctionName=relay.name, Payload=b"{}")

    # Then Lambda's throttle, which botocore parses into its modelled exception
    response = throttled.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert response["Error"]["Code"] == "TooManyRequestsException"
    assert response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert response["Type"] == "User"
    assert response["message"] == "Rate Exceeded."
    # ... and once the reservation is free again, the same call runs
    answer = lambda_client.invoke(FunctionName=relay.name, Payload=b"{}")
    assert answer["StatusCode"] == 200
    assert "FunctionError" not in answer


def test_api_gateway_answers_a_throttled_integration_with_500(stack: LocalStack):
    """What API Gateway does when Lambda rejects the invoke ("Handle Lambda errors with an
    API Gateway API": 500, {"message": "Internal server error"}; a function that ran and
    failed is the 502). Catches: the throttle mapped to 502, or let through as a 5xx with
    a traceback, or the request waiting for a free environment."""
    # Given the RDS customers function with its reserved concurrency in use
    function = stack.function("CustomersRdsFunction")
    server = _listen(0, _handler_for(stack.api), "127.0.0.1")
    try:
        connection = HTTPConnection("127.0.0.1", server.server_address[1], timeout=120)

        # When a client lists customers
        with reservation_in_use(function):
            connection.request("GET", "/rds/customers")
            throttled = connection.getresponse()
            body = json.loads(throttled.read())
        connection.request("GET", "/rds/customers")
        after = connection.getresponse()
        after.read()
    finally:
        server.shutdown()
        server.server_close()

    # Then API Gateway's answer for a rejected invoke, and service once it has room
    assert throttled.status == 500
    assert throttled.getheader("Content-Type") == "application/json"
    assert body == {"message": "Internal server error"}
    assert after.status == 200
