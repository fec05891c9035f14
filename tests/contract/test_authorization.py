"""Who may do what: the API with ApiAuth=COGNITO switched on locally.

A stack of its own, with the local Cognito authorizer (local_stack/services/authorizer.py) in front
of every route as API Gateway's is when deployed: no valid ID token of the stack's pool is
a 401 before any function runs; with one, the caller's groups decide (readers GET, writers
also POST and PUT, only admins DELETE) and anything else is a 403 with a JSON `message`
(customer_platform/authorization.py). The shared `stack` stays open, like `make api`.
"""

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from local_stack.assembly.stack import LocalStack
from local_stack.services.endpoint import AwsEndpoint
from local_stack.template.transform import load_yaml
from tests.conftest import deploy
from tests.contract.conftest import BACKENDS
from tests.support.customers import CustomersClient, unique_email
from tests.support.identity import (
    bearer,
    claims_of,
    create_user,
    moto_key,
    sign_in,
    signed,
    unsigned,
)

GROUPS = ("readers", "writers", "admins")


@pytest.fixture(scope="module")
def auth_stack(aws: AwsEndpoint, mysql_server: Any, function_logs: Path) -> Iterator[LocalStack]:
    deployed = deploy(aws, function_logs, f"auth-{uuid.uuid4().hex[:8]}", {"ApiAuth": "COGNITO"})
    yield deployed
    deployed.close()


@pytest.fixture(scope="module")
def headers(auth_stack: LocalStack) -> dict[str, dict[str, str]]:
    """The Authorization header of one user per group, and of a user in no group."""
    return {group: bearer(auth_stack, group) for group in GROUPS} | {
        "nobody": bearer(auth_stack, None)
    }


def as_(
    auth_stack: LocalStack, headers: dict[str, dict[str, str]], who: str, backend: str
) -> CustomersClient:
    return CustomersClient(auth_stack.api, backend, headers[who])


def assert_refused(response: Any, status: int) -> None:
    assert response.status == status, response.body
    assert response.headers["Content-Type"] == "application/json"
    message = response.json()["message"]
    assert isinstance(message, str)
    assert message


def test_the_template_declares_the_three_groups_the_code_knows():
    # Given the groups in template.yaml
    resources = load_yaml()["Resources"].values()
    declared = {
        r["Properties"]["GroupName"]
        for r in resources
        if r["Type"] == "AWS::Cognito::UserPoolGroup"
    }

    # Then they are exactly the roles the API checks
    assert declared == set(GROUPS)


# -- authentication: the edge ----------------------------------------------------------------


@pytest.mark.parametrize("path", ["/dynamodb/customers", "/rds/customers", "/documents"])
def test_without_a_token_the_edge_answers_401_and_no_function_runs(
    auth_stack: LocalStack, path: str
):
    """Catches: the local authorizer hook removed from the API (the request would reach a
    function and answer 200)."""
    invoked = len(auth_stack.api.invocations)

    response = auth_stack.api.request("GET", path)

    assert response.status == 401
    assert response.json() == {"message": "Unauthorized"}
    assert len(auth_stack.api.invocations) == invoked


def _other_pool_issuer(auth_stack: LocalStack, issuer: str) -> str:
    cognito_idp = auth_stack.cloud.client("cognito-idp")
    other = cognito_idp.create_user_pool(PoolName=f"other-{uuid.uuid4().hex[:6]}")["UserPool"]
    return f"{issuer.rsplit('/', 1)[0]}/{other['Id']}"


def _bad_token(kind: str, auth_stack: LocalStack) -> str:
    tokens = sign_in(auth_stack, create_user(auth_stack, "admins"))
    claims = claims_of(tokens["IdToken"])
    head, payload, signature = tokens["IdToken"].split(".")
    flipped = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    forge: dict[str, Callable[[], str]] = {
        # the routes have no scopes: API Gateway wants ID tokens
        "access token": lambda: str(tokens["AccessToken"]),
        "tampered": lambda: f"{head}.{flipped}.{signature}",
        "moto's bundled key": lambda: signed(claims, moto_key()),
        "alg none": lambda: unsigned(claims),
        "expired": lambda: signed(claims | {"exp": int(time.time()) - 60}),
        "no expiry": lambda: signed({k: v for k, v in claims.items() if k != "exp"}),
        "another pool": lambda: signed(
            claims | {"iss": _other_pool_issuer(auth_stack, claims["iss"])}
        ),
        "another client": lambda: signed(claims | {"aud": "0123456789abcdefghijklmnop"}),
    }
    return forge[kind]()


def test_a_token_signed_with_the_local_pools_key_and_right_claims_is_accepted(
    auth_stack: LocalStack,
):
    """The control for the refusals below: the test's own signing reproduces what the pool
    signs, so each refusal there is for the one thing its case changes."""
    claims = claims_of(sign_in(auth_stack, create_user(auth_stack, "readers"))["IdToken"])

    response = auth_stack.api.request(
        "GET", "/dynamodb/customers", headers={"Authorization": f"Bearer {signed(claims)}"}
    )

    assert response.status == 200, response.body


@pytest.mark.parametrize(
    "kind",
    [
        "access token",
        "tampered",
        "moto's bundled key",
        "alg none",
        "expired",
        "no expiry",
        "another pool",
        "another client",
    ],
)
def test_a_token_api_gateway_would_not_accept_is_401(auth_stack: LocalStack, kind: str):
    """Catches: the claims check dropped from the local authorizer (the access token, the
    expired, the foreign pool's and the foreign client's token get through), the signature
    check (tampered, alg none), or the local pool trusting moto's bundled key again (moto's
    private key ships with moto: anyone could sign an admin's token with it)."""
    token = _bad_token(kind, auth_stack)

    response = auth_stack.api.request(
        "GET", "/dynamodb/customers", headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status == 401, response.body
    assert response.json() == {"message": "Unauthorized"}


def test_the_raw_token_without_bearer_is_accepted_too(auth_stack: LocalStack):
    token = sign_in(auth_stack, create_user(auth_stack, "readers"))["IdToken"]

    response = auth_stack.api.request(
        "GET", "/dynamodb/customers", headers={"Authorization": token}
    )

    assert response.status == 200, response.body


def test_the_open_local_api_needs_no_token(stack: LocalStack):
    # Given the shared stack, deployed without ApiAuth (like `make api`)
    # Then a request without credentials reaches the function
    assert stack.api.request("GET", "/dynamodb/customers").status == 200


# -- authorization: the functions -------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_readers_read_but_cannot_create_change_or_delete(
    auth_stack: LocalStack, headers: dict[str, dict[str, str]], backend: str
):
    """Catches: the group check removed from the resolver (a reader's POST would be a 201)."""
    # Given a customer a writer created
    created = as_(auth_stack, headers, "writers", backend).create()
    reader = as_(auth_stack, headers, "readers", backend)
    email = unique_email("refused")

    # When a reader reads, then tries to write
    assert reader.call("GET", f"/{created['id']}").json() == created
    assert reader.call("GET").status == 200
    assert reader.call("GET", f"/{created['id']}/events").status == 200
    post = reader.call("POST", body={"name": "Eve", "email": email})
    put = reader.call("PUT", f"/{created['id']}", body={"name": "Eve", "email": email})
    delete = reader.call("DELETE", f"/{created['id']}")

    # Then every write is a 403 and nothing changed
    for response in (post, put, delete):
        assert_refused(response, 403)
    assert email not in json.dumps(reader.list_all())
    assert reader.call("GET", f"/{created['id']}").json() == created


@pytest.mark.parametrize("backend", BACKENDS)
def test_writers_create_and_change_but_cannot_delete(
    auth_stack: LocalStack, headers: dict[str, dict[str, str]], backend: str
):
    writer = as_(auth_stack, headers, "writers", backend)

    created = writer.create()
    updated = writer.call("PUT", f"/{created['id']}", body={"name": "Ada", "email": unique_email()})
    delete = writer.call("DELETE", f"/{created['id']}")

    assert updated.status == 200
    assert_refused(delete, 403)
    assert writer.call("GET", f"/{created['id']}").status == 200


@pytest.mark.parametrize("backend", BACKENDS)
def test_only_admins_delete(
    auth_stack: LocalStack, headers: dict[str, dict[str, str]], backend: str
):
    admin = as_(auth_stack, headers, "admins", backend)
    created = admin.create()

    response = admin.call("DELETE", f"/{created['id']}")

    assert response.status == 204
    assert admin.call("GET", f"/{created['id']}").status == 404


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_user_in_no_group_may_not_even_read(
    auth_stack: LocalStack, headers: dict[str, dict[str, str]], backend: str
):
    nobody = as_(auth_stack, headers, "nobody", backend)

    assert_refused(nobody.call("GET"), 403)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_method_no_route_serves_is_refused_by_the_group_check_first(
    auth_stack: LocalStack, headers: dict[str, dict[str, str]], backend: str
):
    """Catches: a backend that answers a caller's method by route before it checks the
    caller's groups (a reader's PATCH: 405 there, the group check's 403 on the others)."""
    reader = as_(auth_stack, headers, "readers", backend)

    response = reader.call("PATCH")

    assert_refused(response, 403)
    assert response.json() == {"message": "PATCH needs membership of admins or writers"}


def test_documents_follow_the_same_roles(
    auth_stack: LocalStack, headers: dict[str, dict[str, str]]
):
    api = auth_stack.api
    slot = {"filename": "report.pdf", "contentType": "application/pdf"}

    refused = api.request("POST", "/documents", body=json.dumps(slot), headers=headers["readers"])
    created = api.request("POST", "/documents", body=json.dumps(slot), headers=headers["writers"])
    listed = api.request("GET", "/documents", headers=headers["readers"])
    missing = "/documents/00000000-0000-4000-8000-00000000beef"
    writer_delete = api.request("DELETE", missing, headers=headers["writers"])
    admin_delete = api.request("DELETE", missing, headers=headers["admins"])

    assert_refused(refused, 403)
    assert created.status == 201, created.body
    assert listed.status == 200
    assert_refused(writer_delete, 403)
    assert admin_delete.status == 404  # allowed through: there is just nothing to delete
