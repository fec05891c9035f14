"""What the local AWS endpoint adds to moto's DynamoDB (local_stack/services/dynamodb.py): DynamoDB
calls one at a time, other services beside them, and transactions idempotent by token."""

import socket
import threading
import uuid
from collections.abc import Iterable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from local_stack.services.dynamodb import SerialisedDynamoDB
from local_stack.services.endpoint import AwsEndpoint

WAIT_S = 60  # a bound for a call that must not wait at all: only a broken build reaches it


class Moto:
    """A stand-in for moto's app behind the wrapper: each call waits for its release."""

    def __init__(self) -> None:
        self.inside: dict[str, int] = {}
        self.most_at_once: dict[str, int] = {}
        self.entered = threading.Semaphore(0)
        self.release: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        service = environ["service"]
        with self._lock:
            self.inside[service] = self.inside.get(service, 0) + 1
            self.most_at_once[service] = max(
                self.most_at_once.get(service, 0), self.inside[service]
            )
        self.entered.release()
        self.release[service].wait(WAIT_S)
        with self._lock:
            self.inside[service] -= 1
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]


def request(service: str) -> dict[str, Any]:
    target = {"dynamodb": "DynamoDB_20120810.PutItem", "streams": "DynamoDBStreams_20120810.X"}
    environ: dict[str, Any] = {"service": "dynamodb" if service == "streams" else service}
    if service in target:
        environ["HTTP_X_AMZ_TARGET"] = target[service]
    return environ


def call_in_thread(app: SerialisedDynamoDB, environ: dict[str, Any]) -> threading.Thread:
    thread = threading.Thread(target=lambda: list(app(environ, lambda *_: None)), daemon=True)
    thread.start()
    return thread


def test_dynamodb_and_its_streams_are_called_one_at_a_time_other_services_beside_them():
    """Catches: the lock removed (two DynamoDB calls inside moto at once), or one lock for
    every service (the S3 call would wait for the held DynamoDB call and never enter)."""
    # Given moto holding each call until released
    moto = Moto()
    moto.release = {"dynamodb": threading.Event(), "s3": threading.Event()}
    app = SerialisedDynamoDB(moto)

    # When a DynamoDB call is inside, and another DynamoDB call, a Streams call and an S3
    # call arrive
    first = call_in_thread(app, request("dynamodb"))
    assert moto.entered.acquire(timeout=WAIT_S)
    others = [call_in_thread(app, request(name)) for name in ("dynamodb", "streams", "s3")]

    # Then the S3 call gets in (and out) while DynamoDB's first call is still inside
    assert moto.entered.acquire(timeout=WAIT_S)
    assert moto.inside == {"dynamodb": 1, "s3": 1}
    moto.release["s3"].set()
    others[2].join(WAIT_S)
    assert not others[2].is_alive()
    # ... and the DynamoDB calls went in one by one
    moto.release["dynamodb"].set()
    for thread in [first, *others]:
        thread.join(WAIT_S)
    assert moto.most_at_once == {"dynamodb": 1, "s3": 1}


@pytest.fixture
def table(aws: AwsEndpoint) -> Iterable[tuple[Any, str]]:
    client = boto3.client("dynamodb", region_name="us-east-1")
    name = f"tokens-{uuid.uuid4().hex[:8]}"
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    yield client, name
    client.delete_table(TableName=name)


def create(name: str, key: str, value: str) -> list[dict[str, Any]]:
    item = {"pk": {"S": key}, "value": {"S": value}}
    return [
        {
            "Put": {
                "TableName": name,
                "Item": item,
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
    ]


def test_a_retried_transaction_with_its_token_succeeds_and_changes_nothing(table):
    """As DynamoDB documents ClientRequestToken (what botocore resends on a retry after a
    read timeout). Catches: the token ignored, as moto does (the retry runs again and is
    cancelled by its own condition: a created customer answered 409)."""
    client, name = table
    token = str(uuid.uuid4())
    client.transact_write_items(TransactItems=create(name, "a", "first"), ClientRequestToken=token)
    client.put_item(TableName=name, Item={"pk": {"S": "a"}, "value": {"S": "changed since"}})

    client.transact_write_items(TransactItems=create(name, "a", "first"), ClientRequestToken=token)

    item = client.get_item(TableName=name, Key={"pk": {"S": "a"}}, ConsistentRead=True)["Item"]
    assert item["value"] == {"S": "changed since"}, "the retry wrote nothing"


def test_a_token_reused_with_other_parameters_is_refused_and_a_new_token_runs(table):
    """Catches: a replay keyed on the token alone (the other transaction answered as done)."""
    client, name = table
    token = str(uuid.uuid4())
    client.transact_write_items(TransactItems=create(name, "b", "one"), ClientRequestToken=token)

    with pytest.raises(ClientError) as refused:
        client.transact_write_items(
            TransactItems=create(name, "c", "two"), ClientRequestToken=token
        )
    with pytest.raises(client.exceptions.TransactionCanceledException):
        client.transact_write_items(TransactItems=create(name, "b", "again"))

    assert refused.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "Item" not in client.get_item(TableName=name, Key={"pk": {"S": "c"}})


def test_a_cancelled_transaction_is_not_kept_so_its_retry_runs_again(table):
    """DynamoDB keeps the outcome of a transaction that succeeded; a cancelled one may be
    retried. Catches: a cancellation replayed (the retry would be cancelled again)."""
    client, name = table
    client.put_item(TableName=name, Item={"pk": {"S": "d"}, "value": {"S": "in the way"}})
    token = str(uuid.uuid4())
    with pytest.raises(client.exceptions.TransactionCanceledException):
        client.transact_write_items(
            TransactItems=create(name, "d", "mine"), ClientRequestToken=token
        )
    client.delete_item(TableName=name, Key={"pk": {"S": "d"}})

    client.transact_write_items(TransactItems=create(name, "d", "mine"), ClientRequestToken=token)

    item = client.get_item(TableName=name, Key={"pk": {"S": "d"}}, ConsistentRead=True)["Item"]
    assert item["value"] == {"S": "mine"}


def test_a_transaction_body_is_read_by_its_length_from_a_connection_that_stays_open():
    """werkzeug hands the socket itself to the app when nothing in front has read the body
    (moto's own server, no IAM check). Catches: the body read to end-of-file, which waits
    for a keep-alive client to hang up (the call then never answers)."""
    # Given a TransactWriteItems whose client keeps its connection open after the body
    body = b'{"ClientRequestToken": "t-1", "TransactItems": []}'
    client, server = socket.socketpair()
    client.sendall(body)
    seen: list[bytes] = []

    def moto(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        seen.append(environ["wsgi.input"].read())
        start_response("200 OK", [])
        return [b"{}"]

    environ = {
        "HTTP_X_AMZ_TARGET": "DynamoDB_20120810.TransactWriteItems",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": server.makefile("rb"),
    }

    # When the wrapper passes it to moto
    call = call_in_thread(SerialisedDynamoDB(moto), environ)
    call.join(WAIT_S)
    ended_while_open = not call.is_alive()
    client.close()
    call.join(WAIT_S)
    server.close()

    # Then the call ended without the client hanging up first, and moto got the body
    assert ended_while_open
    assert seen == [body]
