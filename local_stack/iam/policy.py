"""Policy documents compiled into statements that know where they came from.

A `Policy` is parsed once (`Policy.parse` caches by content), every statement keeps its
`StatementSource` (the role or resource, the policy name or managed-policy ARN, the `Sid`
or position), so a decision can say which statement allowed or denied, and the report can
tell granted statements that were never used.
"""

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property, lru_cache
from typing import Any, Literal

from local_stack.iam import conditions as cond
from local_stack.iam import patterns

Effect = Literal["Allow", "Deny"]
PrincipalMatch = Literal["principal", "account"] | None

_STATEMENT_KEYS = {
    "Sid",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Principal",
    "NotPrincipal",
    "Condition",
}


@dataclass(frozen=True)
class StatementSource:
    """Where a statement lives: `owner` (a role's or resource's logical id), `policy` (an
    inline policy name, a managed policy ARN, or the resource policy's kind), and the
    statement's `Sid` or else its position."""

    owner: str
    policy: str
    index: int
    sid: str | None = None

    @property
    def id(self) -> str:
        return f"{self.owner}/{self.policy}/{self.sid or f'#{self.index}'}"

    def __str__(self) -> str:
        return self.id


@dataclass(frozen=True)
class Principal:
    """Who makes a request.

    * an assumed-role session (a function's credentials): `arn` is
      `arn:aws:sts::<account>:assumed-role/<role name>/<session>`, `role_arn` the role's;
    * an AWS service acting for itself (`sns.amazonaws.com` delivering to a queue): `arn` is
      the service principal name and it has no identity policies;
    * anonymous (an unsigned request)."""

    arn: str
    account: str
    kind: Literal["AssumedRole", "Service", "Anonymous"]
    role_arn: str | None = None
    policies: tuple["Policy", ...] = ()
    function: str | None = None  # logical id of the function whose role this is
    expires_at: datetime | None = None
    partition: str = "aws"

    @classmethod
    def assumed_role(
        cls,
        role_arn: str,
        session: str,
        policies: tuple["Policy", ...],
        *,
        function: str | None = None,
        expires_at: datetime | None = None,
    ) -> "Principal":
        parts = role_arn.split(":", 5)
        if len(parts) != 6 or parts[2] != "iam" or not parts[5].startswith("role/"):
            raise ValueError(f"not a role ARN: {role_arn!r}")
        partition, account, role_name = parts[1], parts[4], parts[5].rsplit("/", 1)[-1]
        return cls(
            arn=f"arn:{partition}:sts::{account}:assumed-role/{role_name}/{session}",
            account=account,
            kind="AssumedRole",
            role_arn=role_arn,
            policies=policies,
            function=function,
            expires_at=expires_at,
            partition=partition,
        )

    @classmethod
    def service(cls, name: str, account: str) -> "Principal":
        return cls(arn=name, account=account, kind="Service")

    @cached_property
    def condition_context(self) -> dict[str, tuple[str, ...]]:
        """`context()` as the evaluator reads it (lower-cased keys), computed once."""
        return cond.make_context(self.context())

    def context(self) -> dict[str, Any]:
        """The global condition keys AWS sets for this principal (IAM User Guide, "AWS global
        condition context keys": aws:PrincipalArn is the role's ARN for a role session)."""
        if self.kind == "AssumedRole":
            return {
                "aws:PrincipalArn": self.role_arn or self.arn,
                "aws:PrincipalAccount": self.account,
                "aws:PrincipalType": "AssumedRole",
                "aws:userid": f"{self.role_arn}:{self.arn.rsplit('/', 1)[-1]}",
            }
        if self.kind == "Service":
            return {"aws:PrincipalServiceName": self.arn, "aws:PrincipalIsAWSService": True}
        return {"aws:PrincipalType": "Anonymous"}


def _strings(raw: Any, element: str) -> tuple[str, ...]:
    values = raw if isinstance(raw, list) else [raw]
    if not values or not all(isinstance(value, str) for value in values):
        raise cond.PolicyError(f"{element} must be a string or a list of strings: {raw!r}")
    return tuple(values)


def _principals(raw: Any, element: str) -> Mapping[str, tuple[str, ...]] | Literal["*"]:
    if raw == "*":
        return "*"
    if not isinstance(raw, dict):
        raise cond.PolicyError(f'{element} must be "*" or an object: {raw!r}')
    known = {"AWS", "Service", "Federated", "CanonicalUser"}
    unknown = set(raw) - known
    if unknown:
        raise cond.PolicyError(f"{element}: unknown principal type(s) {sorted(unknown)}")
    return {kind: _strings(values, f"{element}.{kind}") for kind, values in raw.items()}


def _match_aws(value: str, principal: Principal) -> PrincipalMatch:
    if principal.kind == "Service":
        return None
    if value == "*":
        return "principal"
    root = f"arn:{principal.partition}:iam::{principal.account}:root"
    if principal.kind == "AssumedRole" and value in (principal.account, root):
        return "account"  # the account: a delegation to its identity-based policies
    if principal.kind == "AssumedRole" and value in (principal.arn, principal.role_arn):
        return "principal"
    return None


def _match_one(kind: str, value: str, principal: Principal) -> PrincipalMatch:
    if kind == "AWS":
        return _match_aws(value, principal)
    if kind == "Service" and principal.kind == "Service" and value == principal.arn:
        return "principal"
    return None  # Federated, CanonicalUser: nobody this stack signs as


def _match_spec(
    spec: Mapping[str, tuple[str, ...]] | Literal["*"], principal: Principal
) -> PrincipalMatch:
    if spec == "*":
        return "principal"
    found: PrincipalMatch = None
    for kind, values in spec.items():
        for value in values:
            match = _match_one(kind, value, principal)
            if match == "principal":
                return match
            found = found or match
    return found


@dataclass(frozen=True)
class Statement:
    effect: Effect
    source: StatementSource
    actions: tuple[str, ...] | None = None
    not_actions: tuple[str, ...] | None = None
    resources: tuple[str, ...] | None = None
    not_resources: tuple[str, ...] | None = None
    principals: Mapping[str, tuple[str, ...]] | Literal["*"] | None = None
    not_principals: Mapping[str, tuple[str, ...]] | Literal["*"] | None = None
    conditions: tuple[cond.Condition, ...] = ()
    document: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def parse(cls, raw: Any, source: StatementSource) -> "Statement":
        if not isinstance(raw, dict):
            raise cond.PolicyError(f"{source}: a statement must be an object: {raw!r}")
        unknown = set(raw) - _STATEMENT_KEYS
        if unknown:
            raise cond.PolicyError(f"{source}: unknown element(s) {sorted(unknown)}")
        if raw.get("Effect") not in ("Allow", "Deny"):
            raise cond.PolicyError(f"{source}: Effect must be Allow or Deny")
        if ("Action" in raw) == ("NotAction" in raw):
            raise cond.PolicyError(f"{source}: exactly one of Action and NotAction")
        if "Resource" in raw and "NotResource" in raw:
            raise cond.PolicyError(f"{source}: both Resource and NotResource")
        if "Principal" in raw and "NotPrincipal" in raw:
            raise cond.PolicyError(f"{source}: both Principal and NotPrincipal")

        def maybe(key: str) -> tuple[str, ...] | None:
            return _strings(raw[key], f"{source}.{key}") if key in raw else None

        return cls(
            effect=raw["Effect"],
            source=source,
            actions=maybe("Action"),
            not_actions=maybe("NotAction"),
            resources=maybe("Resource"),
            not_resources=maybe("NotResource"),
            principals=_principals(raw["Principal"], "Principal") if "Principal" in raw else None,
            not_principals=(
                _principals(raw["NotPrincipal"], "NotPrincipal") if "NotPrincipal" in raw else None
            ),
            conditions=cond.compile_block(raw.get("Condition")),
            document=raw,
        )

    # -- matching (patterns compiled once per statement) ----------------------------------------

    @cached_property
    def _action_patterns(self) -> tuple[re.Pattern[str], ...]:
        return tuple(
            patterns.wildcard(p, ignore_case=True) for p in self.actions or self.not_actions or ()
        )

    @cached_property
    def _resource_patterns(self) -> tuple[re.Pattern[str] | str, ...]:
        """Compiled ARN patterns; a value with a policy variable stays text until a request
        supplies the variable."""
        return tuple(
            value if "${" in value else patterns.arn(value)
            for value in self.resources or self.not_resources or ()
        )

    def matches_action(self, action: str) -> bool:
        found = any(p.match(action) for p in self._action_patterns)
        return found if self.actions is not None else not found

    def matches_resource(self, resource: str, lookup: Callable[[str], str | None]) -> bool:
        if self.resources is None and self.not_resources is None:
            return True  # resource-based policies may leave Resource out: the resource itself
        found = False
        for entry in self._resource_patterns:
            if isinstance(entry, str):
                try:
                    compiled = patterns.arn(patterns.substitute(entry, lookup))
                except patterns.Unresolved:
                    continue  # a variable the request lacks: this value matches nothing
            else:
                compiled = entry
            if compiled.match(resource):
                found = True
                break
        return found if self.resources is not None else not found

    def matches_principal(self, principal: Principal) -> PrincipalMatch:
        """How this resource-policy statement names `principal`: directly ("principal"),
        through its account ("account", which delegates to the account's identity-based
        policies), or not at all (None)."""
        if self.principals is not None:
            return _match_spec(self.principals, principal)
        if self.not_principals is not None:
            # everyone except those listed (a listed account excludes its principals too)
            return None if _match_spec(self.not_principals, principal) else "principal"
        return None

    def applies(
        self,
        action: str,
        resource: str,
        context: cond.Context,
        lookup: Callable[[str], str | None],
    ) -> bool:
        return (
            self.matches_action(action)
            and self.matches_resource(resource, lookup)
            and cond.all_hold(self.conditions, context, lookup)
        )


@dataclass(frozen=True)
class Policy:
    """A policy document's statements, in order."""

    statements: tuple[Statement, ...]

    @staticmethod
    def parse(document: Any, owner: str, name: str) -> "Policy":
        """Parse (and cache) a policy document; `owner`/`name` label its statements."""
        text = document if isinstance(document, str) else json.dumps(document, sort_keys=True)
        return _parse(text, owner, name)

    def __iter__(self) -> Any:
        return iter(self.statements)


@lru_cache(maxsize=1024)
def _parse(text: str, owner: str, name: str) -> Policy:
    document = json.loads(text)
    if not isinstance(document, dict):
        raise cond.PolicyError(f"{owner}/{name}: a policy must be an object")
    unknown = set(document) - {"Version", "Id", "Statement"}
    if unknown:
        raise cond.PolicyError(f"{owner}/{name}: unknown policy element(s) {sorted(unknown)}")
    raw = document.get("Statement", [])
    statements = raw if isinstance(raw, list) else [raw]
    return Policy(
        tuple(
            Statement.parse(
                statement,
                StatementSource(
                    owner=owner,
                    policy=name,
                    index=index,
                    sid=statement.get("Sid") if isinstance(statement, dict) else None,
                ),
            )
            for index, statement in enumerate(statements)
        )
    )
