"""The application connects as its own least-privilege database user, which the migrations
create (as the master) from its secret; its alternating-users rotation never fails a
request. Everything is observed at the MySQL server: grants, sessions, refusals."""

import contextlib
from collections.abc import Iterator
from typing import Any

import pymysql
import pytest

from customer_platform.migrations.application_user import alternating_users
from local_stack.assembly.stack import LocalStack
from local_stack.services.mysql import ServerAddress, connect_with
from tests.support.customers import CustomersClient
from tests.support.mysql import (
    MASTER_SECRET,
    admin,
    connection_ids,
    kill_connections,
    local_tls,
    secret_document,
)
from tests.support.rotation import AlternatingRotation

MIGRATIONS = "DatabaseMigrationsFunction"
ER_TABLEACCESS_DENIED = 1142
ER_DBACCESS_DENIED = 1044
ER_SPECIFIC_ACCESS_DENIED = 1227


def grants(server: ServerAddress, user: str) -> set[str]:
    """The user's privileges per object, as `SHOW GRANTS` lists them (quotes dropped)."""
    with admin(server) as cursor:
        cursor.execute("SHOW GRANTS FOR %s@'%%'", (user,))
        found = set()
        for (grant,) in cursor.fetchall():
            privileges, _, target = grant.removeprefix("GRANT ").partition(" ON ")
            found.add(f"{privileges} ON {target.split(' TO ')[0].replace('`', '')}")
        return found


# What the application's statements need (written out here, not read from the code under
# test): DML on the customers table and on the outbox, nothing else anywhere.
NEEDED = {
    "customers": "SELECT, INSERT, UPDATE, DELETE",
    "customer_events_outbox": "SELECT, INSERT, UPDATE, DELETE",
}


def expected_grants(dbname: str) -> set[str]:
    return {"USAGE ON *.*"} | {f"{needed} ON {dbname}.{table}" for table, needed in NEEDED.items()}


@contextlib.contextmanager
def connected_as(document: dict[str, Any]) -> Iterator[Any]:
    connection = connect_with(document, local_tls())
    with contextlib.closing(connection), connection.cursor() as cursor:
        yield cursor


def refused(cursor: Any, statement: str) -> int:
    with pytest.raises(pymysql.MySQLError) as error:
        cursor.execute(statement)
    code: int = error.value.args[0]
    return code


# -- who connects, with what ----------------------------------------------------------------


def test_the_migrations_grant_both_alternating_users_exactly_what_the_statements_need(
    stack: LocalStack, mysql_server: ServerAddress
):
    """Mutation caught: widening PRIVILEGES or the GRANT (e.g. ON db.*, ALL PRIVILEGES), or
    granting only the user the secret names (the rotation's other user would lack them)."""
    document = secret_document(stack)

    for user in alternating_users(document["username"]):
        assert grants(mysql_server, user) == expected_grants(document["dbname"]), user


def test_the_application_user_cannot_change_the_schema_or_touch_anything_else(
    stack: LocalStack,
):
    with connected_as(secret_document(stack)) as cursor:
        assert refused(cursor, "DROP TABLE customers") == ER_TABLEACCESS_DENIED
        assert refused(cursor, "ALTER TABLE customers ADD COLUMN x INT") == ER_TABLEACCESS_DENIED
        assert refused(cursor, "CREATE TABLE stolen (id INT)") == ER_TABLEACCESS_DENIED
        assert refused(cursor, "SELECT * FROM schema_migrations") == ER_TABLEACCESS_DENIED
        assert (
            refused(cursor, "CREATE USER intruder IDENTIFIED BY 'x'") == ER_SPECIFIC_ACCESS_DENIED
        )
        assert refused(cursor, "SELECT User FROM mysql.user") == ER_TABLEACCESS_DENIED
        cursor.execute("SELECT COUNT(*) FROM customers")  # and does what it is there for


def test_the_functions_connect_as_the_application_user_not_the_master(
    fresh_stack: LocalStack, mysql_server: ServerAddress
):
    """Mutation caught: pointing the functions' DATABASE_SECRET_ARN at the master secret."""
    application = secret_document(fresh_stack)["username"]
    master = secret_document(fresh_stack, MASTER_SECRET)["username"]
    kill_connections(mysql_server, master)  # the deploy's migrations ran as the master

    CustomersClient(fresh_stack.api, "rds").create()

    assert connection_ids(mysql_server, application)
    assert not connection_ids(mysql_server, master)
    assert master != application


def test_a_deploy_after_a_rotation_keeps_the_rotated_password_and_the_grants(
    fresh_stack: LocalStack, mysql_server: ServerAddress
):
    """Mutation caught: migrations that take the name the secret holds after a rotation
    (`<name>_clone`) for the first of the pair (they would fail the deploy)."""
    AlternatingRotation(fresh_stack, mysql_server).run()
    rotated = secret_document(fresh_stack)

    fresh_stack.function(MIGRATIONS).invoke({})  # the next deploy's custom resource

    with connected_as(rotated) as cursor:
        cursor.execute("SELECT COUNT(*) FROM customers")
    for user in alternating_users(rotated["username"]):
        assert grants(mysql_server, user) == expected_grants(rotated["dbname"]), user


# -- the alternating-users rotation, against a running function ---------------------------------


def test_an_alternating_users_rotation_never_fails_a_request(
    fresh_stack: LocalStack, mysql_server: ServerAddress
):
    """Every step of two rotations, each followed by the server ending the function's
    sessions (so each request must connect anew with what the function holds). Single-user
    rotation fails requests between its setSecret and finishSecret steps; this does not.
    Mutation caught: dropping the forced secret read on access denied (database.py): the
    second rotation changes the password the function still holds."""
    client = CustomersClient(fresh_stack.api, "rds")
    customer = client.create()
    base, clone = alternating_users(secret_document(fresh_stack)["username"])
    statuses: dict[str, int] = {}

    def request_after_reconnect(step: str) -> None:
        for user in (base, clone):
            kill_connections(mysql_server, user)
        statuses[step] = client.call("GET", f"/{customer['id']}").status

    for rotation_number in (1, 2):
        rotation = AlternatingRotation(fresh_stack, mysql_server)
        for step in ("create_secret", "set_secret", "test_secret", "finish_secret"):
            getattr(rotation, step)()
            request_after_reconnect(f"rotation {rotation_number}: {step}")

    assert set(statuses.values()) == {200}, sorted(statuses.items())
    assert secret_document(fresh_stack)["username"] == base, "two rotations: back to the first"
