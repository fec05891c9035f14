"""Users of a local stack's user pool, signed in, for the API's authorization tests; and
tokens made by the tests themselves, to show what the local authorizer refuses."""

import base64
import gzip
import json
import uuid
from importlib.resources import files
from typing import Any

from joserfc import jwt
from joserfc.jwk import RSAKey

from local_stack.assembly.stack import LocalStack
from local_stack.services import cognito
from tools import sandbox_user

PASSWORD = "Local-test-passw0rd!"  # meets the template's password policy; moto only


def create_user(stack: LocalStack, group: str | None) -> str:
    """A confirmed user of the stack's pool in `group` (None: in no group); its e-mail."""
    cognito = stack.cloud.client("cognito-idp")
    pool = stack.outputs()["UserPoolId"]
    email = f"{group or 'nobody'}-{uuid.uuid4().hex[:10]}@example.com"
    sandbox_user.create_user(cognito, pool, email, PASSWORD)
    cognito.admin_set_user_password(
        UserPoolId=pool, Username=email, Password=PASSWORD, Permanent=True
    )
    if group is not None:
        sandbox_user.add_to_group(cognito, pool, email, group)
    return email


def sign_in(stack: LocalStack, email: str) -> dict[str, Any]:
    """The tokens Cognito issues at sign-in (USER_PASSWORD_AUTH, as `make token` does)."""
    result: dict[str, Any] = stack.cloud.client("cognito-idp").initiate_auth(
        AuthFlow="USER_PASSWORD_AUTH",
        ClientId=stack.outputs()["UserPoolClientId"],
        AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    return result


def bearer(stack: LocalStack, group: str | None) -> dict[str, str]:
    """The Authorization header of a new user in `group`, as a client sends it."""
    token = sign_in(stack, create_user(stack, group))["IdToken"]
    return {"Authorization": f"Bearer {token}"}


def claims_of(token: str) -> dict[str, Any]:
    """The claims of a token, read without checking its signature (whose key is what the
    tests that copy the claims into forged tokens are about)."""
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def moto_key() -> RSAKey:
    """The key pair bundled in the moto package: public, anyone can sign with it."""
    packed = (files("moto.cognitoidp") / "resources" / "jwks-private.json.gz").read_bytes()
    return RSAKey.import_key(json.loads(gzip.decompress(packed)))


def signed(claims: dict[str, Any], key: RSAKey | None = None) -> str:
    """A token with claims of the test's choosing, RS256-signed with the local pools' key
    (what only the local Cognito can do) unless `key` says otherwise."""
    return jwt.encode({"alg": "RS256", "kid": cognito.KEY_ID}, claims, key or cognito.signing_key())


def unsigned(claims: dict[str, Any]) -> str:
    """`alg: none`: a header, the claims and an empty signature."""
    parts = [{"alg": "none", "typ": "JWT"}, claims]
    encoded = [base64.urlsafe_b64encode(json.dumps(p).encode()).rstrip(b"=") for p in parts]
    return b".".join([*encoded, b""]).decode()
