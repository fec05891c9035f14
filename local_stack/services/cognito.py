"""Cognito user pools for the local stack (moto's CloudFormation has no Cognito types).

The user pool, its app client and its groups of template.yaml are created through moto's
cognito-idp API with the template's properties, so a local `make token` signs in against a
pool with the deployed pool's password policy and auth flows, and its ID tokens carry the
same `cognito:groups`. A property the shim does not know fails the deploy rather than
vanish silently.

The pool's trust anchor is the local stack's own: moto signs every user pool's tokens with
one RSA key pair that ships inside the moto package (`cognitoidp/resources/jwks-private.json`),
so anyone could mint a token moto's JWKS vouches for. Each pool created here signs with a key
pair generated in this process instead (`signing_key`), and the pools' JWKS URL answers its
public half (`public_key_set`), so a token signed with anything else fails the signature
check. moto has no setting for the key: the shim sets it on moto's pool object (moto runs in
this process) and on moto's JWKS response, the two places moto reads it. moto writes
`kid: dummy` into every token header it signs, so the generated key carries that id.

The local API does not check tokens by default (like `sam local start-api`); with
`ApiAuth=COGNITO` given explicitly, local_stack/services/authorizer.py checks them against
this pool.
"""

import json
import threading
from typing import Any, Protocol

from joserfc.jwk import KeySet, RSAKey
from moto.cognitoidp.models import cognitoidp_backends
from moto.cognitoidp.responses import CognitoIdpJsonWebKeyResponse
from moto.core.models import DEFAULT_ACCOUNT_ID


class Cloud(Protocol):
    """What the shims need of local_stack.assembly.cloud.LocalCloud."""

    stack_name: str
    region: str

    def client(self, service: str) -> Any: ...


Created = tuple[str, dict[str, str]]  # physical id, GetAtt attributes

# CloudFormation property -> CreateUserPool parameter
_POOL_PROPERTIES = {
    "UserPoolName": "PoolName",
    "UsernameAttributes": "UsernameAttributes",
    "UsernameConfiguration": "UsernameConfiguration",
    "AutoVerifiedAttributes": "AutoVerifiedAttributes",
    "AdminCreateUserConfig": "AdminCreateUserConfig",
    "Policies": "Policies",
    "MfaConfiguration": "MfaConfiguration",
    "AccountRecoverySetting": "AccountRecoverySetting",
    "UserPoolTier": "UserPoolTier",
    "DeletionProtection": "DeletionProtection",
    "Schema": "Schema",
    "UserPoolTags": "UserPoolTags",
}
# CloudFormation property -> CreateUserPoolClient parameter (the same names)
_CLIENT_PROPERTIES = {
    "UserPoolId",
    "ClientName",
    "GenerateSecret",
    "ExplicitAuthFlows",
    "SupportedIdentityProviders",
    "PreventUserExistenceErrors",
    "EnableTokenRevocation",
    "AuthSessionValidity",
    "IdTokenValidity",
    "AccessTokenValidity",
    "RefreshTokenValidity",
    "TokenValidityUnits",
}


# -- the local trust anchor ------------------------------------------------------------------

KEY_ID = "dummy"  # the `kid` moto writes into every token header (CognitoIdpUserPool.create_jwt)
_key_lock = threading.Lock()
_key: RSAKey | None = None


def signing_key() -> RSAKey:
    """The RS256 key pair this process's user pools sign with, generated on first use; its
    private half never leaves the process."""
    global _key  # noqa: PLW0603 - one key per process, like moto's backends
    with _key_lock:
        if _key is None:
            _key = RSAKey.generate_key(
                2048, parameters={"kid": KEY_ID, "alg": "RS256", "use": "sig"}, private=True
            )
        return _key


def public_key_set() -> KeySet:
    """What the pools' `/.well-known/jwks.json` publishes: the public half only."""
    return KeySet([RSAKey.import_key(signing_key().as_dict(private=False))])


def _sign_with_the_local_key(pool_id: str, region: str) -> None:
    """From now on moto signs this pool's tokens with `signing_key`, and every pool's JWKS
    URL answers its public half (moto serves one key set for all pools)."""
    key = signing_key()
    cognitoidp_backends[DEFAULT_ACCOUNT_ID][region].user_pools[pool_id].json_web_key = key
    published = json.dumps(public_key_set().as_dict(private=False)).encode()
    CognitoIdpJsonWebKeyResponse.json_web_key = published


# -- the template's resources ----------------------------------------------------------------


def _unknown(kind: str, logical_id: str, props: dict[str, Any], known: set[str]) -> None:
    unknown = sorted(set(props) - known)
    if unknown:
        raise RuntimeError(f"{kind} {logical_id}: no local support for {', '.join(unknown)}")


def user_pool(logical_id: str, props: dict[str, Any], cloud: Cloud) -> Created:
    # EnabledMfas is not a CreateUserPool parameter: the MFA call below sets it.
    _unknown("AWS::Cognito::UserPool", logical_id, props, {*_POOL_PROPERTIES, "EnabledMfas"})
    request = {
        _POOL_PROPERTIES[key]: value for key, value in props.items() if key in _POOL_PROPERTIES
    }
    request.setdefault("PoolName", f"{cloud.stack_name}-{logical_id}")
    client = cloud.client("cognito-idp")
    pool = client.create_user_pool(**request)["UserPool"]
    if props.get("EnabledMfas") == ["SOFTWARE_TOKEN_MFA"]:
        client.set_user_pool_mfa_config(
            UserPoolId=pool["Id"],
            SoftwareTokenMfaConfiguration={"Enabled": True},
            MfaConfiguration=props.get("MfaConfiguration", "OFF"),
        )
    elif props.get("EnabledMfas"):
        raise RuntimeError(f"{logical_id}: locally only SOFTWARE_TOKEN_MFA is supported")
    _sign_with_the_local_key(pool["Id"], cloud.region)
    provider = f"cognito-idp.{cloud.region}.amazonaws.com/{pool['Id']}"
    return pool["Id"], {
        "Arn": pool["Arn"],
        "UserPoolId": pool["Id"],
        "ProviderName": provider,
        "ProviderURL": f"https://{provider}",
    }


def user_pool_client(logical_id: str, props: dict[str, Any], cloud: Cloud) -> Created:
    _unknown("AWS::Cognito::UserPoolClient", logical_id, props, _CLIENT_PROPERTIES)
    request = dict(props)
    request.setdefault("ClientName", f"{cloud.stack_name}-{logical_id}")
    created = cloud.client("cognito-idp").create_user_pool_client(**request)["UserPoolClient"]
    return created["ClientId"], {"ClientId": created["ClientId"], "Name": created["ClientName"]}


_GROUP_PROPERTIES = {"UserPoolId", "GroupName", "Description", "Precedence"}


def user_pool_group(logical_id: str, props: dict[str, Any], cloud: Cloud) -> Created:
    # RoleArn (an identity pool's role for the group) has no meaning without identity
    # pools, which the stack does not create: unknown here, so it would fail loudly.
    _unknown("AWS::Cognito::UserPoolGroup", logical_id, props, _GROUP_PROPERTIES)
    request = dict(props)
    request.setdefault("GroupName", f"{cloud.stack_name}-{logical_id}")
    group = cloud.client("cognito-idp").create_group(**request)["Group"]
    return group["GroupName"], {}
