"""Role-based access for the HTTP API: which Cognito groups may use which methods.

| group     | may                                              |
| --------- | ------------------------------------------------ |
| `readers` | GET: read customers, audit trails and documents  |
| `writers` | GET, POST, PUT: create and change                |
| `admins`  | all of it, DELETE included                       |

API Gateway's Cognito authorizer proves who the caller is (a valid ID token of the stack's
user pool, else 401) and passes the token's claims in `requestContext.authorizer.claims`;
it does not read `cognito:groups`. So with `ApiAuth=COGNITO` this check is the one that
says what the caller may do (OWASP API5, broken function level authorization): a 403
before any route runs. Without a Cognito authorizer in front (`ApiAuth=IAM`: the caller's
IAM policy decides at the edge; `ApiAuth=NONE` and the open local API: nobody is checked)
there are no claims, and the request goes on. docs/api-security.md has the whole picture.
"""

from collections.abc import Mapping
from typing import Any

from customer_platform.errors import Forbidden

READERS = "readers"
WRITERS = "writers"
ADMINS = "admins"

# Who may use each method. A method missing here is refused to everyone (fail closed).
ALLOWED_GROUPS: Mapping[str, frozenset[str]] = {
    "GET": frozenset({READERS, WRITERS, ADMINS}),
    "HEAD": frozenset({READERS, WRITERS, ADMINS}),
    "POST": frozenset({WRITERS, ADMINS}),
    "PUT": frozenset({WRITERS, ADMINS}),
    "PATCH": frozenset({WRITERS, ADMINS}),
    "DELETE": frozenset({ADMINS}),
}


def groups_of(claims: Mapping[str, Any]) -> frozenset[str]:
    """The caller's groups from the token claims API Gateway passed on.

    A REST API's Cognito authorizer passes every claim as a string, several groups comma-
    separated (`"readers,writers"`); an HTTP API's JWT authorizer writes arrays as
    `"[readers writers]"`; a list is accepted too. No claim means no group.
    """
    value = claims.get("cognito:groups")
    if value is None:
        return frozenset()
    if isinstance(value, list | tuple):
        names = [str(item) for item in value]
    else:
        text = str(value).strip()
        if text.startswith("[") and text.endswith("]"):
            names = text[1:-1].split()
        else:
            names = text.split(",")
    return frozenset(name.strip() for name in names if name.strip())


def cognito_claims(request_context: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The claims of a Cognito user pool authorizer, or None when none ran."""
    authorizer = request_context.get("authorizer") or {}
    claims = authorizer.get("claims") if isinstance(authorizer, Mapping) else None
    return claims if isinstance(claims, Mapping) else None


def authorize(method: str, request_context: Mapping[str, Any]) -> None:
    """Raise Forbidden unless the caller's groups allow `method`.

    Only a request that passed a Cognito authorizer carries claims; see the module
    docstring for why a request without them goes on.
    """
    claims = cognito_claims(request_context)
    if claims is None:
        return
    allowed = ALLOWED_GROUPS.get(method.upper(), frozenset())
    if groups_of(claims) & allowed:
        return
    needed = " or ".join(sorted(allowed)) or "no group"
    raise Forbidden(f"{method.upper()} needs membership of {needed}")
