"""Failures of the database path, as a client of /rds/customers sees them.

Each test runs on a private stack (its own database and user on the MySQL server) and
breaks something real: the server kills the function's connection, the password is
rotated, the network path to MySQL is cut. The assertions are about the HTTP outcome,
plus the number of Secrets Manager calls and connections where that is the point.
"""

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from customer_platform.database import Timeouts
from local_stack.assembly.stack import LocalStack
from local_stack.network.tcp_proxy import TcpProxy
from local_stack.services.mysql import ServerAddress
from local_stack.template.transform import load_template
from tests.support.customers import CustomersClient, unique_email
from tests.support.mysql import (
    APPLICATION_SECRET,
    change_password,
    connection_ids,
    kill_connections,
    put_secret_document,
    secret_document,
    secret_reads,
)


@pytest.fixture
def client(fresh_stack: LocalStack) -> CustomersClient:
    return CustomersClient(fresh_stack.api, "rds")


@pytest.fixture
def db_user(fresh_stack: LocalStack) -> str:
    user: str = secret_document(fresh_stack)["username"]
    return user


@pytest.fixture
def db_secret_arn(fresh_stack: LocalStack) -> str:
    return fresh_stack.cloud.physical_id(APPLICATION_SECRET)


def test_a_warm_invocation_makes_no_secret_call_and_opens_no_connection(
    fresh_stack: LocalStack,
    client: CustomersClient,
    mysql_server: ServerAddress,
    db_user: str,
    db_secret_arn: str,
):
    """Mutations caught: the connection closed after each unit of work
    (customer_platform/database.py `Database.run`), or a new one per request (`@cache`
    removed from both `database` and `repository` in functions/customers_rds/app.py): the
    server sees no session kept, or new ones; the
    page-token key read on every use (pagination.KEY_MAX_AGE = 0): Secrets Manager calls.
    (Two customers and limit=1, so each list signs a token and the next one checks it:
    with a single page the key would never be read.)"""
    created = client.create()  # cold: reads the secrets, opens the connection
    client.create()
    token = client.call("GET", query={"limit": "1"}).json()["nextToken"]  # and the key
    reads = fresh_stack.calls("CustomersRdsFunction", "secretsmanager:GetSecretValue")
    sessions = connection_ids(mysql_server, db_user)
    assert sessions, "the function keeps its connection between requests"

    for _ in range(3):
        assert client.call("GET", f"/{created['id']}").status == 200
        assert client.call("GET", query={"limit": "1"}).json()["nextToken"]
        assert client.call("GET", query={"limit": "1", "nextToken": token}).status == 200

    assert fresh_stack.calls("CustomersRdsFunction", "secretsmanager:GetSecretValue") == reads
    assert connection_ids(mysql_server, db_user) == sessions


def test_a_connection_killed_between_requests_is_replaced_without_an_error(
    fresh_stack: LocalStack, client: CustomersClient, mysql_server: ServerAddress, db_user: str
):
    created = client.create()
    killed = kill_connections(mysql_server, db_user)
    assert killed, "the function should hold a connection between requests"

    response = client.call("GET", f"/{created['id']}")

    assert response.status == 200
    assert response.json() == created
    assert connection_ids(mysql_server, db_user)
    assert not killed & connection_ids(mysql_server, db_user)


def test_a_write_on_a_killed_connection_is_retried_once_and_stored_once(
    client: CustomersClient, mysql_server: ServerAddress, db_user: str
):
    client.create()
    kill_connections(mysql_server, db_user)
    email = unique_email()

    response = client.call("POST", body={"name": "After the kill", "email": email})

    assert response.status == 201
    assert [c["email"] for c in client.list_all()].count(email) == 1


def test_a_rotated_password_costs_one_forced_secret_read_and_no_failed_request(
    fresh_stack: LocalStack,
    client: CustomersClient,
    mysql_server: ServerAddress,
    db_user: str,
    db_secret_arn: str,
):
    # Given a warm function holding a connection and a cached secret
    created = client.create()
    before = secret_reads(fresh_stack, db_secret_arn)
    # When the password is rotated (in MySQL, then in the secret, as the rotation
    # function does) and the old session ends (e.g. wait_timeout, a restart)
    document = secret_document(fresh_stack)
    new_password = uuid.uuid4().hex
    change_password(mysql_server, db_user, new_password)
    put_secret_document(fresh_stack, document | {"password": new_password})
    kill_connections(mysql_server, db_user)

    response = client.call("GET", f"/{created['id']}")

    # Then the request succeeds after exactly one read of the database secret
    assert response.status == 200
    assert secret_reads(fresh_stack, db_secret_arn) == before + 1
    # and the next ones are served from the cache and the new connection
    assert client.call("GET", f"/{created['id']}").status == 200
    assert secret_reads(fresh_stack, db_secret_arn) == before + 1


def test_a_rotation_does_not_disturb_an_open_connection(
    fresh_stack: LocalStack,
    client: CustomersClient,
    mysql_server: ServerAddress,
    db_user: str,
    db_secret_arn: str,
):
    created = client.create()
    before = secret_reads(fresh_stack, db_secret_arn)
    new_password = uuid.uuid4().hex
    change_password(mysql_server, db_user, new_password)
    put_secret_document(fresh_stack, secret_document(fresh_stack) | {"password": new_password})

    assert client.call("GET", f"/{created['id']}").status == 200
    assert secret_reads(fresh_stack, db_secret_arn) == before


def test_access_denied_with_no_newer_secret_is_a_503_not_a_500(
    fresh_stack: LocalStack, client: CustomersClient, mysql_server: ServerAddress, db_user: str
):
    # The seconds of a single-user rotation between setSecret (MySQL has the new
    # password) and finishSecret (the secret's current version has it).
    created = client.create()
    change_password(mysql_server, db_user, uuid.uuid4().hex)
    kill_connections(mysql_server, db_user)

    response = client.call("GET", f"/{created['id']}")

    assert response.status == 503
    assert response.headers["Retry-After"] == "1"
    assert response.json() == {"message": "the database is unavailable, retry shortly"}


@pytest.fixture
def proxied(fresh_stack: LocalStack, mysql_server: ServerAddress) -> Iterator[TcpProxy]:
    """The stack's secret points at a proxy in front of MySQL (before the first request)."""
    proxy = TcpProxy((mysql_server.host, mysql_server.port))
    put_secret_document(
        fresh_stack, secret_document(fresh_stack) | {"host": "127.0.0.1", "port": proxy.port}
    )
    yield proxy
    proxy.close()


def test_an_unreachable_database_is_a_503_and_service_recovers_by_itself(
    proxied: TcpProxy, client: CustomersClient
):
    created = client.create()

    proxied.cut()
    outage = [client.call("GET", f"/{created['id']}"), client.call("GET")]
    proxied.restore()
    after = client.call("GET", f"/{created['id']}")

    for response in outage:
        assert response.status == 503
        assert response.headers["Content-Type"] == "application/json"
        assert response.json() == {"message": "the database is unavailable, retry shortly"}
        assert "127.0.0.1" not in response.body.decode()
        assert "cannot connect to the database" in response.logs
    assert after.status == 200
    assert after.json() == created


def test_a_cold_start_during_an_outage_is_a_503_then_recovers(
    proxied: TcpProxy, client: CustomersClient
):
    proxied.cut()

    during = client.call("POST", body={"name": "Ada", "email": unique_email()})
    proxied.restore()
    after = client.call("POST", body={"name": "Ada", "email": unique_email()})

    assert during.status == 503
    assert during.json()["message"]
    assert after.status == 201


UNAVAILABLE = {"message": "the database is unavailable, retry shortly"}


def test_a_database_that_never_answers_is_a_503_with_retry_after(
    proxied: TcpProxy, client: CustomersClient
):
    """MySQL behind a blackhole: packets vanish, nothing is refused, nothing is closed.

    Only the function's own timeouts can end the wait: the read timeout on the open
    connection, the read timeout on a new connection whose handshake completes but whose
    server greeting never comes, and the connect timeout when even the TCP handshake gets
    no answer. Each must end the request with our 503 and `Retry-After`, so the client
    hears from the function, not from API Gateway's 29 s integration timeout (a 504) or
    the function's own (a 502); that they fit in the function's budget is the next test.

    Mutation caught: without `read_timeout` in `Database._open_with`
    (customer_platform/database.py) pymysql waits until the Lambda runtime emulator stops
    the function at its Timeout, and the client gets API Gateway's 502 instead of the 503;
    so does a connect timeout longer than the function's.
    """
    budget = load_template().transformed["Resources"]["CustomersRdsFunction"]["Properties"][
        "Timeout"
    ]
    created = client.create()  # a warm connection through the proxy

    def timed_get() -> tuple[Any, float]:
        started = time.monotonic()
        response = client.call("GET", f"/{created['id']}")
        return response, time.monotonic() - started

    proxied.blackhole()
    on_the_open_connection = timed_get()
    on_a_new_connection = timed_get()
    proxied.blackhole(handshake=False)
    on_connect = timed_get()
    proxied.restore()
    after = client.call("GET", f"/{created['id']}")

    for response, seconds in (on_the_open_connection, on_a_new_connection, on_connect):
        assert response.status == 503, response.body
        assert response.headers["Retry-After"] == "1"
        assert response.json() == UNAVAILABLE
        # within the function's budget, so well before API Gateway's 29 s
        assert seconds < budget < 29
    assert after.status == 200
    assert after.json() == created


@pytest.mark.parametrize(
    "function", ["CustomersRdsFunction", "OutboxRelayFunction", "PartnerWriterFunction"]
)
def test_the_database_timeouts_fit_in_the_function_timeout(function: str):
    """The longest a blackhole can hold a unit of work: a connect that just makes it
    (up to the connect timeout), then a read that never returns (the read timeout). Each
    timeout ends the work with Unavailable, never a retry, and a point query's few bytes
    fit in the socket buffer, so the write timeout never waits. That sum must stay under
    the function's Timeout in template.yaml, or the function would be killed mid-request
    and the client would get a 502 instead of a 503 with Retry-After.

    Mutation caught: `Timeouts.read = 9.0` (or a function Timeout of 7 s) fails it.
    """
    timeouts = Timeouts()  # what secret_database() gives each of these functions
    template = load_template()

    budget = template.transformed["Resources"][function]["Properties"]["Timeout"]

    assert timeouts.connect + timeouts.read < budget


@pytest.mark.parametrize(
    ("name", "email"),
    [
        ("Robert'); DROP TABLE customers;--", "bobby@example.com"),
        ("x' OR '1'='1", "x'or'1'='1@example.com"),
        ('"; SELECT SLEEP(5); --', "sleep@example.com"),
        ("\\'; UPDATE customers SET name='pwned' WHERE 1=1; --", "o'brien@example.com"),
        ("%s %(name)s {0} ${x} `id`", "percent@example.com"),
        ("名前 😀 NUL\x00 end", "emoji@example.com"),
    ],
    ids=["drop-table", "or-true", "sleep", "escaped-quote", "format-markers", "unicode-nul"],
)
def test_sql_injection_strings_are_stored_and_returned_literally(
    client: CustomersClient, name: str, email: str
):
    email = email.replace("@", f"+{uuid.uuid4().hex[:8]}@")
    bystander = client.create(name="Bystander")

    created = client.call("POST", body={"name": name, "email": email})

    assert created.status == 201, created.body
    assert created.json()["name"] == name.strip()
    assert created.json()["email"] == email
    fetched = client.call("GET", f"/{created.json()['id']}").json()
    assert fetched["name"] == name.strip()
    assert fetched["email"] == email
    assert client.call("GET", f"/{bystander['id']}").json() == bystander
    assert len(client.list_all()) == 2
