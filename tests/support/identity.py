"""Users of a local stack's user pool, signed in, for the API's authorization tests."""

import uuid
from typing import Any

from local_stack.stack import LocalStack
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
