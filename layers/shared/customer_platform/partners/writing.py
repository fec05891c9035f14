"""Upserting one message of partner rows into the customers table, in one transaction.

Keyed on the partner's id (its own `partner_id` column with a unique key): a re-run of the
same feed changes nothing, a changed name or email is updated, and `updated_at` moves only
when something did. The customers table also has a unique email: a row whose email already
belongs to another customer (one created through the API, or another partner id) is
rejected and reported, never written over that customer, and never fails its neighbours.
Every row inserted or changed writes its customer event to the outbox in the same
transaction, as the API's writes do, so the audit trail and the welcome email see partner
customers too; an unchanged row writes nothing.
"""

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from customer_platform.customers.models import Customer
from customer_platform.events import outbox
from customer_platform.events.models import EventType
from customer_platform.partners.models import PartnerCustomer

# Assignments run left to right and see the values already assigned, so updated_at is
# decided before name and email change. VALUES() is what both MySQL 8.0 and MariaDB
# accept (MySQL's newer row alias is not MariaDB syntax).
UPSERT = (
    "INSERT INTO customers (id, partner_id, name, email, created_at, updated_at) "
    "VALUES (%s, %s, %s, %s, %s, %s) "
    "ON DUPLICATE KEY UPDATE "
    "updated_at = IF(name = VALUES(name) AND email = VALUES(email), "
    "updated_at, VALUES(updated_at)), "
    "name = VALUES(name), email = VALUES(email)"
)


@dataclass
class WriteResult:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (partner id, reason)


def _in(column: str, count: int) -> str:
    return f"{column} IN ({', '.join(['%s'] * count)})"


def upsert_rows(cursor: Any, rows: list[PartnerCustomer], now: datetime) -> WriteResult:
    """Write `rows` with `executemany` (one multi-row statement); the caller commits.

    Two indexed reads first, both FOR UPDATE (they lock the index records and, for absent
    keys, the gaps, so no concurrent transaction can slip an email or partner id in before
    the upsert): who holds each email, and what each partner row holds now."""
    result = WriteResult()
    if not rows:
        return result
    emails = sorted({row.email for row in rows})
    cursor.execute(
        f"SELECT email, partner_id FROM customers WHERE {_in('email', len(emails))} FOR UPDATE",  # noqa: S608 (placeholders only)
        emails,
    )
    owners: dict[str, str | None] = dict(cursor.fetchall())
    ids = [row.id for row in rows]
    where = _in("partner_id", len(ids))  # placeholders only; values go as parameters
    cursor.execute(
        f"SELECT partner_id, id, name, email, created_at FROM customers WHERE {where} FOR UPDATE",  # noqa: S608
        ids,
    )
    current: dict[str, _Current] = {
        partner_id: _Current(customer_id, name, email, created_at)
        for partner_id, customer_id, name, email, created_at in cursor.fetchall()
    }
    stamp = now.astimezone(UTC).replace(tzinfo=None, microsecond=now.microsecond // 1000 * 1000)
    writes: list[tuple[Any, ...]] = []
    changes: list[tuple[EventType, Customer]] = []
    claimed: dict[str, str] = {}
    for row in rows:
        if owners.get(row.email, row.id) != row.id:
            result.rejected.append((row.id, "email belongs to another customer"))
        elif claimed.setdefault(row.email, row.id) != row.id:
            result.rejected.append((row.id, "email repeated in the same batch"))
        elif row.id not in current:
            result.inserted += 1
            customer = _customer(str(uuid.uuid4()), row, created_at=stamp, updated_at=stamp)
            writes.append((customer.id, row.id, row.name, row.email, stamp, stamp))
            changes.append(("CustomerCreated", customer))
        elif (current[row.id].name, current[row.id].email) == (row.name, row.email):
            result.unchanged += 1
        else:
            result.updated += 1
            was = current[row.id]
            customer = _customer(was.id, row, created_at=was.created_at, updated_at=stamp)
            # the id is ignored on a duplicate key: the row keeps its own
            writes.append((str(uuid.uuid4()), row.id, row.name, row.email, stamp, stamp))
            changes.append(("CustomerUpdated", customer))
    if writes:
        cursor.executemany(UPSERT, writes)
        outbox.record_all(cursor, changes)
    return result


@dataclass(frozen=True)
class _Current:
    id: str
    name: str
    email: str
    created_at: datetime


def _customer(
    customer_id: str, row: PartnerCustomer, created_at: datetime, updated_at: datetime
) -> Customer:
    """The customer as the row will hold it (DATETIME columns are naive UTC)."""
    return Customer(
        id=customer_id,
        name=row.name,
        email=row.email,
        created_at=created_at.replace(tzinfo=UTC),
        updated_at=updated_at.replace(tzinfo=UTC),
    )
