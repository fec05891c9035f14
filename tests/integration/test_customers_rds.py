"""The MySQL backend beneath the contract: the schema the migrations create, the unique
index behind 409, keyset pagination, optimistic concurrency, and failures that stay inside
the function."""

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from customer_platform.customers.models import Customer, new_customer_id
from customer_platform.customers.mysql import MySQLCustomerRepository
from customer_platform.database import Credentials, Database
from customer_platform.errors import Conflict, NotFound
from local_stack.assembly.stack import LocalStack
from local_stack.services.mysql import ServerAddress, quote_identifier
from tests.support.customers import CustomersClient, unique_email
from tests.support.mysql import MASTER_SECRET, admin, database_for, secret_document
from tests.support.polling import rounds


@pytest.fixture
def client(stack: LocalStack) -> CustomersClient:
    return CustomersClient(stack.api, "rds")


@pytest.fixture
def credentials(stack: LocalStack) -> Credentials:
    return Credentials.from_secret(json.dumps(secret_document(stack)))


@pytest.fixture
def db(credentials: Credentials) -> Iterator[Database]:
    database = database_for(credentials)
    yield database
    database.close()


@pytest.fixture
def repo(db: Database) -> MySQLCustomerRepository:
    return MySQLCustomerRepository(db)


def a_customer(email: str | None = None) -> Customer:
    now = datetime.now(UTC).replace(microsecond=123000)
    return Customer(
        id=new_customer_id(),
        name="Ada",
        email=email or unique_email(),
        created_at=now,
        updated_at=now,
    )


def test_the_secret_is_in_the_rds_format(stack: LocalStack):
    document = secret_document(stack)

    assert {"username", "password", "host", "port", "dbname", "engine"} <= set(document)
    assert document["engine"] == "mysql"


def test_the_schema_is_the_one_the_migrations_declare(db: Database):
    def describe(cursor) -> dict[str, object]:
        cursor.execute(
            "SELECT COLUMN_NAME, COLUMN_TYPE, CHARACTER_SET_NAME FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'customers' ORDER BY ORDINAL_POSITION"
        )
        columns = {name: (kind, charset) for name, kind, charset in cursor.fetchall()}
        cursor.execute(
            "SELECT INDEX_NAME, NON_UNIQUE, COLUMN_NAME FROM information_schema.STATISTICS "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'customers'"
        )
        return {"columns": columns, "indexes": set(cursor.fetchall())}

    schema = db.run(describe)

    assert schema["columns"] == {
        "id": ("char(36)", "ascii"),
        "partner_id": ("varchar(64)", "ascii"),
        "name": ("varchar(100)", "utf8mb4"),
        "email": ("varchar(254)", "utf8mb4"),
        "created_at": ("datetime(3)", None),
        "updated_at": ("datetime(3)", None),
    }
    assert schema["indexes"] == {
        ("PRIMARY", 0, "id"),
        ("uq_customers_email", 0, "email"),
        ("uq_customers_partner_id", 0, "partner_id"),
    }


def test_timestamps_keep_their_milliseconds_and_utc(repo: MySQLCustomerRepository):
    customer = a_customer()
    repo.add(customer)

    assert repo.get(customer.id) == customer


def test_two_concurrent_creates_with_one_email_leave_exactly_one_customer(
    credentials: Credentials, repo: MySQLCustomerRepository
):
    email = unique_email()
    outcomes: list[str] = []
    start = threading.Barrier(4)

    def create() -> None:
        db = database_for(credentials)
        start.wait()
        try:
            MySQLCustomerRepository(db).add(a_customer(email))
            outcomes.append("created")
        except Conflict:
            outcomes.append("conflict")
        finally:
            db.close()

    threads = [threading.Thread(target=create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["conflict", "conflict", "conflict", "created"]


def test_a_page_token_survives_the_deletion_of_the_row_it_points_at(client: CustomersClient):
    # Keyset pagination resumes after an id, not at an offset: deleting rows on earlier
    # pages neither repeats nor skips anything on later ones.
    mine = {client.create()["id"] for _ in range(6)}
    first = client.call("GET", query={"limit": "2"}).json()
    for item in first["items"]:
        assert client.call("DELETE", f"/{item['id']}").status == 204

    rest: list[str] = []
    page = first
    for _ in rounds("a page without nextToken"):
        if page["nextToken"] is None:
            break
        page = client.call("GET", query={"limit": "2", "nextToken": page["nextToken"]}).json()
        rest.extend(item["id"] for item in page["items"])

    assert len(rest) == len(set(rest))
    seen_mine = mine & ({item["id"] for item in first["items"]} | set(rest))
    assert seen_mine == mine


def test_a_token_from_the_dynamodb_list_is_refused_by_the_rds_list(stack: LocalStack):
    dynamodb, rds = CustomersClient(stack.api, "dynamodb"), CustomersClient(stack.api, "rds")
    dynamodb.create()
    dynamodb.create()
    token = dynamodb.call("GET", query={"limit": "1"}).json()["nextToken"]

    assert rds.call("GET", query={"nextToken": token}).status == 400


def test_replace_with_a_stale_read_is_a_conflict(
    client: CustomersClient, repo: MySQLCustomerRepository
):
    created = client.create()
    stale = repo.get(created["id"])
    assert stale is not None
    client.call("PUT", f"/{created['id']}", {"name": "Winner", "email": created["email"]})

    with pytest.raises(Conflict):
        repo.replace(stale.model_copy(update={"name": "Loser"}), previous=stale)

    assert client.call("GET", f"/{created['id']}").json()["name"] == "Winner"


def test_remove_with_a_stale_read_is_a_conflict(
    client: CustomersClient, repo: MySQLCustomerRepository
):
    """As on DynamoDB: the delete is conditioned on the updatedAt the request read.

    Mutation caught: `AND updated_at = %s` removed from the DELETE
    (customer_platform/customers/mysql.py `remove`): the changed customer is deleted."""
    created = client.create()
    stale = repo.get(created["id"])
    assert stale is not None
    client.call("PUT", f"/{created['id']}", {"name": "Winner", "email": created["email"]})

    with pytest.raises(Conflict):
        repo.remove(stale)

    assert client.call("GET", f"/{created['id']}").json()["name"] == "Winner"


def outbox_events(stack: LocalStack, customer_id: str) -> list[str]:
    """The event types the outbox holds for a customer, oldest first."""
    assert stack.database is not None
    with stack.database.admin() as cursor:
        cursor.execute(
            f"SELECT event_type FROM `{stack.database.name}`.customer_events_outbox "  # noqa: S608
            "WHERE customer_id = %s ORDER BY id",
            (customer_id,),
        )
        return [row[0] for row in cursor.fetchall()]


def test_an_update_that_is_refused_writes_no_event(
    stack: LocalStack, client: CustomersClient, repo: MySQLCustomerRepository
):
    """A 409 (the customer changed since it was read) and a 404 (it is gone) change
    nothing, so they must announce nothing: the outbox gets no CustomerUpdated.

    Mutation caught: the event recorded whatever the outcome in
    customer_platform/customers/mysql.py `replace` (the row count kept, `outbox.record`,
    then the check): the event of an update that did not happen is committed with the
    refusal. (Moving `outbox.record` above the check also breaks the stale-read test,
    because the count read is then the outbox insert's.)"""
    created = client.create()
    stale = repo.get(created["id"])
    assert stale is not None
    client.call("PUT", f"/{created['id']}", {"name": "Winner", "email": created["email"]})

    with pytest.raises(Conflict):
        repo.replace(stale.model_copy(update={"name": "Loser"}), previous=stale)
    client.call("DELETE", f"/{created['id']}")
    with pytest.raises(NotFound):
        repo.replace(stale.model_copy(update={"name": "Ghost"}), previous=stale)

    assert outbox_events(stack, created["id"]) == [
        "CustomerCreated",
        "CustomerUpdated",
        "CustomerDeleted",
    ]


def test_a_customer_and_its_event_commit_together_or_not_at_all(
    fresh_stack: LocalStack, mysql_server: ServerAddress
):
    """Given the outbox table out of reach (its insert fails inside the transaction), a
    create fails whole: no customer without its event.

    Mutation caught: the outbox row written in a transaction of its own after the
    customer's (customer_platform/customers/mysql.py `add`): the customer is stored, its
    event never."""
    client = CustomersClient(fresh_stack.api, "rds")
    assert fresh_stack.database is not None
    database = quote_identifier(fresh_stack.database.name)
    email = unique_email()
    with admin(mysql_server) as cursor:
        cursor.execute(f"RENAME TABLE {database}.customer_events_outbox TO {database}.outbox_away")
    try:
        refused = client.call("POST", body={"name": "Ada", "email": email})
    finally:
        with admin(mysql_server) as cursor:
            cursor.execute(
                f"RENAME TABLE {database}.outbox_away TO {database}.customer_events_outbox"
            )

    assert refused.status == 500
    assert [c for c in client.list_all() if c["email"] == email] == []
    assert client.call("POST", body={"name": "Ada", "email": email}).status == 201


def test_replace_and_remove_of_a_vanished_customer_are_not_found(
    client: CustomersClient, repo: MySQLCustomerRepository
):
    created = client.create()
    customer = repo.get(created["id"])
    assert isinstance(customer, Customer)
    client.call("DELETE", f"/{created['id']}")

    with pytest.raises(NotFound):
        repo.replace(customer.model_copy(update={"name": "x"}), previous=customer)
    with pytest.raises(NotFound):
        repo.remove(customer)


def test_an_unexpected_failure_is_a_generic_500_that_names_nothing(fresh_stack: LocalStack):
    master = secret_document(fresh_stack, MASTER_SECRET)  # the application may not DROP
    db = database_for(Credentials.from_secret(json.dumps(master)))
    db.run(lambda cursor: cursor.execute("DROP TABLE customers"))
    db.close()

    response = CustomersClient(fresh_stack.api, "rds").call(
        "POST", body={"name": "Ada", "email": unique_email()}
    )

    assert response.status == 500
    assert response.json() == {"message": "internal server error"}
    assert "customers" not in response.body.decode()
    assert "ProgrammingError" in response.logs, "the cause belongs in the logs"
