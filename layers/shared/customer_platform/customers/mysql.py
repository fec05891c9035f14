"""CustomerRepository on MySQL (RDS), through pymysql.

One table (migrations/0001_create_customers.sql): the primary key is the customer id and a
UNIQUE index on `email` makes a duplicate a 409, race-free, with no second item to keep in
step as DynamoDB needs. Every statement is parameterised (`%s`, escaped by the driver);
no value is ever formatted into SQL text.

Listing is keyset pagination: `WHERE id > :after ORDER BY id LIMIT n + 1` walks the primary
key, so page 1000 costs what page 1 costs and a row inserted or deleted meanwhile neither
repeats nor skips the others (OFFSET would do both). Writes are conditioned on the
`updated_at` that was read, so a concurrent writer is detected instead of overwritten.
Each change writes its event to the outbox in the same transaction (events/outbox.py).
"""

from datetime import UTC, datetime

import pymysql
from pymysql.cursors import Cursor

from customer_platform.customers.models import Customer
from customer_platform.customers.repository import Page
from customer_platform.database import Database, error_code
from customer_platform.errors import Conflict, NotFound
from customer_platform.events import outbox

ER_DUP_ENTRY = 1062
EMAIL_INDEX = "uq_customers_email"

_COLUMNS = "id, name, email, created_at, updated_at"
_Row = tuple[str, str, str, datetime, datetime]


def _db_time(value: datetime) -> datetime:
    """DATETIME columns hold naive UTC; the API's datetimes are aware."""
    return value.astimezone(UTC).replace(tzinfo=None)


def _customer(row: _Row) -> Customer:
    customer_id, name, email, created_at, updated_at = row
    return Customer(
        id=customer_id,
        name=name,
        email=email,
        created_at=created_at.replace(tzinfo=UTC),
        updated_at=updated_at.replace(tzinfo=UTC),
    )


def is_duplicate_email(error: Exception) -> bool:
    """True for the UNIQUE email index's duplicate-key error: pymysql's IntegrityError, or a
    framework's that keeps its (code, message) arguments (Django's). Any other integrity
    error (a duplicate id would be a bug) stays a logged 500."""
    return error_code(error) == ER_DUP_ENTRY and EMAIL_INDEX in str(error)


def email_taken(email: str) -> Conflict:
    return Conflict(f"a customer with email {email!r} already exists")


class MySQLCustomerRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    # -- writes -------------------------------------------------------------------------

    def add(self, customer: Customer) -> None:
        def insert(cursor: Cursor) -> None:
            cursor.execute(
                f"INSERT INTO customers ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s)",  # noqa: S608
                (
                    customer.id,
                    customer.name,
                    customer.email,
                    _db_time(customer.created_at),
                    _db_time(customer.updated_at),
                ),
            )
            outbox.record(cursor, "CustomerCreated", customer)

        try:
            self._db.run(insert)
        except pymysql.IntegrityError as error:
            if not is_duplicate_email(error):
                raise
            raise email_taken(customer.email) from None

    def replace(self, customer: Customer, previous: Customer) -> None:
        def update(cursor: Cursor) -> str:
            cursor.execute(
                "UPDATE customers SET name = %s, email = %s, updated_at = %s "
                "WHERE id = %s AND updated_at = %s",
                (
                    customer.name,
                    customer.email,
                    _db_time(customer.updated_at),
                    customer.id,
                    _db_time(previous.updated_at),
                ),
            )
            if cursor.rowcount != 1:
                return _why_not(cursor, customer.id)
            outbox.record(cursor, "CustomerUpdated", customer)
            return "done"

        try:
            outcome = self._db.run(update)
        except pymysql.IntegrityError as error:
            if not is_duplicate_email(error):
                raise
            raise email_taken(customer.email) from None
        _raise_unless_done(outcome, customer.id)

    def remove(self, customer: Customer) -> None:
        def delete(cursor: Cursor) -> str:
            cursor.execute(
                "DELETE FROM customers WHERE id = %s AND updated_at = %s",
                (customer.id, _db_time(customer.updated_at)),
            )
            if cursor.rowcount != 1:
                return _why_not(cursor, customer.id)
            outbox.record(cursor, "CustomerDeleted", customer)
            return "done"

        _raise_unless_done(self._db.run(delete), customer.id)

    # -- reads --------------------------------------------------------------------------

    def get(self, customer_id: str) -> Customer | None:
        def select(cursor: Cursor) -> _Row | None:
            cursor.execute(
                f"SELECT {_COLUMNS} FROM customers WHERE id = %s",  # noqa: S608 - constant
                (customer_id,),
            )
            row: _Row | None = cursor.fetchone()
            return row

        row = self._db.run(select)
        return _customer(row) if row is not None else None

    def list(self, limit: int, after: str | None) -> Page:
        # One row more than asked: if it comes back, there is a next page and the last row
        # returned is where it starts. No COUNT(*), no empty trailing page.
        def select(cursor: Cursor) -> list[_Row]:
            if after is None:
                cursor.execute(
                    f"SELECT {_COLUMNS} FROM customers ORDER BY id LIMIT %s",  # noqa: S608
                    (limit + 1,),
                )
            else:
                cursor.execute(
                    f"SELECT {_COLUMNS} FROM customers WHERE id > %s ORDER BY id LIMIT %s",  # noqa: S608
                    (after, limit + 1),
                )
            return list(cursor.fetchall())

        items = [_customer(row) for row in self._db.run(select)]
        if len(items) > limit:
            return Page(items=items[:limit], last_id=items[limit - 1].id)
        return Page(items=items, last_id=None)


def _why_not(cursor: Cursor, customer_id: str) -> str:
    """No row matched id and updated_at: gone, or changed by someone else (same transaction)."""
    cursor.execute("SELECT 1 FROM customers WHERE id = %s", (customer_id,))
    return "changed" if cursor.fetchone() is not None else "gone"


def _raise_unless_done(outcome: str, customer_id: str) -> None:
    if outcome == "gone":
        raise NotFound(f"customer {customer_id!r} not found")
    if outcome == "changed":
        raise Conflict("the customer was changed by another request; read it again and retry")
