"""Customer rules, run against an in-memory repository: no AWS, no HTTP."""

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from customer_platform.customers import logic
from customer_platform.customers.models import Customer, CustomerInput
from customer_platform.customers.repository import Page
from customer_platform.errors import BadRequest, Conflict, NotFound
from customer_platform.pagination import PageTokenCodec

T0 = datetime(2026, 11, 22, 10, 15, 0, 123456, tzinfo=UTC)


class InMemoryRepository:
    """The CustomerRepository protocol over a dict, ordered by id like the MySQL backend."""

    def __init__(self) -> None:
        self.rows: dict[str, Customer] = {}
        self.gets = 0

    def add(self, customer: Customer) -> None:
        if any(c.email == customer.email for c in self.rows.values()):
            raise Conflict("email taken")
        self.rows[customer.id] = customer

    def get(self, customer_id: str) -> Customer | None:
        self.gets += 1
        return self.rows.get(customer_id)

    def list(self, limit: int, after: str | None) -> Page:
        ids = sorted(i for i in self.rows if after is None or i > after)
        chosen = [self.rows[i] for i in ids[:limit]]
        return Page(chosen, chosen[-1].id if len(ids) > limit else None)

    def replace(self, customer: Customer, previous: Customer) -> None:
        if self.rows.get(customer.id) != previous:
            raise Conflict("changed")
        self.rows[customer.id] = customer

    def remove(self, customer: Customer) -> None:
        del self.rows[customer.id]


def data(name: str = "Ada", email: str = "ada@example.com") -> CustomerInput:
    return CustomerInput(name=name, email=email)


def clock(at: datetime = T0):
    return lambda: at


def test_create_truncates_timestamps_to_milliseconds_and_sets_both():
    repo = InMemoryRepository()

    customer = logic.create_customer(repo, data(), clock())

    assert customer.created_at == customer.updated_at == T0.replace(microsecond=123000)
    assert repo.rows[customer.id] == customer


def test_input_is_trimmed_and_email_lower_cased():
    parsed = CustomerInput(name="  Ada  ", email="Ada.Lovelace@Example.COM")

    assert (parsed.name, parsed.email) == ("Ada", "ada.lovelace@example.com")


def test_input_refuses_unknown_fields():
    with pytest.raises(ValidationError):
        CustomerInput.model_validate({"name": "Ada", "email": "a@example.com", "id": "x"})


def test_update_advances_updated_at_even_when_the_clock_has_not_moved():
    repo = InMemoryRepository()
    created = logic.create_customer(repo, data(), clock())

    updated = logic.update_customer(repo, created.id, data(name="Ada K"), clock())

    assert updated.updated_at == created.updated_at + timedelta(milliseconds=1)
    assert updated.created_at == created.created_at


def test_update_with_a_clock_behind_the_stored_time_still_advances():
    repo = InMemoryRepository()
    created = logic.create_customer(repo, data(), clock())

    updated = logic.update_customer(repo, created.id, data(), clock(T0 - timedelta(hours=1)))

    assert updated.updated_at > created.updated_at


@pytest.mark.parametrize("customer_id", ["nope", "", "../etc/passwd", "X" * 5000])
def test_an_id_the_api_never_issues_is_not_found_without_touching_the_store(customer_id: str):
    repo = InMemoryRepository()

    with pytest.raises(NotFound):
        logic.get_customer(repo, customer_id)

    assert repo.gets == 0


def test_delete_of_a_missing_customer_is_not_found():
    with pytest.raises(NotFound):
        logic.delete_customer(InMemoryRepository(), "00000000-0000-4000-8000-000000000000")


def test_listing_hands_out_a_token_only_when_more_items_follow():
    repo = InMemoryRepository()
    tokens = PageTokenCodec("test", lambda: b"key")
    for i in range(3):
        logic.create_customer(repo, data(email=f"c{i}@example.com"), clock())

    first = logic.list_customers(repo, tokens, 2, None)
    second = logic.list_customers(repo, tokens, 2, first.next_token)

    assert len(first.items) == 2
    assert first.next_token is not None
    assert len(second.items) == 1
    assert second.next_token is None
    assert {c.id for c in first.items + second.items} == set(repo.rows)


def test_listing_with_a_bad_token_is_a_bad_request():
    with pytest.raises(BadRequest):
        logic.list_customers(InMemoryRepository(), PageTokenCodec("t", lambda: b"k"), 2, "bad")
