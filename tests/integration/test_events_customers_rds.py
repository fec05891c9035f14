"""Every sample event in events/customers_rds/ goes through the handler, the way
`sam local invoke -e` would send it, and gets the status it exists to show."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from customer_platform.customers.models import Customer
from customer_platform.customers.mysql import MySQLCustomerRepository
from customer_platform.database import Credentials
from local_stack.stack import LocalStack
from tests.support.mysql import database_for, secret_document

EVENTS = Path(__file__).resolve().parents[2] / "events" / "customers_rds"
SEEDED_ID = "7d9f1c2e-5b8a-4c3d-9e6f-0a1b2c3d4e5f"  # the customer get/update/delete.json name
EXPECTED_STATUS = {
    "create.json": 201,
    "create-invalid-json.json": 400,
    "create-validation-error.json": 422,
    "get.json": 200,
    "get-not-found.json": 404,
    "list.json": 200,
    "list-bad-limit.json": 422,
    "list-bad-token.json": 400,
    "update.json": 200,
    "update-not-found.json": 404,
    "delete.json": 204,
    "method-not-allowed.json": 405,
}


def test_every_event_file_has_an_expected_outcome():
    assert sorted(p.name for p in EVENTS.glob("*.json")) == sorted(EXPECTED_STATUS)


def test_every_event_targets_the_rds_routes():
    for path in EVENTS.glob("*.json"):
        event = json.loads(path.read_text())
        assert event["path"].startswith("/rds/customers"), path.name
        assert event["resource"].startswith("/rds/customers"), path.name


@pytest.fixture
def seeded_stack(fresh_stack: LocalStack) -> LocalStack:
    db = database_for(Credentials.from_secret(json.dumps(secret_document(fresh_stack))))
    repo = MySQLCustomerRepository(db)
    now = datetime(2026, 11, 22, 10, 15, tzinfo=UTC)
    for i, customer_id in enumerate(
        [SEEDED_ID, *(f"{i:08d}-0000-4000-8000-{i:012d}" for i in range(1, 4))]
    ):
        repo.add(
            Customer(
                id=customer_id,
                name=f"Seeded {i}",
                email=f"seeded{i}@example.com",
                created_at=now,
                updated_at=now,
            )
        )
    db.close()
    return fresh_stack


@pytest.mark.parametrize("name", sorted(EXPECTED_STATUS))
def test_sample_event_gets_its_status(seeded_stack: LocalStack, name: str):
    event = json.loads((EVENTS / name).read_text())

    result = seeded_stack.function("CustomersRdsFunction").invoke(event).result

    assert result["statusCode"] == EXPECTED_STATUS[name], result.get("body")
    if result["statusCode"] != 204:
        body = json.loads(result["body"])
        assert ("message" in body) == (result["statusCode"] >= 400)
