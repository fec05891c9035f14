"""Overload answers alike: DynamoDB throttling is a 503 with Retry-After, like MySQL down.

The throttling comes from moto's side (tests/support/faults.py): the functions' own clients
send their requests and get DynamoDB's overload errors back, retry them as botocore does,
and the API answers what a client can act on. The MySQL half of the promise is in
test_customers_rds_faults.py (an unreachable database is a 503 with Retry-After).
"""

import json

import pytest

from local_stack.assembly.stack import LocalStack
from tests.support.customers import CustomersClient, unique_email
from tests.support.faults import THROTTLING, dynamodb_overloaded

# customer_platform.aws.CLIENT_CONFIG says max_attempts=3, which botocore's retries dict
# counts as retries: the first request and three more reach DynamoDB.
ATTEMPTS = 4


def assert_busy(response, stack: LocalStack) -> None:
    assert response.status == 503, response.body
    assert response.headers["Retry-After"] == "1"
    assert response.headers["Content-Type"] == "application/json"
    message = response.json()["message"]
    assert message
    # nothing about the store leaks
    assert stack.outputs()["CustomersTableName"] not in json.dumps(response.json())
    assert "Throughput" not in message


@pytest.mark.parametrize("code", sorted(THROTTLING))
def test_a_throttled_read_is_a_503_after_botocore_retried(stack: LocalStack, code: str):
    """Catches: the throttling handler removed from customer_platform/http.py (a 500)."""
    customers = CustomersClient(stack.api, "dynamodb")
    created = customers.create()

    with dynamodb_overloaded(stack.outputs()["CustomersTableName"], code) as refused:
        response = customers.call("GET", f"/{created['id']}")

    assert_busy(response, stack)
    assert refused == ["get_item"] * ATTEMPTS


def test_a_throttled_write_is_a_503_and_changes_nothing(stack: LocalStack):
    customers = CustomersClient(stack.api, "dynamodb")
    email = unique_email("throttled")

    with dynamodb_overloaded(stack.outputs()["CustomersTableName"], "ThrottlingException"):
        response = customers.call("POST", body={"name": "Ada", "email": email})

    assert_busy(response, stack)
    assert email not in json.dumps(customers.list_all())


@pytest.mark.parametrize("reason", ["ThrottlingError", "ProvisionedThroughputExceeded"])
def test_a_transaction_cancelled_for_capacity_is_a_503_not_a_409(stack: LocalStack, reason: str):
    """Catches: THROTTLED_REASONS ignored in customers/dynamodb.py (the create would be a 500)."""
    customers = CustomersClient(stack.api, "dynamodb")

    with dynamodb_overloaded(stack.outputs()["CustomersTableName"], reason, cancelled=True):
        response = customers.call("POST", body={"name": "Ada", "email": unique_email()})

    assert_busy(response, stack)


def test_documents_answer_throttling_the_same_way(stack: LocalStack):
    table = stack.outputs()["DocumentsTableName"]

    with dynamodb_overloaded(table, "ProvisionedThroughputExceededException"):
        response = stack.api.request("GET", "/documents")

    assert response.status == 503, response.body
    assert response.headers["Retry-After"] == "1"


def test_service_resumes_by_itself_when_the_throttling_stops(stack: LocalStack):
    customers = CustomersClient(stack.api, "dynamodb")
    created = customers.create()
    with dynamodb_overloaded(stack.outputs()["CustomersTableName"], "RequestLimitExceeded"):
        assert customers.call("GET", f"/{created['id']}").status == 503

    assert customers.call("GET", f"/{created['id']}").json() == created
