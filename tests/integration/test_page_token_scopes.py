"""Each list accepts only its own page tokens, though one key signs them all.

The three list routes share PageTokenSecret, so a token is bound to its list by the scope
signed into it. A token of another list normally fails for a second reason too (a customer
id is not a documents cursor), which would hide a missing scope check; so the tokens here
are signed with the stack's own key and carry a cursor the receiving list would accept:
only the scope tells them apart.
"""

from collections.abc import Callable

import pytest

from customer_platform.pagination import PageTokenCodec
from local_stack.assembly.stack import LocalStack
from tests.support.documents import DocumentsClient


@pytest.fixture
def sign(stack: LocalStack) -> Callable[[str, str], str]:
    """A token for `scope` carrying `cursor`, signed with the stack's page-token key."""
    secrets = stack.cloud.client("secretsmanager")
    key = secrets.get_secret_value(SecretId=stack.cloud.physical_id("PageTokenSecret"))

    def token(scope: str, cursor: str) -> str:
        return PageTokenCodec(scope, key["SecretString"].encode).encode(cursor)

    return token


def test_the_documents_list_refuses_a_token_of_another_list(
    stack: LocalStack, sign: Callable[[str, str], str]
):
    """Mutation caught: the documents function's codec built with another list's scope
    (functions/documents/app.py `page_tokens`, e.g. "dynamodb/customers")."""
    documents = DocumentsClient(stack.api)
    uploaded = documents.create_uploaded()
    cursor = f"{uploaded['uploadedAt']}|{uploaded['id']}"  # a documents cursor

    own = documents.call("GET", query={"nextToken": sign("documents", cursor)})
    foreign = [
        documents.call("GET", query={"nextToken": sign(scope, cursor)})
        for scope in ("dynamodb/customers", "rds/customers")
    ]

    assert own.status == 200, own.body  # the forged token is otherwise valid
    assert [response.status for response in foreign] == [400, 400]


@pytest.mark.parametrize(
    ("backend", "other"), [("dynamodb", "rds/customers"), ("rds", "dynamodb/customers")]
)
def test_a_customers_list_refuses_the_other_backends_token(
    stack: LocalStack, sign: Callable[[str, str], str], backend: str, other: str
):
    """Mutation caught: either customers function signing with the other's scope
    (functions/customers_dynamodb/app.py, functions/customers_rds/app.py `page_tokens`)."""
    created = stack.api.request(
        "POST", f"/{backend}/customers", body='{"name": "Ada", "email": "ada@example.com"}'
    )
    assert created.status in (201, 409)
    cursor = "00000000-0000-4000-8000-000000000000"  # an id both lists could start after

    own = stack.api.request(
        "GET", f"/{backend}/customers", query={"nextToken": sign(f"{backend}/customers", cursor)}
    )
    foreign = stack.api.request(
        "GET", f"/{backend}/customers", query={"nextToken": sign(other, cursor)}
    )

    assert own.status == 200, own.body
    assert foreign.status == 400
