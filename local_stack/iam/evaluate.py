"""AWS's policy evaluation logic for requests within one account.

IAM User Guide, "Policy evaluation logic" (and its "Evaluating policies within a single
account" section), with the AWS KMS exception from the AWS KMS Developer Guide, "Key
policies in AWS KMS" ("Allows access to the AWS account and enables IAM policies"):

1. An explicit `Deny` in any applicable policy (identity-based or resource-based) wins.
2. Otherwise an `Allow` in an identity-based policy *or* in a resource-based policy that
   names the principal (its role, its session, or `*`) allows the request. A resource
   policy that names only the *account* (`123456789012`, `arn:aws:iam::123456789012:root`)
   delegates to the account's identity-based policies and allows nothing by itself.
3. A KMS key is different: its key policy must allow the principal itself, or name the
   account (then the identity-based policies decide); without either nothing allows.
4. Otherwise the request is implicitly denied. An AWS service acting for itself (a service
   principal) has no identity-based policies: only resource-based policies can allow it.

No SCPs, permission boundaries or session policies exist in this stack, so none apply.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from local_stack.iam.conditions import Context, make_context
from local_stack.iam.policy import Policy, Principal, Statement, StatementSource

Reason = Literal[
    "allowed-by-identity-policy",
    "allowed-by-resource-policy",
    "explicit-deny-in-identity-policy",
    "explicit-deny-in-resource-policy",
    "no-identity-policy-allows",
    "no-resource-policy-allows",
]

PHRASES: dict[str, str] = {
    "explicit-deny-in-identity-policy": "with an explicit deny in an identity-based policy",
    "explicit-deny-in-resource-policy": "with an explicit deny in a resource-based policy",
    "no-identity-policy-allows": "because no identity-based policy allows the {action} action",
    "no-resource-policy-allows": "because no resource-based policy allows the {action} action",
}


@dataclass(frozen=True)
class AccessRequest:
    """One action on one resource by one principal.

    `context` holds the request's own condition keys (`kms:ViaService`, `aws:SourceArn`,
    `ses:FromAddress`, ...); the principal's global keys, `aws:SecureTransport`,
    `aws:CurrentTime`/`aws:EpochTime` and `aws:RequestedRegion` are added here.
    `resource_policy` is the policy of the resource (queue, key, bucket, function...), and
    `key_policy` says it is a KMS key policy (rule 3)."""

    principal: Principal
    action: str
    resource: str
    context: Mapping[str, Any] = field(default_factory=dict)
    resource_policy: Policy | None = None
    key_policy: bool = False
    region: str | None = None
    secure_transport: bool = True
    now: datetime | None = None


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: Reason
    # the statement that denied, or the statements that allowed (all of them, so the report
    # can tell which grants are used)
    statements: tuple[StatementSource, ...] = ()

    @property
    def statement(self) -> StatementSource | None:
        return self.statements[0] if self.statements else None

    def phrase(self, action: str) -> str:
        """The tail of AWS's access-denied message for this decision."""
        return PHRASES[self.reason].format(action=action)


def full_context(request: AccessRequest) -> dict[str, tuple[str, ...]]:
    now = request.now or datetime.now(UTC)
    values = dict(request.principal.condition_context)
    values["aws:securetransport"] = ("true" if request.secure_transport else "false",)
    values["aws:currenttime"] = (now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),)
    values["aws:epochtime"] = (str(int(now.timestamp())),)
    if request.region:
        values["aws:requestedregion"] = (request.region,)
    if request.action[:4].lower() == "kms:":
        values["kms:calleraccount"] = (request.principal.account,)
    values |= make_context(request.context)
    return values


def _lookup(context: Context) -> Any:
    def lookup(name: str) -> str | None:
        found = context.get(name.lower())
        return found[0] if found and len(found) == 1 else None

    return lookup


def _sources(*groups: list[Statement]) -> tuple[StatementSource, ...]:
    return tuple(statement.source for group in groups for statement in group)


@dataclass
class _Matches:
    identity_allows: list[Statement] = field(default_factory=list)
    resource_allows: list[Statement] = field(default_factory=list)  # naming the principal
    delegations: list[Statement] = field(default_factory=list)  # naming its account
    deny: Decision | None = None


def _match(request: AccessRequest) -> _Matches:
    context = full_context(request)
    lookup = _lookup(context)
    action, resource = request.action, request.resource
    found = _Matches()
    for policy in request.principal.policies:
        for statement in policy.statements:
            if statement.applies(action, resource, context, lookup):
                if statement.effect == "Deny":
                    found.deny = Decision(
                        False, "explicit-deny-in-identity-policy", (statement.source,)
                    )
                    return found
                found.identity_allows.append(statement)
    for statement in request.resource_policy.statements if request.resource_policy else ():
        named = statement.matches_principal(request.principal)
        if named is None or not statement.applies(action, resource, context, lookup):
            continue
        if statement.effect == "Deny":
            found.deny = Decision(False, "explicit-deny-in-resource-policy", (statement.source,))
            return found
        (found.resource_allows if named == "principal" else found.delegations).append(statement)
    return found


def _key_policy_decision(found: _Matches) -> Decision:
    if found.resource_allows:
        return Decision(
            True,
            "allowed-by-resource-policy",
            _sources(found.resource_allows, found.identity_allows),
        )
    if not found.delegations:
        return Decision(False, "no-resource-policy-allows")
    if found.identity_allows:
        return Decision(
            True,
            "allowed-by-identity-policy",
            _sources(found.identity_allows, found.delegations),
        )
    return Decision(False, "no-identity-policy-allows")


def evaluate(request: AccessRequest) -> Decision:
    """Allow or deny `request`, and why (see the module docstring for the rules)."""
    found = _match(request)
    if found.deny is not None:
        return found.deny
    if request.key_policy:
        return _key_policy_decision(found)
    if found.identity_allows:
        return Decision(
            True,
            "allowed-by-identity-policy",
            _sources(found.identity_allows, found.resource_allows),
        )
    if found.resource_allows:
        return Decision(True, "allowed-by-resource-policy", _sources(found.resource_allows))
    if request.principal.kind == "AssumedRole":
        return Decision(False, "no-identity-policy-allows")
    return Decision(False, "no-resource-policy-allows")
