"""Cognito user pools for the local stack (moto's CloudFormation has no Cognito types).

The user pool, its app client and its groups of template.yaml are created through moto's
cognito-idp API with the template's properties, so a local `make token` signs in against a
pool with the deployed pool's password policy and auth flows, and its ID tokens carry the
same `cognito:groups`. A property the shim does not know fails the deploy rather than
vanish silently.

The local API does not check tokens by default (like `sam local start-api`); with
`ApiAuth=COGNITO` given explicitly, local_stack/authorizer.py checks them against this pool.
"""

from typing import Any, Protocol


class Cloud(Protocol):
    """What the shims need of local_stack.cloud.LocalCloud."""

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
