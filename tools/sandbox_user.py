"""`make user EMAIL=you@example.com`: a user of the deployed stack's user pool.

    make user EMAIL=you@example.com [GROUP=writers]   # Cognito e-mails a temporary password
    API_USER=you@example.com make token               # first sign-in: choose your own password

The pool lets only administrators create users (nobody signs up to a sandbox's data), so
this runs with your AWS credentials (cognito-idp:AdminCreateUser on the pool). Cognito
sends the temporary password to the address, valid for three days; `make token` asks for a
new one at the first sign-in. `--temporary-password` sets it yourself and sends no e-mail
(for an address that cannot receive mail).

The user joins one group, `readers` unless `--group` says otherwise: readers may read,
writers may also create and change, admins may delete too (docs/api-security.md). Change
it later with `aws cognito-idp admin-add-user-to-group` / `admin-remove-user-from-group`;
a new group reaches the API with the user's next ID token (at most an hour here).

Remove a user with `aws cognito-idp admin-delete-user --user-pool-id <UserPoolId>
--username <email>`; revoke a signed-in user's tokens with `admin-user-global-sign-out`.

With AWS_ENDPOINT_URL pointing at a running `make api` (`eval "$(make -s aws)"`), the user
is created in the local stack's pool (tools/get_token.py says how the outputs are found).
"""

import argparse
import os
import sys
from typing import Any

import boto3

from tools.get_token import DEFAULT_STACK, SignInError, find_outputs

GROUPS = ("readers", "writers", "admins")  # template.yaml: ReadersGroup, WritersGroup, AdminsGroup


def create_user(cognito: Any, pool_id: str, email: str, temporary_password: str | None) -> None:
    """Create `email` in the pool; with `temporary_password`, quietly (no e-mail)."""
    request: dict[str, Any] = {
        "UserPoolId": pool_id,
        "Username": email,
        "UserAttributes": [
            {"Name": "email", "Value": email},
            # the administrator vouches for the address (it receives the password)
            {"Name": "email_verified", "Value": "true"},
        ],
    }
    if temporary_password is None:
        request["DesiredDeliveryMediums"] = ["EMAIL"]
    else:
        request |= {"TemporaryPassword": temporary_password, "MessageAction": "SUPPRESS"}
    cognito.admin_create_user(**request)


def add_to_group(cognito: Any, pool_id: str, email: str, group: str) -> None:
    """Give `email` the role of `group` (one of GROUPS)."""
    if group not in GROUPS:
        raise ValueError(f"unknown group {group!r}: one of {', '.join(GROUPS)}")
    cognito.admin_add_user_to_group(UserPoolId=pool_id, Username=email, GroupName=group)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("email")
    parser.add_argument("--stack", default=os.environ.get("STACK", DEFAULT_STACK))
    parser.add_argument("--region", default=os.environ.get("AWS_REGION") or None)
    parser.add_argument("--temporary-password", help="set it yourself; no e-mail is sent")
    parser.add_argument("--group", choices=GROUPS, default="readers", help="the user's role")
    args = parser.parse_args(argv)
    session = boto3.session.Session(region_name=args.region)
    try:
        outputs, local = find_outputs(session, args.stack)
    except SignInError as error:
        print(f"make user: {error}", file=sys.stderr)
        return 1
    cognito = session.client("cognito-idp")
    try:
        create_user(cognito, outputs["UserPoolId"], args.email, args.temporary_password)
        add_to_group(cognito, outputs["UserPoolId"], args.email, args.group)
    except cognito.exceptions.UsernameExistsException:
        print(f"make user: {args.email} already exists", file=sys.stderr)
        return 1
    except cognito.exceptions.InvalidPasswordException as error:
        print(f"make user: {error.response['Error']['Message']}", file=sys.stderr)
        return 1
    sent = "set" if args.temporary_password else "e-mailed to the address"
    where = "the local stack's user pool" if local else f"stack {args.stack}"
    print(f"Created {args.email} in {args.group} ({where}); a temporary password was {sent}.")
    print(f"Next: API_USER={args.email} make token   (it asks you to choose your own password)")
    if outputs.get("ApiAuthMode") != "COGNITO":
        print(
            f"Note: this stack runs ApiAuth={outputs.get('ApiAuthMode')}; the API ignores tokens."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
