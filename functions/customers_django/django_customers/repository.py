"""CustomerRepository on Django's ORM: the counterpart of customer_platform/customers/mysql.py.

The same table, the same rules, written with the ORM instead of SQL text:

* each change and its outbox event are one transaction (`transaction.atomic`), so the
  event exists exactly when the change does; the outbox relay publishes it as it publishes
  the RDS backend's (same table, same payload, `backend` "django");
* a duplicate email is the UNIQUE index's IntegrityError, turned into Conflict (409);
* updates and deletes are conditioned on the `updated_at` that was read
  (`filter(id=..., updated_at=...)`): zero rows matched means gone (404) or changed by
  another writer meanwhile (409), as in the RDS backend;
* listing is keyset pagination on the primary key (`id > after ORDER BY id LIMIT n + 1`),
  never OFFSET.
"""

from django.db import IntegrityError, transaction

from customer_platform.customers.models import Customer
from customer_platform.customers.mysql import email_taken, is_duplicate_email
from customer_platform.customers.repository import Page
from customer_platform.errors import Conflict, NotFound
from customer_platform.events.models import EventType
from customer_platform.events.outbox import new_event
from django_customers.models import CustomerRow, OutboxRow


def _record(event_type: EventType, customer: Customer) -> None:
    """Write the change's event into the outbox, in the caller's transaction."""
    event = new_event(event_type, customer, backend="django")
    OutboxRow.objects.create(
        event_id=event.event_id,
        event_type=event.event_type,
        customer_id=event.customer_id,
        payload=event.to_json(),
        created_at=event.occurred_at,
    )


class DjangoCustomerRepository:
    def add(self, customer: Customer) -> None:
        try:
            with transaction.atomic():
                CustomerRow.of(customer).save(force_insert=True)
                _record("CustomerCreated", customer)
        except IntegrityError as error:
            if not is_duplicate_email(error):
                raise
            raise email_taken(customer.email) from None

    def replace(self, customer: Customer, previous: Customer) -> None:
        try:
            with transaction.atomic():
                matched = CustomerRow.objects.filter(
                    id=customer.id, updated_at=previous.updated_at
                ).update(name=customer.name, email=customer.email, updated_at=customer.updated_at)
                if matched == 1:
                    _record("CustomerUpdated", customer)
                    return
                gone = not CustomerRow.objects.filter(id=customer.id).exists()
        except IntegrityError as error:
            if not is_duplicate_email(error):
                raise
            raise email_taken(customer.email) from None
        raise _lost_race(customer.id, gone)

    def remove(self, customer: Customer) -> None:
        with transaction.atomic():
            deleted, _ = CustomerRow.objects.filter(
                id=customer.id, updated_at=customer.updated_at
            ).delete()
            if deleted == 1:
                _record("CustomerDeleted", customer)
                return
            gone = not CustomerRow.objects.filter(id=customer.id).exists()
        raise _lost_race(customer.id, gone)

    def get(self, customer_id: str) -> Customer | None:
        row = CustomerRow.objects.filter(id=customer_id).first()
        return row.customer() if row is not None else None

    def list(self, limit: int, after: str | None) -> Page:
        # One row more than asked: if it comes back, there is a next page.
        rows = CustomerRow.objects.order_by("id")
        if after is not None:
            rows = rows.filter(id__gt=after)
        items = [row.customer() for row in rows[: limit + 1]]
        if len(items) > limit:
            return Page(items=items[:limit], last_id=items[limit - 1].id)
        return Page(items=items, last_id=None)


def _lost_race(customer_id: str, gone: bool) -> NotFound | Conflict:
    if gone:
        return NotFound(f"customer {customer_id!r} not found")
    return Conflict("the customer was changed by another request; read it again and retry")
