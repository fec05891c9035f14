"""Customer rules, independent of HTTP and of the storage engine."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from customer_platform.customers.models import (
    Customer,
    CustomerInput,
    CustomerPage,
    is_customer_id,
    new_customer_id,
)
from customer_platform.customers.repository import CustomerRepository
from customer_platform.errors import NotFound
from customer_platform.pagination import PageTokenCodec

Clock = Callable[[], datetime]

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
_TICK = timedelta(milliseconds=1)  # timestamp precision on the wire


def utc_now() -> datetime:
    return datetime.now(UTC)


def _not_found(customer_id: str) -> NotFound:
    return NotFound(f"customer {customer_id!r} not found")


def _now(clock: Clock) -> datetime:
    now = clock()
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def create_customer(
    repo: CustomerRepository, data: CustomerInput, clock: Clock = utc_now
) -> Customer:
    now = _now(clock)
    customer = Customer(
        id=new_customer_id(), name=data.name, email=data.email, created_at=now, updated_at=now
    )
    repo.add(customer)
    return customer


def get_customer(repo: CustomerRepository, customer_id: str) -> Customer:
    # An id we could never have issued is simply not found; it never reaches the store.
    customer = repo.get(customer_id) if is_customer_id(customer_id) else None
    if customer is None:
        raise _not_found(customer_id)
    return customer


def list_customers(
    repo: CustomerRepository, tokens: PageTokenCodec, limit: int, next_token: str | None
) -> CustomerPage:
    after = tokens.decode(next_token) if next_token is not None else None
    page = repo.list(limit, after)
    return CustomerPage(
        items=page.items,
        next_token=tokens.encode(page.last_id) if page.last_id is not None else None,
    )


def update_customer(
    repo: CustomerRepository, customer_id: str, data: CustomerInput, clock: Clock = utc_now
) -> Customer:
    current = get_customer(repo, customer_id)
    # updatedAt strictly advances, even for two writes within one millisecond.
    updated_at = max(_now(clock), current.updated_at + _TICK)
    updated = current.model_copy(
        update={"name": data.name, "email": data.email, "updated_at": updated_at}
    )
    repo.replace(updated, previous=current)
    return updated


def delete_customer(repo: CustomerRepository, customer_id: str) -> None:
    repo.remove(get_customer(repo, customer_id))
