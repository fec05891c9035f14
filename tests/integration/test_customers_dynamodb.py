"""The DynamoDB backend beneath the contract: the table the template declares, the email
guard items, optimistic concurrency, and failures that stay inside the function."""

import pytest

from customer_platform import aws
from customer_platform.customers.dynamodb import DynamoDBCustomerRepository, email_key
from customer_platform.customers.models import Customer
from customer_platform.errors import Conflict, NotFound
from local_stack.assembly.stack import LocalStack
from tests.support.customers import CustomersClient, unique_email


@pytest.fixture
def client(stack: LocalStack) -> CustomersClient:
    return CustomersClient(stack.api, "dynamodb")


@pytest.fixture
def table_name(stack: LocalStack) -> str:
    return stack.cloud.physical_id("CustomersTable")


@pytest.fixture
def repo(stack: LocalStack, table_name: str) -> DynamoDBCustomerRepository:
    aws.reset_clients()
    env = stack.function("CustomersDynamoDBFunction").config.variables
    return DynamoDBCustomerRepository(aws.dynamodb(), table_name, env["CUSTOMERS_LIST_INDEX_NAME"])


def guard_owner(table_name: str, email: str) -> str | None:
    item = aws.dynamodb().get_item(TableName=table_name, Key=email_key(email)).get("Item")
    return item["owner"]["S"] if item else None


def test_the_table_is_the_one_template_yaml_declares(stack: LocalStack, table_name: str):
    declared = stack.template.source["Resources"]["CustomersTable"]["Properties"]

    table = aws.dynamodb().describe_table(TableName=table_name)["Table"]

    assert table["KeySchema"] == declared["KeySchema"]
    assert sorted(table["AttributeDefinitions"], key=str) == sorted(
        declared["AttributeDefinitions"], key=str
    )
    assert [(i["IndexName"], i["KeySchema"]) for i in table["GlobalSecondaryIndexes"]] == [
        (i["IndexName"], i["KeySchema"]) for i in declared["GlobalSecondaryIndexes"]
    ]
    assert table["BillingModeSummary"]["BillingMode"] == declared["BillingMode"]
    assert table["StreamSpecification"] == {
        "StreamEnabled": True,
        "StreamViewType": declared["StreamSpecification"]["StreamViewType"],
    }


def test_create_writes_an_email_guard_owned_by_the_customer(
    client: CustomersClient, table_name: str
):
    created = client.create()

    assert guard_owner(table_name, created["email"]) == created["id"]


def test_update_moves_the_guard_and_delete_releases_it(client: CustomersClient, table_name: str):
    created = client.create()
    new_email = unique_email()

    client.call("PUT", f"/{created['id']}", {"name": "x", "email": new_email})

    assert guard_owner(table_name, created["email"]) is None
    assert guard_owner(table_name, new_email) == created["id"]

    client.call("DELETE", f"/{created['id']}")

    assert guard_owner(table_name, new_email) is None


def test_a_failed_create_leaves_no_customer_behind(client: CustomersClient):
    email = unique_email()
    client.create(email=email)
    before = len(client.list_all())

    assert client.call("POST", body={"name": "Twin", "email": email}).status == 409

    assert len(client.list_all()) == before


def test_replace_with_a_stale_read_is_a_conflict(
    client: CustomersClient, repo: DynamoDBCustomerRepository
):
    created = client.create()
    stale = repo.get(created["id"])
    assert stale is not None
    client.call("PUT", f"/{created['id']}", {"name": "Winner", "email": created["email"]})

    with pytest.raises(Conflict):
        repo.replace(stale.model_copy(update={"name": "Loser"}), previous=stale)

    assert client.call("GET", f"/{created['id']}").json()["name"] == "Winner"


def test_remove_with_a_stale_read_is_a_conflict(
    client: CustomersClient, repo: DynamoDBCustomerRepository
):
    """DELETE takes no updatedAt from the client: "stale" is the request's own read, when
    another request changes the customer between that read and the delete (404 would
    say gone; the customer is there, changed: 409, as for an update).

    Mutation caught: the delete's `updatedAt = :seen` condition removed
    (customer_platform/customers/dynamodb.py `remove`): the changed customer is deleted."""
    created = client.create()
    stale = repo.get(created["id"])
    assert stale is not None
    client.call("PUT", f"/{created['id']}", {"name": "Winner", "email": created["email"]})

    with pytest.raises(Conflict):
        repo.remove(stale)

    assert client.call("GET", f"/{created['id']}").json()["name"] == "Winner"


def test_remove_of_a_vanished_customer_is_not_found(
    client: CustomersClient, repo: DynamoDBCustomerRepository
):
    created = client.create()
    customer = repo.get(created["id"])
    assert isinstance(customer, Customer)
    client.call("DELETE", f"/{created['id']}")

    with pytest.raises(NotFound):
        repo.remove(customer)


def test_an_unexpected_failure_is_a_generic_500_that_names_nothing(fresh_stack: LocalStack):
    table = fresh_stack.cloud.physical_id("CustomersTable")
    api = CustomersClient(fresh_stack.api, "dynamodb")
    aws.reset_clients()
    # moto reads the template's "false" (a string parameter) as truthy; switch it off.
    aws.dynamodb().update_table(TableName=table, DeletionProtectionEnabled=False)
    aws.dynamodb().delete_table(TableName=table)

    response = api.call("POST", body={"name": "Ada", "email": unique_email()})

    assert response.status == 500
    assert response.json() == {"message": "internal server error"}
    assert table not in response.body.decode()
    assert "ResourceNotFoundException" in response.logs, "the cause belongs in the logs"
