"""CustomerRepository on Aurora MySQL through the RDS Data API (`customer_platform.data_api`).

The same table, schema and rules as the MySQL repository (customers/mysql.py): the primary
key is the customer id, a UNIQUE index on `email` turns a duplicate into a 409, listing is
keyset pagination on the id, and each change writes its event to the outbox in the same
transaction (events/data_api_outbox.py). What differs is the wire: every statement is an
HTTPS call with named, typed parameters (`:id`, never formatted into SQL), reads come back
as JSON objects (`formatRecordsAs=JSON`), and a change is a Data API transaction.

Two choices follow from calls that may be retried (data_api's docstring):

* An update or delete first locks the row (`SELECT ... FOR UPDATE`) and compares the
  `updated_at` it was given, then writes by id. The verdict (gone, changed, done) comes from
  the locked read, so an UPDATE or DELETE that botocore sends twice in the transaction
  cannot turn a success into a 404 or 409. One call more than the MySQL repository's
  conditional UPDATE, whose row count would carry the verdict.
* A COMMIT whose answer is lost is settled by looking for the change's outbox event (its id
  is new and written in the same transaction): found, the change committed; not found, it
  did not, and runs again.
"""

from collections.abc import Callable, Mapping
from typing import Literal

from customer_platform.customers.models import Customer
from customer_platform.customers.repository import Page
from customer_platform.data_api import DataApi, Retry, Row, SqlError, Transaction, Value
from customer_platform.data_api import parse_timestamp as _time
from customer_platform.errors import Conflict, NotFound
from customer_platform.events import data_api_outbox as outbox
from customer_platform.events.models import CustomerEvent
from customer_platform.events.outbox import new_event

ER_DUP_ENTRY = 1062
EMAIL_INDEX = "uq_customers_email"

_COLUMNS = "id, name, email, created_at, updated_at"
Outcome = Literal["done", "gone", "changed"]
OnCommitted = Callable[[list[CustomerEvent]], None]


def _customer(row: Row) -> Customer:
    return Customer(
        id=row["id"],
        name=row["name"],
        email=row["email"],
        created_at=_time(row["created_at"]),
        updated_at=_time(row["updated_at"]),
    )


def _values(customer: Customer) -> Mapping[str, Value]:
    return {
        "id": customer.id,
        "name": customer.name,
        "email": customer.email,
        "created_at": customer.created_at,
        "updated_at": customer.updated_at,
    }


def _write(transaction: Transaction, sql: str, customer: Customer) -> None:
    """A statement that may hit the email index: a duplicate email is a 409; a duplicate of
    anything else can only be this transaction's own row, sent twice, so start over."""
    try:
        transaction.execute(sql, _values(customer))
    except SqlError as error:
        if error.code != ER_DUP_ENTRY:
            raise
        if EMAIL_INDEX in error.message:
            raise Conflict(f"a customer with email {customer.email!r} already exists") from None
        raise Retry from error


def _lock(transaction: Transaction, previous: Customer) -> Outcome:
    """Lock the stored row; whether it is still `previous` (same transaction)."""
    rows = transaction.query(
        "SELECT updated_at FROM customers WHERE id = :id FOR UPDATE", {"id": previous.id}
    )
    if not rows:
        return "gone"
    return "done" if _time(rows[0]["updated_at"]) == previous.updated_at else "changed"


class DataApiCustomerRepository:
    def __init__(self, api: DataApi, on_committed: OnCommitted | None = None) -> None:
        """`on_committed` receives the events of each committed change (to publish them)."""
        self._api = api
        self._on_committed = on_committed

    # -- writes -------------------------------------------------------------------------

    def add(self, customer: Customer) -> None:
        event = new_event("CustomerCreated", customer, "aurora")

        def insert(transaction: Transaction) -> Outcome:
            _write(
                transaction,
                f"INSERT INTO customers ({_COLUMNS}) "  # noqa: S608 - constant columns
                "VALUES (:id, :name, :email, :created_at, :updated_at)",
                customer,
            )
            outbox.record(transaction, event)
            return "done"

        self._change(insert, event)

    def replace(self, customer: Customer, previous: Customer) -> None:
        event = new_event("CustomerUpdated", customer, "aurora")

        def update(transaction: Transaction) -> Outcome:
            found = _lock(transaction, previous)
            if found == "done":
                _write(
                    transaction,
                    "UPDATE customers SET name = :name, email = :email, "
                    "updated_at = :updated_at WHERE id = :id",
                    customer,
                )
                outbox.record(transaction, event)
            return found

        self._change(update, event)

    def remove(self, customer: Customer) -> None:
        event = new_event("CustomerDeleted", customer, "aurora")

        def delete(transaction: Transaction) -> Outcome:
            found = _lock(transaction, customer)
            if found == "done":
                transaction.execute("DELETE FROM customers WHERE id = :id", {"id": customer.id})
                outbox.record(transaction, event)
            return found

        self._change(delete, event)

    def _change(self, work: Callable[[Transaction], Outcome], event: CustomerEvent) -> None:
        outcome = self._api.transaction(
            work, committed=lambda: outbox.is_recorded(self._api, event.event_id)
        )
        if outcome == "gone":
            raise NotFound(f"customer {event.customer_id!r} not found")
        if outcome == "changed":
            raise Conflict("the customer was changed by another request; read it again and retry")
        if self._on_committed is not None:
            self._on_committed([event])

    # -- reads --------------------------------------------------------------------------

    def get(self, customer_id: str) -> Customer | None:
        rows = self._api.query(
            f"SELECT {_COLUMNS} FROM customers WHERE id = :id",  # noqa: S608 - constant
            {"id": customer_id},
        )
        return _customer(rows[0]) if rows else None

    def list(self, limit: int, after: str | None) -> Page:
        # One row more than asked: if it comes back, there is a next page (as for MySQL).
        if after is None:
            rows = self._api.query(
                f"SELECT {_COLUMNS} FROM customers ORDER BY id LIMIT :limit",  # noqa: S608
                {"limit": limit + 1},
            )
        else:
            rows = self._api.query(
                f"SELECT {_COLUMNS} FROM customers WHERE id > :after "  # noqa: S608
                "ORDER BY id LIMIT :limit",
                {"after": after, "limit": limit + 1},
            )
        items = [_customer(row) for row in rows]
        if len(items) > limit:
            return Page(items=items[:limit], last_id=items[limit - 1].id)
        return Page(items=items, last_id=None)
