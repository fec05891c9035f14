"""/django/customers beyond the shared contract suite: what Django itself would do
differently, and the database path, as a client sees them.

The contract suite (tests/contract) already runs on this backend; here are the promises
that are Django's to break: its defaults against the contract's answers, its ORM against
the SQL schema, transaction.atomic against the outbox, the optimistic concurrency check,
and Django's persistent connection against a killed session and a rotated password.
Faults run on a private stack (its own database and user), deployed once for the module.
"""

import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local_stack.assembly.stack import LocalStack
from local_stack.services.apigateway import ApiResponse
from local_stack.services.endpoint import AwsEndpoint
from local_stack.services.mysql import ServerAddress, quote_identifier
from tests.conftest import deploy
from tests.support.customers import CustomersClient, unique_email
from tests.support.django_project import django_project
from tests.support.mysql import (
    APPLICATION_SECRET,
    admin,
    change_password,
    connection_ids,
    kill_connections,
    put_secret_document,
    secret_document,
    secret_reads,
)
from tests.support.polling import rounds

FUNCTION = "CustomersDjangoFunction"


@pytest.fixture(scope="module")
def private(
    aws: AwsEndpoint, mysql_server: ServerAddress, function_logs: Path
) -> Iterator[LocalStack]:
    """A stack of its own: these tests kill its user's sessions and change its password."""
    deployed = deploy(aws, function_logs, f"t-django-{uuid.uuid4().hex[:8]}")
    yield deployed
    deployed.close()


@pytest.fixture
def client(private: LocalStack) -> CustomersClient:
    return CustomersClient(private.api, "django")


def db_user(stack: LocalStack) -> str:
    return str(secret_document(stack)["username"])


def outbox_rows(stack: LocalStack, server: ServerAddress, mention: str) -> list[dict[str, Any]]:
    """The outbox events that mention `mention` (a customer id, an email), oldest first."""
    table = f"{quote_identifier(secret_document(stack)['dbname'])}.customer_events_outbox"
    with admin(server) as cursor:
        cursor.execute(
            f"SELECT payload FROM {table} WHERE payload LIKE %s ORDER BY id",  # noqa: S608
            (f"%{mention}%",),
        )
        return [json.loads(payload) for (payload,) in cursor.fetchall()]


# -- Django's defaults against the contract ----------------------------------------------------


def _outcome(response: ApiResponse) -> tuple[int, str, Any]:
    """Status, content type, and the body's fields (or its first bytes, if not JSON)."""
    content_type = response.headers.get("Content-Type", "")
    if content_type != "application/json" or not response.body:
        return response.status, content_type, response.body[:40]
    return response.status, content_type, set(response.json())


@pytest.mark.parametrize(
    ("method", "suffix", "headers", "why"),
    [
        ("POST", "/", {}, "APPEND_SLASH: a trailing slash would be a 301 (or a 404)"),
        ("GET", "/{id}/", {}, "a trailing slash on an item"),
        ("GET", "", {"Accept": "text/html"}, "DRF's content negotiation: 406 for HTML"),
        ("POST", "", {"Content-Type": "multipart/form-data; boundary=x"}, "415 for a form"),
        ("OPTIONS", "", {}, "DRF's OPTIONS: a 200 describing the view, docstrings included"),
        ("HEAD", "", {}, "Django answers HEAD as GET"),
        ("GET", "/a%2Fb", {}, "a path Django does not route: its HTML 404 page"),
    ],
    ids=[
        "trailing-slash",
        "item-trailing-slash",
        "accept-html",
        "form",
        "options",
        "head",
        "unrouted",
    ],
)
def test_where_django_would_answer_differently_it_answers_as_the_rds_backend(
    stack: LocalStack, method: str, suffix: str, headers: dict[str, str], why: str
):
    """Catches, for each case, the Django default named in `why` coming back: URL patterns
    without the optional slash, DRF's default content negotiation (406) and parsers (415),
    views that serve every method Django and DRF implement (OPTIONS 200, HEAD as GET),
    Django's HTML 404 page."""
    # Given the same customer behind both APIs (one table), and the same request for each
    created = CustomersClient(stack.api, "rds").create()

    def send(backend: str) -> ApiResponse:
        path = f"/{backend}/customers" + suffix.replace("{id}", created["id"])
        body = json.dumps({"name": "Ada", "email": unique_email()}) if method == "POST" else None
        return stack.api.request(method, path, body=body, headers=headers)

    # When each backend answers it
    rds, django = send("rds"), send("django")

    # Then Django's answer is the contract's, as the RDS backend's is: status, JSON, fields
    assert _outcome(django) == _outcome(rds), (why, django.body, rds.body)
    assert django.headers["Content-Type"] == "application/json", why


def test_the_orm_models_match_the_tables_the_sql_migrations_made(
    stack: LocalStack, mysql_server: ServerAddress
):
    """Catches: a model field whose length, nullability, key or type drifts from the SQL
    (the migrations are the schema's one source; `managed = False` keeps Django off it), or
    a NOT NULL column without a default that the models would leave out of their INSERTs."""
    with django_project():
        from django_customers.models import CustomerRow, OutboxRow  # noqa: PLC0415

    schema = secret_document(stack)["dbname"]
    families = {
        "CharField": {"char", "varchar"},
        "DateTimeField": {"datetime"},
        "TextField": {"text"},
        "BigAutoField": {"bigint"},
    }
    for model in (CustomerRow, OutboxRow):
        assert model._meta.managed is False
        with admin(mysql_server) as cursor:
            cursor.execute(
                "SELECT COLUMN_NAME, DATA_TYPE, CHARACTER_MAXIMUM_LENGTH, IS_NULLABLE, "
                "COLUMN_KEY, COLUMN_DEFAULT, EXTRA FROM information_schema.COLUMNS "
                "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
                (schema, model._meta.db_table),
            )
            columns = {row[0]: row[1:] for row in cursor.fetchall()}
        fields = {field.column: field for field in model._meta.concrete_fields}

        for name, field in fields.items():
            data_type, length, nullable, key, _, extra = columns[name]
            assert data_type in families[type(field).__name__], (model.__name__, name)
            assert (nullable == "YES") == field.null, (model.__name__, name)
            if field.max_length is not None:
                assert length == field.max_length, (model.__name__, name)
            assert (key == "PRI") == field.primary_key, (model.__name__, name)
            assert (key == "UNI") == (field.unique and not field.primary_key), (
                model.__name__,
                name,
            )
            if type(field).__name__ == "BigAutoField":
                assert "auto_increment" in extra
        for name, (_, _, nullable, _, default, _) in columns.items():
            if name not in fields:  # e.g. partner_id, the partner sync's
                assert nullable == "YES" or default is not None, (model.__name__, name)


# -- transaction.atomic and the outbox ------------------------------------------------------


def test_each_accepted_change_writes_one_django_event_and_a_refused_one_none(
    stack: LocalStack, mysql_server: ServerAddress
):
    """Catches: the outbox write moved out of the transaction (a refused duplicate would leave
    an event behind, or a failed write lose one), an event per change other than one, or
    events that do not name the API that made them."""
    customers = CustomersClient(stack.api, "django")
    # Given a customer created, updated and deleted through Django, with a refused create
    # (duplicate email) and a refused update (duplicate email) in between
    taken = customers.create()
    created = customers.create()
    path = f"/{created['id']}"
    assert customers.call("POST", body={"name": "Twin", "email": created["email"]}).status == 409
    assert customers.call("PUT", path, {"name": "x", "email": taken["email"]}).status == 409
    assert customers.call("PUT", path, {"name": "Renamed", "email": unique_email()}).status == 200
    assert customers.call("DELETE", path).status == 204

    # When the outbox is read as the relay reads it
    events = outbox_rows(stack, mysql_server, created["id"])

    # Then there is exactly one event per accepted change, each the Django API's
    assert [e["eventType"] for e in events] == [
        "CustomerCreated",
        "CustomerUpdated",
        "CustomerDeleted",
    ]
    assert {e["backend"] for e in events} == {"django"}
    assert events[1]["customer"]["name"] == "Renamed"
    # and the refused changes left none: the twin (a customer of its own) and the update
    # to the taken address appear in no event
    assert [e["customerId"] for e in outbox_rows(stack, mysql_server, created["email"])] == [
        created["id"]
    ]
    assert [e["customerId"] for e in outbox_rows(stack, mysql_server, taken["email"])] == [
        taken["id"]
    ]


def test_an_update_that_lost_a_race_is_a_409_and_overwrites_nothing(
    client: CustomersClient, private: LocalStack, mysql_server: ServerAddress
):
    """Catches: the UPDATE no longer conditioned on the `updated_at` that was read (the
    request would silently overwrite the other writer's change with a 200)."""
    created = client.create()
    user = db_user(private)
    table = f"{quote_identifier(secret_document(private)['dbname'])}.customers"
    other = mysql_server.connect()
    outcome: list[ApiResponse] = []
    try:
        # Given another writer holding the row locked
        with other.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute(f"SELECT * FROM {table} WHERE id = %s FOR UPDATE", (created["id"],))  # noqa: S608

            # When Django has read the row and its UPDATE waits for the lock
            body = {"name": "Mine", "email": created["email"]}
            worker = threading.Thread(
                target=lambda: outcome.append(client.call("PUT", f"/{created['id']}", body))
            )
            worker.start()
            for _ in rounds("Django's UPDATE to wait for the row lock", 300):
                with admin(mysql_server) as watch:
                    watch.execute(
                        "SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                        "WHERE USER = %s AND INFO LIKE 'UPDATE %%'",
                        (user,),
                    )
                    if watch.fetchone()[0]:
                        break
                time.sleep(0.05)
            # and the other writer changes the row and commits first
            cursor.execute(
                f"UPDATE {table} SET name = 'Theirs', "  # noqa: S608
                "updated_at = updated_at + INTERVAL 1 SECOND WHERE id = %s",
                (created["id"],),
            )
            cursor.execute("COMMIT")
        worker.join(timeout=60)
    finally:
        other.close()

    # Then Django's request is told it lost (409), and the other writer's change stands
    assert [response.status for response in outcome] == [409], [r.body for r in outcome]
    assert client.call("GET", f"/{created['id']}").json()["name"] == "Theirs"
    assert [e["eventType"] for e in outbox_rows(private, mysql_server, created["id"])] == [
        "CustomerCreated"
    ]


# -- Django's persistent connection ---------------------------------------------------------


def test_warm_requests_reuse_the_connection_and_read_no_secret(
    client: CustomersClient, private: LocalStack, mysql_server: ServerAddress
):
    """Catches: CONN_MAX_AGE back to Django's default of 0 (a new connection, TLS handshake
    and login for every request) or the secret read per connection instead of cached."""
    created = client.create()  # cold: the secrets read, the connection opened
    client.call("GET", query={"limit": "1"})  # and the page token key
    arn = private.cloud.physical_id(APPLICATION_SECRET)
    reads = secret_reads(private, arn, FUNCTION)
    sessions = connection_ids(mysql_server, db_user(private))
    assert sessions, "the function should keep its connection between requests"

    for _ in range(3):
        assert client.call("GET", f"/{created['id']}").status == 200
        assert client.call("GET", query={"limit": "1"}).status == 200

    assert secret_reads(private, arn, FUNCTION) == reads
    assert connection_ids(mysql_server, db_user(private)) == sessions


def test_a_connection_killed_between_requests_is_replaced_before_the_next_query(
    client: CustomersClient, private: LocalStack, mysql_server: ServerAddress
):
    """Catches: CONN_HEALTH_CHECKS off (the first query after the kill would fail: a 503)."""
    created = client.create()
    killed = kill_connections(mysql_server, db_user(private))
    assert killed, "the function should keep its connection between requests"

    write = client.call("PUT", f"/{created['id']}", {"name": "After", "email": unique_email()})

    assert write.status == 200, write.body
    assert not killed & connection_ids(mysql_server, db_user(private))


def test_a_rotated_password_costs_one_forced_secret_read_and_no_failed_request(
    client: CustomersClient, private: LocalStack, mysql_server: ServerAddress
):
    """Catches: the Django backend connecting without connect_rotation_safe (the cached
    password would fail until the cache expires: 503s for up to SECRET_MAX_AGE)."""
    # Given a warm function holding a connection and a cached secret
    created = client.create()
    arn = private.cloud.physical_id(APPLICATION_SECRET)
    before = secret_reads(private, arn, FUNCTION)
    # When the password is rotated (in MySQL, then in the secret) and the session ends
    user = db_user(private)
    new_password = uuid.uuid4().hex
    change_password(mysql_server, user, new_password)
    put_secret_document(private, secret_document(private) | {"password": new_password})
    kill_connections(mysql_server, user)

    response = client.call("GET", f"/{created['id']}")

    # Then the request succeeds after exactly one read of the database secret
    assert response.status == 200, response.body
    assert secret_reads(private, arn, FUNCTION) == before + 1
    assert client.call("GET", f"/{created['id']}").status == 200
    assert secret_reads(private, arn, FUNCTION) == before + 1
