"""Failures of the Data API path, as a client of /aurora/customers sees them.

The faults are the service's own answers, made at its boundary: the local Data API's
switches (a paused writer, a failing statement, a COMMIT whose answer is lost, a transaction
that expires) and the local AWS endpoint's fault injection (throttling, a call held back).
What is checked is the HTTP outcome, and the database itself (read as the cluster's master
over the Data API): never a 500 for a database that is not ready, never a write done twice,
never a change without its outbox event or an event without its change.

One private stack for the module; each test uses its own emails and restores what it set.
"""

import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local_stack.assembly.stack import LocalStack
from local_stack.services import data_api
from local_stack.services.endpoint import AwsEndpoint
from local_stack.services.mysql import ServerAddress
from tests.conftest import deploy
from tests.support.customers import CustomersClient, unique_email
from tests.support.polling import rounds

FUNCTION = "CustomersAuroraFunction"
# Short enough for a test to outlast it, long enough for the short faults to fit in it
# (botocore's own backoff over four throttled attempts takes up to 7 s).
RETRY_SECONDS = "12"


@pytest.fixture(scope="module")
def aurora(
    endpoint: AwsEndpoint, mysql_server: ServerAddress, function_logs: Path
) -> Iterator[LocalStack]:
    stack = deploy(endpoint, function_logs, f"t-aurora-faults-{uuid.uuid4().hex[:8]}")
    stack.update_function_configuration(FUNCTION, DATA_API_RETRY_SECONDS=RETRY_SECONDS)
    yield stack
    stack.close()


@pytest.fixture
def cluster(aurora: LocalStack) -> Iterator[data_api.LocalCluster]:
    found = data_api.cluster(str(aurora.outputs()["AuroraClusterArn"]))
    idle = found.transaction_idle_s
    yield found
    found.resume()
    found.transaction_idle_s = idle
    aurora.endpoint.gate.clear_faults()


@pytest.fixture
def client(aurora: LocalStack) -> CustomersClient:
    return CustomersClient(aurora.api, "aurora")


def rows(stack: LocalStack, sql: str, **values: str) -> list[dict[str, Any]]:
    """`sql` as the cluster's master, outside any request of the function."""
    response = stack.cloud.client("rds-data").execute_statement(
        resourceArn=stack.outputs()["AuroraClusterArn"],
        secretArn=stack.outputs()["AuroraMasterSecretArn"],
        database="customers",
        sql=sql,
        parameters=[{"name": k, "value": {"stringValue": v}} for k, v in values.items()],
        formatRecordsAs="JSON",
    )
    found: list[dict[str, Any]] = json.loads(response["formattedRecords"])
    return found


def stored(stack: LocalStack, email: str) -> tuple[list[str], list[str]]:
    """(ids of the customers with `email`, ids of the customers its outbox events name)."""
    customers = rows(stack, "SELECT id FROM customers WHERE email = :email", email=email)
    events = rows(
        stack,
        "SELECT customer_id FROM customer_events_outbox WHERE payload LIKE :pattern",
        pattern=f'%"email":"{email}"%',
    )
    return [c["id"] for c in customers], [e["customer_id"] for e in events]


def assert_unavailable(response: Any) -> None:
    assert response.status == 503, response.body
    assert response.headers["Retry-After"]
    assert response.json()["message"]


# -- the writer paused at 0 ACU ---------------------------------------------------------------


def test_a_resume_within_the_retry_budget_is_absorbed(
    aurora: LocalStack, cluster: data_api.LocalCluster, client: CustomersClient
):
    """Given a paused writer that resumes within the function's retry budget
    When a client creates a customer
    Then it gets its 201 once the writer is back, and the change is stored once.
    Mutation caught: DatabaseResumingException not retried (a 503 or a 500 instead)."""
    cluster.pause(resume_seconds=1.0)
    email = unique_email("resume")

    response = client.call("POST", body={"name": "Resumed", "email": email})

    assert response.status == 201, response.body
    assert stored(aurora, email) == ([response.json()["id"]], [response.json()["id"]])
    assert len(aurora.calls(FUNCTION, "rds-data:BeginTransaction")) >= 2


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_resume_longer_than_the_budget_is_a_503_with_retry_after_never_a_500(
    aurora: LocalStack, cluster: data_api.LocalCluster, client: CustomersClient, method: str
):
    """Given a writer that stays paused longer than the function's retry budget
    When a client reads or writes
    Then it gets 503 with Retry-After (try again), not a 500, and nothing is written.
    Mutation caught: the resume error left to the generic ClientError handler (a 500)."""
    cluster.pause(resume_seconds=60)
    email = unique_email("paused")

    response = client.call(method, body={"name": "P", "email": email} if method == "POST" else None)

    assert_unavailable(response)
    cluster.resume()
    assert stored(aurora, email) == ([], [])


# -- transient answers, once -------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        ("FROM customers WHERE id", "StatementTimeoutException", "The statement timed out."),
        ("INSERT INTO customers", "TransactionNotFoundException", "Transaction t1 is not found"),
        # older Data API versions: a BadRequestException that names the transaction
        ("INSERT INTO customers", "BadRequestException", "Transaction t2 is not found"),
        (
            "INSERT INTO customers",
            "DatabaseErrorException",
            "Database error code: 1213. Message: Deadlock found",
        ),
    ],
)
def test_a_transient_database_answer_is_retried_and_the_client_never_sees_it(
    aurora: LocalStack,
    cluster: data_api.LocalCluster,
    client: CustomersClient,
    fault: tuple[str, str, str],
):
    """Given one statement that fails with an answer meaning "not now" (botocore does not
    retry these: HTTP 400/404, not modeled as retryable)
    When a client creates and then reads a customer
    Then both succeed, and the customer is stored once with one event.
    Mutation caught: the code dropped from data_api.TRANSIENT (or the transaction-not-found
    message, or SQL_BUSY): a 500."""
    pattern, code, message = fault
    email = unique_email("transient")
    cluster.fail_statements(pattern, code=code, message=message, count=1)

    created = client.call("POST", body={"name": "T", "email": email})
    cluster.fail_statements(pattern, code=code, message=message, count=1)
    read = client.call("GET", f"/{created.json()['id']}")

    assert (created.status, read.status) == (201, 200), (created.body, read.body)
    assert stored(aurora, email) == ([created.json()["id"]], [created.json()["id"]])


def test_throttling_beyond_botocores_retries_is_retried_then_a_503(
    aurora: LocalStack, cluster: data_api.LocalCluster, client: CustomersClient
):
    """ThrottlingException: botocore's standard mode retries it (`max_attempts: 3` is three
    retries, four attempts); the function then keeps trying within its budget, and answers
    503 if the throttling outlasts it.
    Mutation caught: throttling not in data_api.NOT_RUN (a 503 as soon as botocore gives
    up, which a fifth attempt would have avoided)."""
    created = client.create(email=unique_email("throttle"))
    aurora.inject_fault(
        FUNCTION, "rds-data:ExecuteStatement", "ThrottlingException", status=400, count=4
    )

    brief = client.call("GET", f"/{created['id']}")
    aurora.inject_fault(
        FUNCTION, "rds-data:ExecuteStatement", "ThrottlingException", status=400, count=10_000
    )
    lasting = client.call("GET", f"/{created['id']}")

    assert brief.status == 200, brief.body
    assert_unavailable(lasting)


# -- COMMIT outcomes ---------------------------------------------------------------------------


def test_a_commit_whose_answer_is_lost_is_not_written_twice(
    aurora: LocalStack, cluster: data_api.LocalCluster, client: CustomersClient
):
    """Given a COMMIT that commits and whose answer is lost (HTTP 500; botocore retries the
    call, which then finds no transaction)
    When a client creates a customer
    Then it gets 201, and exactly one row and one outbox event exist.
    Mutation caught: no `committed` probe in the repository (a 503 for a change that was
    made); or the unit redone blindly (its own insert again: never a 201)."""
    cluster.lose_commit_answers(1)
    email = unique_email("lost")

    response = client.call("POST", body={"name": "Lost", "email": email})

    assert response.status == 201, response.body
    assert stored(aurora, email) == ([response.json()["id"]], [response.json()["id"]])


def test_a_transaction_that_expired_before_its_commit_is_run_again_once(
    aurora: LocalStack, cluster: data_api.LocalCluster, client: CustomersClient
):
    """Given a transaction whose COMMIT is held back until the transaction has expired (3
    idle minutes in AWS, shortened here) and was rolled back
    When the COMMIT then arrives (TransactionNotFoundException: the outcome is unknown)
    Then the function finds its change absent, runs it again in a new transaction, and the
    client gets 201 with one row and one event.
    Mutation caught: a COMMIT without an answer treated as done (a 201 for nothing stored)."""
    held = aurora.stall(FUNCTION, "rds-data:CommitTransaction")
    email = unique_email("expired")
    outcome: dict[str, Any] = {}
    request = threading.Thread(
        target=lambda: outcome.update(
            response=client.call("POST", body={"name": "Expired", "email": email})
        )
    )
    request.start()
    for _ in rounds("the COMMIT to be held"):
        if held.held:
            break
        request.join(0.05)
    cluster.transaction_idle_s = 0.05
    for _ in rounds("the transaction to expire"):
        if cluster.open_transactions() == 0:
            break
        request.join(0.05)
    cluster.transaction_idle_s = 180
    held.hold.set()  # type: ignore[union-attr]
    request.join(30)

    response = outcome["response"]
    assert response.status == 201, response.body
    assert stored(aurora, email) == ([response.json()["id"]], [response.json()["id"]])
    assert len(aurora.calls(FUNCTION, "rds-data:CommitTransaction")) >= 2


# -- the outbox and the row share one transaction ---------------------------------------------


def test_no_change_is_stored_without_its_event(
    aurora: LocalStack, cluster: data_api.LocalCluster, client: CustomersClient
):
    """Given the outbox INSERT failing (after the customer's INSERT)
    When a client creates a customer
    Then the request fails and the customer is not stored either.
    Mutation caught: the event written outside the row's transaction (after COMMIT): the
    customer would be stored without an event, which nothing would ever publish."""
    cluster.fail_statements(
        "INSERT INTO customer_events_outbox",
        message="Database error code: 1146. Message: Table 'customer_events_outbox' doesn't exist",
    )
    email = unique_email("no-event")

    response = client.call("POST", body={"name": "No event", "email": email})

    assert response.status >= 500
    assert stored(aurora, email) == ([], [])


def test_no_event_is_stored_without_its_change(aurora: LocalStack, client: CustomersClient):
    """Given a customer with an email
    When a second create with that email is refused (409: the UNIQUE index)
    Then the outbox holds the first create's event only.
    Mutation caught: the event written outside the row's transaction (before the row): the
    refused create would leave an event of a customer that does not exist."""
    email = unique_email("twin")
    first = client.create(email=email)

    twin = client.call("POST", body={"name": "Twin", "email": email})

    assert twin.status == 409
    assert stored(aurora, email) == ([first["id"]], [first["id"]])


# -- events that could not be published at once ------------------------------------------------


def publication(stack: LocalStack, customer_id: str) -> list[Any]:
    """`published_at` of the customer's outbox events (None: still waiting)."""
    found = rows(
        stack,
        "SELECT published_at FROM customer_events_outbox WHERE customer_id = :id",
        id=customer_id,
    )
    return [row["published_at"] for row in found]


def test_an_event_sns_refused_is_published_after_the_next_write_without_a_sweep(
    aurora: LocalStack, client: CustomersClient
):
    """Given SNS refusing the function's publish during a write (the change commits, its
    event stays in the outbox)
    When the next write publishes its own event
    Then the same execution environment also publishes the one left behind (events/
    data_api_outbox.EagerPublisher), long before the next sweep.
    Mutation caught: the backlog flag not set on a failed publish (the event waits hours)."""
    outage = aurora.inject_fault(
        FUNCTION, "sns:Publish", "ServiceUnavailable", status=503, count=10_000
    )
    left = client.create(email=unique_email("left"))
    waiting = publication(aurora, left["id"])
    outage.remaining = 0

    client.create(email=unique_email("next"))

    assert waiting == [None]
    assert publication(aurora, left["id"]) != [None]
