"""API Gateway's Cognito user pool authorizer, for the local API.

The local API is open by default, like `sam local start-api`. With the stack parameter
`ApiAuth=COGNITO` given explicitly (`make api ApiAuth=COGNITO`, or
`LocalStack(parameters={"ApiAuth": "COGNITO"})` in tests), every route gets what the
deployed stack's `CognitoUserPool` authorizer does before a function runs:

- the token comes from the `Authorization` header (the raw token, or `Bearer <token>`);
- it must be an ID token of the stack's user pool: RS256 signature (no other algorithm,
  so not `none`) checked against the pool's JSON Web Key Set, fetched from the issuer as
  API Gateway does (here: moto's cognito-idp, which publishes the local stack's own key
  pair, local_stack/services/cognito.py), `iss` equal to the pool, `aud` one of the pool's app
  clients, `token_use` = `id` (the routes have no OAuth scopes, so API Gateway expects ID
  tokens), `exp` present and not passed;
- anything else is refused with `401 {"message": "Unauthorized"}` and no function runs;
- the token's claims reach the function in `requestContext.authorizer.claims`, every value
  a string as a REST API passes them (lists comma-separated, `exp` and `iat` as dates).

What stays AWS-only (docs/api-security.md, "Verified locally / only on AWS"): the API key
and usage plan (403 without a key, 429 over a limit), the exact wording of every 401,
`ApiAuth=IAM` (SigV4), and token revocation.
"""

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from local_stack.services.apigateway import ApiResponse

if TYPE_CHECKING:
    from local_stack.assembly.stack import LocalStack

MODE = "COGNITO"
# `make api ApiAuth=COGNITO` hands the parameter to the server through this variable.
ENVIRONMENT_VARIABLE = "LOCAL_API_AUTH"
USER_POOL = "UserPool"  # the pool whose tokens the template's authorizer accepts
# SigV4-shaped, so that moto's server knows the request is for cognito-idp (moto's docs);
# nothing is signed: moto checks no signature.
_COGNITO_HINT = (
    "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/cognito-idp/aws4_request, "
    "SignedHeaders=host, Signature=local"
)


def enabled(parameters: Mapping[str, str]) -> bool:
    """Only an explicit ApiAuth=COGNITO turns the local authorizer on."""
    return parameters.get("ApiAuth") == MODE


def requested_parameters(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The stack parameters `make api ApiAuth=...` asked for (none: the open local API)."""
    mode = environ.get(ENVIRONMENT_VARIABLE, "").strip().upper()
    if not mode:
        return {}
    if mode != MODE:
        raise SystemExit(
            f"ApiAuth={mode}: locally only ApiAuth={MODE} is emulated (or nothing, the open API)"
        )
    return {"ApiAuth": MODE}


def unauthorized() -> ApiResponse:
    return ApiResponse(
        status=401,
        headers={"Content-Type": "application/json", "x-amzn-ErrorType": "UnauthorizedException"},
        body=b'{"message": "Unauthorized"}',
    )


def _as_string(name: str, value: Any) -> str:
    if name in ("exp", "iat") and isinstance(value, int):
        return time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(value))
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


@dataclass(frozen=True)
class CognitoAuthorizer:
    issuer: str
    keys: KeySet
    audiences: frozenset[str]  # the pool's app client ids

    def claims(self, authorization: str | None) -> dict[str, str] | None:
        """The verified token's claims as API Gateway passes them, or None (a 401)."""
        if not authorization:
            return None
        token = authorization.strip()
        if token.lower().startswith("bearer "):
            token = token[len("bearer ") :].strip()
        try:
            decoded = jwt.decode(token, self.keys, algorithms=["RS256"])
            jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "values": sorted(self.audiences)},
                token_use={"essential": True, "value": "id"},
                exp={"essential": True},
            ).validate(decoded.claims)
        except (JoseError, ValueError):
            return None
        return {name: _as_string(name, value) for name, value in decoded.claims.items()}

    def __call__(self, event: dict[str, Any]) -> ApiResponse | None:
        """Refuse the request (401) or put the claims into its requestContext."""
        headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
        claims = self.claims(headers.get("authorization"))
        if claims is None:
            return unauthorized()
        event["requestContext"]["authorizer"] = {"claims": claims}
        return None


def for_pool(cognito: Any, pool_id: str, region: str) -> CognitoAuthorizer:
    """The authorizer of one user pool, its keys fetched from the issuer's JWKS URL and its
    audiences from the pool's app clients (those the stack deployed: a client created later
    is not known to this authorizer)."""
    response = requests.get(
        f"{cognito.meta.endpoint_url}/{pool_id}/.well-known/jwks.json",
        headers={"Authorization": _COGNITO_HINT},
        timeout=5,
    )
    response.raise_for_status()
    clients = cognito.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)
    return CognitoAuthorizer(
        issuer=f"https://cognito-idp.{region}.amazonaws.com/{pool_id}",
        keys=KeySet.import_key_set(json.loads(response.text)),
        audiences=frozenset(client["ClientId"] for client in clients["UserPoolClients"]),
    )


def install(stack: "LocalStack") -> None:
    """Put the authorizer in front of every route when the stack's parameters ask for it."""
    if enabled(stack.parameters):
        authorize: Callable[[dict[str, Any]], ApiResponse | None] = for_pool(
            stack.cloud.client("cognito-idp"), stack.cloud.physical_id(USER_POOL), stack.region
        )
        stack.api.authorize = authorize


def access_note(stack: "LocalStack") -> str | None:
    """What `make api` says when the local authorizer is on (None when the API is open)."""
    if stack.api.authorize is None:
        return None
    return (
        "The local API checks Cognito ID tokens (ApiAuth=COGNITO): send `Authorization:"
        " Bearer <ID token>` of a user of the local pool; its groups (readers, writers,"
        " admins) decide what it may do. The API key is not checked locally."
    )
