"""Concurrent writes over real HTTP: nothing acknowledged is lost, no duplicate gets through.

Many client threads talk to the deployed stack's API over sockets, as a load test or a
busy front end would; every function environment talks to the local AWS endpoint (moto
in server mode, many threads) or MySQL. Real DynamoDB transactions are serializable and
MySQL's unique index holds, so whatever the interleaving:

* of N creates with one email, exactly one is a 201 and one customer is stored;
* every 201, 200 and 204 the API answered is what a later read sees.

Catches, measured on this 2-CPU machine (8 environments per function):

* the local AWS endpoint serving moto's DynamoDB from several threads at once (no lock in
  local_stack/services/dynamodb.py): moto's transact_write_items deep-copies the tables it touches
  and puts the copies back when a transaction is cancelled, erasing writes made in
  between. The mixed load failed 3 runs of 3 (3 to 7 of its 60 emails created twice),
  the race 2 runs of 3 (two 201s for one email, two customers stored with it);
* transactions not idempotent by ClientRequestToken (moto ignores the token): behind the
  lock, under load, botocore's retry after its 5 s read timeout ran a committed
  transaction again, and a write that had happened was answered 409 or 404 (1 run of 2);
* before the listening sockets' backlog of 128, the 120-way race was connections reset.
"""

import json
import os
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from http.client import HTTPConnection
from pathlib import Path
from typing import Any, TypeVar

import pytest

from local_stack.commands.server import _handler_for, _listen
from local_stack.services.endpoint import AwsEndpoint
from local_stack.services.mysql import ServerAddress
from tests.conftest import deploy

T = TypeVar("T")
CONCURRENCY = "LOCAL_LAMBDA_CONCURRENCY"
ENVIRONMENTS = 8  # per function, twice the local default: more calls in moto at once
BACKENDS = ["dynamodb", "rds"]
RACES = 24  # emails raced for at once
RACERS = 5  # clients per email
WORKERS = 24  # client threads for the mixed load
NEW, CHANGED = 60, 16  # emails created (each twice) and customers updated (and deleted)
RDS_RESERVED = 1000  # above RACES * RACERS


class Http:
    """One API over real sockets; a connection per call, as independent clients have."""

    def __init__(self, port: int) -> None:
        self.port = port

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        connection = HTTPConnection("127.0.0.1", self.port, timeout=300)
        try:
            payload = None if body is None else json.dumps(body)
            headers = {"Content-Type": "application/json"} if payload else {}
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
        finally:
            connection.close()


@pytest.fixture(scope="module")
def http(endpoint: AwsEndpoint, mysql_server: ServerAddress, function_logs: Path) -> Iterator[Http]:
    """A stack whose functions may run ENVIRONMENTS invocations at once, its API served on
    a socket as `make api` serves it. The RDS function reserves more concurrency than the
    races use (RDS_RESERVED): they are about the data, and past the default 30 Lambda
    would throttle the rest (a 500 through API Gateway, test_throttling.py)."""
    saved = os.environ.get(CONCURRENCY)
    os.environ[CONCURRENCY] = str(ENVIRONMENTS)
    try:
        stack = deploy(
            endpoint,
            function_logs,
            f"writes-{uuid.uuid4().hex[:8]}",
            {"CustomersRdsMaxConcurrency": str(RDS_RESERVED)},
        )
    finally:
        if saved is None:
            os.environ.pop(CONCURRENCY)
        else:
            os.environ[CONCURRENCY] = saved
    server = _listen(0, _handler_for(stack.api), "127.0.0.1")
    try:
        yield Http(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        stack.close()


def at_once(calls: list[Callable[[], T]]) -> list[T]:
    """Run every call on its own thread, all released together."""
    start = threading.Barrier(len(calls))

    def run(call: Callable[[], T]) -> T:
        start.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def stored_with(http: Http, backend: str, email: str) -> list[dict[str, Any]]:
    """Every stored customer with `email`, by listing the whole collection."""
    found: list[dict[str, Any]] = []
    query = "?limit=100"
    for _ in range(10_000):
        status, page = http.call("GET", f"/{backend}/customers{query}")
        assert status == 200, page
        found += [item for item in page["items"] if item["email"] == email]
        if page["nextToken"] is None:
            return found
        query = f"?limit=100&nextToken={page['nextToken']}"
    raise AssertionError("the customer list did not end")


@pytest.mark.parametrize("backend", BACKENDS)
def test_of_many_creates_with_one_email_exactly_one_wins(http: Http, backend: str):
    # Given a few emails, each wanted by many clients
    emails = [f"race-{uuid.uuid4().hex[:12]}@example.com" for _ in range(RACES)]
    base = f"/{backend}/customers"

    # When they all create at the same moment
    racers = [(i, email) for i in range(RACERS) for email in emails]
    answers = at_once(
        [partial(http.call, "POST", base, {"name": f"Racer {i}", "email": e}) for i, e in racers]
    )

    # Then per email one is created, every other one is told it is taken, one is stored
    for email in emails:
        mine = [
            answer for (_, wanted), answer in zip(racers, answers, strict=True) if wanted == email
        ]
        statuses = Counter(status for status, _ in mine)
        assert statuses == {201: 1, 409: RACERS - 1}, (email, statuses)
        (winner,) = [body for status, body in mine if status == 201]
        assert http.call("GET", f"{base}/{winner['id']}") == (200, winner)
        assert stored_with(http, backend, email) == [winner]


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_acknowledged_write_of_a_mixed_load_is_what_a_read_sees(http: Http, backend: str):
    # Given customers to update and to delete, and emails to create (some twice)
    base = f"/{backend}/customers"
    tag = uuid.uuid4().hex[:8]
    seeded = []
    for i in range(2 * CHANGED):
        status, body = http.call(
            "POST", base, {"name": f"Seed {i}", "email": f"seed-{tag}-{i}@example.com"}
        )
        assert status == 201, body
        seeded.append(body)
    to_update, to_delete = seeded[:CHANGED], seeded[CHANGED:]
    new_emails = [f"new-{tag}-{i}@example.com" for i in range(NEW)]
    calls: list[Callable[[], tuple[int, Any]]] = []
    for email in new_emails:
        calls += [partial(http.call, "POST", base, {"name": "New", "email": email})] * 2
    for customer in to_update:
        renamed = {"name": "Renamed", "email": customer["email"].replace("seed-", "moved-")}
        calls.append(partial(http.call, "PUT", f"{base}/{customer['id']}", renamed))
    for customer in to_delete:
        calls.append(partial(http.call, "DELETE", f"{base}/{customer['id']}"))

    # When they all run at once, interleaved, from many clients
    with ThreadPoolExecutor(WORKERS) as pool:
        answers = list(pool.map(lambda call: call(), calls))

    # Then each new email was created once (its twin a 409) ...
    created = [body for status, body in answers if status == 201]
    assert sorted(c["email"] for c in created) == sorted(new_emails)
    assert sorted(status for status, _ in answers if status not in (200, 201, 204)) == [409] * NEW
    # ... and every acknowledged write is what a read sees now
    for customer in created:
        assert http.call("GET", f"{base}/{customer['id']}") == (200, customer)
    updated = [body for status, body in answers if status == 200]
    assert len(updated) == len(to_update)
    for customer in updated:
        assert http.call("GET", f"{base}/{customer['id']}") == (200, customer)
        assert customer["name"] == "Renamed"
    assert [status for status, _ in answers].count(204) == len(to_delete)
    for customer in to_delete:
        assert http.call("GET", f"{base}/{customer['id']}")[0] == 404
    # ... and no email is stored twice, an updated customer's old email is free again
    for email in new_emails + [c["email"] for c in updated]:
        assert len(stored_with(http, backend, email)) == 1, email
    for customer in to_update + to_delete:
        status, body = http.call("POST", base, {"name": "Reuse", "email": customer["email"]})
        assert status == 201, (customer["email"], body)
