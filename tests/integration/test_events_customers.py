"""Every sample event in events/customers_{dynamodb,rds,aurora,django}/ goes through its
handler, the way `sam local invoke -e` would send it, and gets the status it exists to show.
One table of expectations serves every backend: the folders hold the same cases."""

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from customer_platform import aws
from customer_platform.customers.data_api import DataApiCustomerRepository
from customer_platform.customers.dynamodb import DynamoDBCustomerRepository
from customer_platform.customers.models import Customer
from customer_platform.customers.mysql import MySQLCustomerRepository
from customer_platform.customers.repository import CustomerRepository
from customer_platform.data_api import DataApi
from customer_platform.database import Credentials
from local_stack.assembly.stack import LocalStack
from tests.support.mysql import database_for, secret_document

EVENTS = Path(__file__).resolve().parents[2] / "events"
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
    "delete-as-reader.json": 403,  # a Cognito reader's claims: only admins delete
    "method-not-allowed.json": 405,
}
FUNCTIONS = {
    "dynamodb": "CustomersDynamoDBFunction",
    "rds": "CustomersRdsFunction",
    "aurora": "CustomersAuroraFunction",
    "django": "CustomersDjangoFunction",
}


def dynamodb_repository(stack: LocalStack) -> CustomerRepository:
    aws.reset_clients()
    env = stack.function(FUNCTIONS["dynamodb"]).config.variables
    return DynamoDBCustomerRepository(
        aws.dynamodb(), env["CUSTOMERS_TABLE_NAME"], env["CUSTOMERS_LIST_INDEX_NAME"]
    )


def rds_repository(stack: LocalStack) -> CustomerRepository:
    secret = json.dumps(secret_document(stack))
    return MySQLCustomerRepository(database_for(Credentials.from_secret(secret)))


def aurora_repository(stack: LocalStack) -> CustomerRepository:
    aws.reset_clients()
    env = stack.function(FUNCTIONS["aurora"]).config.variables
    api = DataApi(env["AURORA_CLUSTER_ARN"], env["AURORA_SECRET_ARN"], env["AURORA_DATABASE_NAME"])
    return DataApiCustomerRepository(api)


REPOSITORIES: dict[str, Callable[[LocalStack], CustomerRepository]] = {
    "dynamodb": dynamodb_repository,
    "rds": rds_repository,
    "aurora": aurora_repository,
    "django": rds_repository,  # the same table, seeded through the RDS backend's repository
}


@pytest.mark.parametrize("backend", FUNCTIONS)
def test_every_event_file_has_an_expected_outcome_and_targets_its_backend(backend: str):
    folder = EVENTS / f"customers_{backend}"

    assert sorted(p.name for p in folder.glob("*.json")) == sorted(EXPECTED_STATUS)
    for path in folder.glob("*.json"):
        event = json.loads(path.read_text())
        assert event["path"].startswith(f"/{backend}/customers"), path.name
        assert event["resource"].startswith(f"/{backend}/customers"), path.name


@pytest.fixture(params=sorted(FUNCTIONS))
def seeded(fresh_stack: LocalStack, request: pytest.FixtureRequest) -> tuple[LocalStack, str]:
    backend: str = request.param
    repo = REPOSITORIES[backend](fresh_stack)
    now = datetime(2026, 11, 22, 10, 15, tzinfo=UTC)
    ids = [SEEDED_ID, *(f"{i:08d}-0000-4000-8000-{i:012d}" for i in range(1, 4))]
    for i, customer_id in enumerate(ids):
        repo.add(
            Customer(
                id=customer_id,
                name=f"Seeded {i}",
                email=f"seeded{i}@example.com",
                created_at=now,
                updated_at=now,
            )
        )
    return fresh_stack, backend


@pytest.mark.parametrize("name", sorted(EXPECTED_STATUS))
def test_sample_event_gets_its_status(seeded: tuple[LocalStack, str], name: str):
    stack, backend = seeded
    event = json.loads((EVENTS / f"customers_{backend}" / name).read_text())

    result = stack.function(FUNCTIONS[backend]).invoke(event).result

    assert result["statusCode"] == EXPECTED_STATUS[name], result.get("body")
    if result["statusCode"] != 204:
        body = json.loads(result["body"])
        assert ("message" in body) == (result["statusCode"] >= 400)
