"""Upserting one message of partner rows into the customers table, in one transaction.

Keyed on the partner's id (its own `partner_id` column with a unique key): a re-run of the
same feed changes nothing, a changed name or email is updated, and `updated_at` moves only
when something did. The customers table also has a unique email: a row whose email already
belongs to another customer (one created through the API, or another partner id) is
rejected and reported, never written over that customer, and never fails its neighbours.
"""

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

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
    cursor.execute(f"SELECT partner_id, name, email FROM customers WHERE {where} FOR UPDATE", ids)  # noqa: S608
    current = {partner_id: (name, email) for partner_id, name, email in cursor.fetchall()}
    accepted: list[PartnerCustomer] = []
    claimed: dict[str, str] = {}
    for row in rows:
        if owners.get(row.email, row.id) != row.id:
            result.rejected.append((row.id, "email belongs to another customer"))
        elif claimed.setdefault(row.email, row.id) != row.id:
            result.rejected.append((row.id, "email repeated in the same batch"))
        elif row.id not in current:
            result.inserted += 1
            accepted.append(row)
        elif current[row.id] == (row.name, row.email):
            result.unchanged += 1
        else:
            result.updated += 1
            accepted.append(row)
    if accepted:
        stamp = now.replace(tzinfo=None, microsecond=now.microsecond // 1000 * 1000)
        cursor.executemany(
            UPSERT, [(str(uuid.uuid4()), r.id, r.name, r.email, stamp, stamp) for r in accepted]
        )
    return result
