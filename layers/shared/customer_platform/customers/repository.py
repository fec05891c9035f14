"""The storage contract both backends implement.

Routes and rules are written once against this protocol; DynamoDB and MySQL differ only in
their implementation module. Implementations raise domain errors (`NotFound`, `Conflict`,
`Unavailable`), never driver exceptions.
"""

from dataclasses import dataclass
from typing import Protocol

from customer_platform.customers.models import Customer


@dataclass(frozen=True)
class Page:
    items: list[Customer]
    # id of the last item when more items follow, else None (the caller turns it into a token)
    last_id: str | None


class CustomerRepository(Protocol):
    def add(self, customer: Customer) -> None:
        """Store a new customer. Raises Conflict when the email is taken."""

    def get(self, customer_id: str) -> Customer | None:
        """The customer, or None. Reads are strongly consistent."""

    def list(self, limit: int, after: str | None) -> Page:
        """Up to `limit` customers following the one with id `after`, in a stable order."""

    def replace(self, customer: Customer, previous: Customer) -> None:
        """Write `customer` over `previous`.

        Raises NotFound when it no longer exists, Conflict when the new email is taken or the
        stored customer no longer equals `previous` (a concurrent writer won).
        """

    def remove(self, customer: Customer) -> None:
        """Delete `customer`. Raises NotFound or Conflict as `replace` does."""
