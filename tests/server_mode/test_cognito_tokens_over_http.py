"""`make api ApiAuth=COGNITO` over real HTTP: only tokens the local pool signed get in.

The local user pool signs with a key pair generated when the stack starts
(local_stack/services/cognito.py); moto's own key pair ships inside the moto package, so a token it
signs is a token anyone can make. An admin's claims signed with it, or not signed at all,
must meet the same 401 as no token, over the same socket a client uses.
"""

import json
import time
import uuid
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any

import pytest
import requests

from local_stack.assembly.stack import LocalStack
from local_stack.commands.server import _handler_for
from local_stack.services.endpoint import AwsEndpoint
from local_stack.services.mysql import ServerAddress
from tests.conftest import deploy
from tests.support.customers import unique_email
from tests.support.identity import claims_of, create_user, moto_key, sign_in, signed, unsigned

TIMEOUT_SECONDS = 30  # the limit only stops a hung test


@pytest.fixture(scope="module")
def cognito_stack(
    endpoint: AwsEndpoint, mysql_server: ServerAddress, function_logs: Path
) -> Iterator[LocalStack]:
    deployed = deploy(
        endpoint, function_logs, f"tokens-{uuid.uuid4().hex[:8]}", {"ApiAuth": "COGNITO"}
    )
    yield deployed
    deployed.close()


@pytest.fixture(scope="module")
def api_url(cognito_stack: LocalStack) -> Iterator[str]:
    """The stack's API on a socket, served by the handler `make api` serves it with."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(cognito_stack.api))
    Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def admin_claims(cognito_stack: LocalStack) -> dict[str, Any]:
    """The claims of a real admin's ID token (cognito:groups = admins)."""
    return claims_of(sign_in(cognito_stack, create_user(cognito_stack, "admins"))["IdToken"])


def create(api_url: str, token: str) -> requests.Response:
    return requests.post(
        f"{api_url}/dynamodb/customers",
        data=json.dumps({"name": "Mallory", "email": unique_email("forged")}),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=TIMEOUT_SECONDS,
    )


def test_the_admins_own_token_creates(api_url: str, cognito_stack: LocalStack):
    """The control: the real token of the admin whose claims the forgeries below copy."""
    token = sign_in(cognito_stack, create_user(cognito_stack, "admins"))["IdToken"]

    response = create(api_url, token)

    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    "forge",
    [
        lambda claims: signed(claims, moto_key()),
        unsigned,
        lambda claims: signed(claims | {"exp": int(time.time()) - 1}),
    ],
    ids=["moto-bundled-key", "alg-none", "expired"],
)
def test_a_forged_admin_token_is_401_and_creates_nothing(
    api_url: str, cognito_stack: LocalStack, admin_claims: dict[str, Any], forge: Any
):
    """Catches: the local pool signing with (and its JWKS publishing) moto's bundled key
    again: the moto-signed admin token would create a customer; or the signature or
    expiry check dropped from the authorizer."""
    invoked = len(cognito_stack.api.invocations)

    response = create(api_url, forge(admin_claims))

    assert response.status_code == 401, response.text
    assert response.json() == {"message": "Unauthorized"}
    assert len(cognito_stack.api.invocations) == invoked


def test_the_pools_jwks_url_publishes_the_local_key_not_motos(cognito_stack: LocalStack):
    """What any client that verifies tokens itself fetches (the issuer's jwks_uri)."""
    cognito = cognito_stack.cloud.client("cognito-idp")
    pool = cognito_stack.outputs()["UserPoolId"]
    url = f"{cognito.meta.endpoint_url}/{pool}/.well-known/jwks.json"

    keys = requests.get(url, timeout=TIMEOUT_SECONDS).json()["keys"]

    moto_public = moto_key().as_dict(private=False)
    assert [key["n"] for key in keys] != [moto_public["n"]]
    assert all("d" not in key for key in keys)  # no private part
