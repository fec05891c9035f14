"""Each function's effective policy, and the resource policies, from the transformed template.

Input: `local_stack.template.transform.load_template(...).transformed` (the SAM transform
has already expanded policy templates such as `SSMParameterReadPolicy` into each role's inline
`Policies`) and a `resolve` callable for intrinsic functions (the deployed stack's
`LocalCloud.resolve`, or `symbolic()` for a report that needs no deployment).

* Identity policies: each role's inline `Policies`, and its `ManagedPolicyArns` read from
  moto's bundled copy of the AWS managed policies (pinned with moto in requirements/dev.txt).
  A managed policy that copy does not hold fails here, loudly.
* Resource policies: SQS queue policies, SNS topic policies, KMS key policies (a key without
  one gets KMS's default, which enables IAM policies), S3 bucket policies, Secrets Manager
  resource policies and Lambda permissions (turned into the statements Lambda's own
  resource policy would hold).
* The roles of EventBridge Scheduler schedules (SAM's `ScheduleV2` events create one per
  schedule) and the function each schedule targets.

Resources whose `Condition` is false are skipped, as CloudFormation skips them.
"""

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from local_stack.iam.actions import Requirement
from local_stack.iam.evaluate import AccessRequest, Decision, evaluate
from local_stack.iam.policy import Policy, Principal, Statement
from local_stack.template.intrinsics import without_novalue

Resolve = Callable[[Any], Any]
MANAGED_PREFIX = re.compile(
    r"^arn:(?P<partition>[\w-]+):iam::aws:policy(?P<path>/(?:.*/)?)(?P<name>[^/]+)$"
)


class TemplateError(ValueError):
    """Something in the template the local IAM check cannot model: fix it or teach it."""


@cache
def _managed_policy_data() -> dict[str, Any]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data  # noqa: PLC0415

    data: dict[str, Any] = json.loads(aws_managed_policies_data)
    return data


def managed_policy(arn: str, owner: str) -> Policy:
    """The document of an AWS managed policy, from moto's bundled data."""
    match = MANAGED_PREFIX.match(arn)
    if match is None:
        raise TemplateError(f"{owner}: {arn!r} is not an AWS managed policy ARN")
    name, path = match["name"], match["path"]
    entry = _managed_policy_data().get(name)
    if entry is None or entry.get("Path", "/") != path:
        import moto  # noqa: PLC0415

        raise TemplateError(
            f"{owner}: managed policy {arn} is not in moto {moto.__version__}'s bundled AWS "
            "managed policies; upgrade moto (requirements/dev.txt) or use an inline policy"
        )
    return Policy.parse(entry["Document"], owner, arn)


# KMS's default key policy ("Allows access to the AWS account and enables IAM policies")
def default_key_policy(account: str, partition: str, owner: str) -> Policy:
    return Policy.parse(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "Enable IAM User Permissions",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        },
        owner,
        "default key policy",
    )


@dataclass(frozen=True)
class RoleIdentity:
    """An IAM role of the template and its identity-based policies."""

    logical_id: str
    arn: str
    policies: tuple[Policy, ...]

    @property
    def statements(self) -> tuple[Statement, ...]:
        return tuple(s for policy in self.policies for s in policy.statements)

    def principal(
        self, session: str, *, function: str | None = None, expires_at: datetime | None = None
    ) -> Principal:
        return Principal.assumed_role(
            self.arn, session, self.policies, function=function, expires_at=expires_at
        )


@dataclass(frozen=True)
class FunctionIdentity:
    """A function and the role its code runs as (session name: the function's name)."""

    logical_id: str
    name: str
    arn: str
    role: RoleIdentity

    def principal(self, expires_at: datetime | None = None) -> Principal:
        return self.role.principal(self.name, function=self.logical_id, expires_at=expires_at)


@dataclass(frozen=True)
class ScheduleIdentity:
    """An EventBridge Scheduler schedule: its role, and the function it invokes."""

    logical_id: str
    name: str
    target_arn: str
    function: str | None  # logical id of the target function
    role: RoleIdentity
    dead_letter_arn: str | None = None

    def principal(self) -> Principal:
        return self.role.principal(self.name)


@dataclass(frozen=True)
class ResourcePolicies:
    """Resource-based policies by resource: queue/topic/key/secret/function ARN, bucket name."""

    account: str
    partition: str
    queues: Mapping[str, Policy] = field(default_factory=dict)
    topics: Mapping[str, Policy] = field(default_factory=dict)
    keys: Mapping[str, Policy] = field(default_factory=dict)
    buckets: Mapping[str, Policy] = field(default_factory=dict)
    secrets: Mapping[str, Policy] = field(default_factory=dict)
    functions: Mapping[str, Policy] = field(default_factory=dict)
    roles: Mapping[str, Policy] = field(default_factory=dict)  # role ARN -> trust policy

    def decide(
        self, principal: Principal, requirement: Requirement, region: str, now: datetime | None
    ) -> Decision:
        """AWS's evaluation of `requirement` for `principal`, with the resource's policy."""
        policy, key_policy = self.for_resource(requirement.resource)
        return evaluate(
            AccessRequest(
                principal=principal,
                action=requirement.action,
                resource=requirement.resource,
                context=requirement.context,
                resource_policy=policy,
                key_policy=key_policy,
                region=region,
                now=now,
            )
        )

    def for_resource(self, resource: str) -> tuple[Policy | None, bool]:  # noqa: PLR0911
        """(the policy governing `resource`, whether it is a KMS key policy)."""
        parts = resource.split(":", 5)
        if len(parts) < 6 or parts[0] != "arn":
            return None, False
        service = parts[2]
        if service == "kms":
            if not parts[5].startswith("key/"):
                return None, True
            found = self.keys.get(resource)
            policy = found or default_key_policy(self.account, self.partition, resource)
            return policy, True
        if service == "s3":
            return self.buckets.get(parts[5].split("/", 1)[0]), False
        if service == "iam" and parts[5].startswith("role/"):
            # sts:AssumeRole: like a key policy, the trust policy must allow the caller, by
            # name or by delegating to the account (then identity policies decide).
            return self.roles.get(resource), True
        if service == "lambda":
            # Each qualifier has its own policy, as in Lambda: a permission on the function
            # does not cover its alias or version, nor one on the alias the function.
            return self.functions.get(_lambda_policy_key(resource)), False
        table = {"sqs": self.queues, "sns": self.topics, "secretsmanager": self.secrets}
        return table.get(service, {}).get(resource), False


def _lambda_policy_key(arn: str) -> str:
    """The ARN whose resource policy governs a call on `arn`: itself, but `$LATEST` is the
    unqualified function (Lambda keeps one policy for both)."""
    return arn.removesuffix(":$LATEST")


def merged(account: str, partition: str, many: Iterable[ResourcePolicies]) -> ResourcePolicies:
    """The resource policies of several deployed stacks served by one endpoint (their
    resources have different ARNs, so nothing collides)."""
    tables: dict[str, dict[str, Policy]] = {
        name: {}
        for name in ("queues", "topics", "keys", "buckets", "secrets", "functions", "roles")
    }
    for policies in many:
        for name, table in tables.items():
            table.update(getattr(policies, name))
    return ResourcePolicies(account=account, partition=partition, **tables)


@dataclass(frozen=True)
class EffectivePolicies:
    account: str
    region: str
    partition: str
    roles: Mapping[str, RoleIdentity]
    functions: Mapping[str, FunctionIdentity]
    schedules: Mapping[str, ScheduleIdentity]
    resources: ResourcePolicies


# -- reading the template ---------------------------------------------------------------------


def _getatt_target(node: Any) -> str | None:
    if isinstance(node, dict) and set(node) == {"Fn::GetAtt"}:
        target = node["Fn::GetAtt"]
        target = target.split(".", 1) if isinstance(target, str) else target
        return str(target[0])
    if isinstance(node, dict) and set(node) == {"Ref"}:
        return str(node["Ref"])
    return None


class _Reader:
    def __init__(self, transformed: dict[str, Any], resolve: Resolve) -> None:
        self.resources: dict[str, Any] = transformed["Resources"]
        self.conditions = transformed.get("Conditions", {})
        self.resolve = resolve
        self.account = str(resolve({"Ref": "AWS::AccountId"}))
        self.region = str(resolve({"Ref": "AWS::Region"}))
        self.partition = str(resolve({"Ref": "AWS::Partition"}))

    def deployed(self, logical_id: str) -> bool:
        condition = self.resources[logical_id].get("Condition")
        if condition is None:
            return True
        return bool(self.resolve({"Fn::If": [condition, True, False]}))

    def of_type(self, resource_type: str) -> list[tuple[str, dict[str, Any]]]:
        return [
            (logical_id, resource.get("Properties", {}))
            for logical_id, resource in self.resources.items()
            if resource["Type"] == resource_type and self.deployed(logical_id)
        ]

    def value(self, node: Any) -> Any:
        return without_novalue(self.resolve(node))

    def role(self, logical_id: str) -> RoleIdentity:
        resource = self.resources.get(logical_id)
        if resource is None or resource["Type"] != "AWS::IAM::Role":
            raise TemplateError(f"{logical_id} is not an AWS::IAM::Role of the template")
        props = resource.get("Properties", {})
        policies: list[Policy] = []
        # resolved as a whole: an entry may be an Fn::If (a policy of an optional resource)
        for inline in self.value(props.get("Policies", [])):
            name = str(inline["PolicyName"])
            policies.append(Policy.parse(inline["PolicyDocument"], logical_id, name))
        for arn in self.value(props.get("ManagedPolicyArns", [])):
            policies.append(managed_policy(str(arn), logical_id))
        # AWS::IAM::Policy resources attached to the role (a grant that cannot live inside
        # the role without a dependency cycle)
        for policy_id, attached in self.of_type("AWS::IAM::Policy"):
            if {"Ref": logical_id} in attached.get("Roles", []):
                name = str(self.value(attached["PolicyName"]))
                document = self.value(attached["PolicyDocument"])
                policies.append(Policy.parse(document, logical_id, f"{policy_id}:{name}"))
        if props.get("PermissionsBoundary"):
            raise TemplateError(f"{logical_id}: permissions boundaries are not evaluated locally")
        arn = str(self.value({"Fn::GetAtt": [logical_id, "Arn"]}))
        return RoleIdentity(logical_id=logical_id, arn=arn, policies=tuple(policies))

    def function_arn(self, reference: str) -> str:
        """The ARN a Lambda permission's `FunctionName` names, qualifier (`:live`, `:3`)
        included: a name, a partial ARN (`123456789012:function:name`) or an ARN."""
        if reference.startswith("${"):  # symbolic: ${Function.Arn}, ${FunctionAliaslive}
            return reference
        if reference.startswith("arn:"):
            return _lambda_policy_key(reference)
        name = reference.split(":function:", 1)[-1]  # 123456789012:function:name[:qualifier]
        prefix = f"arn:{self.partition}:lambda:{self.region}:{self.account}:function:"
        return _lambda_policy_key(prefix + name)


def _lambda_permission_statement(logical_id: str, props: dict[str, Any], function_arn: str) -> Any:
    principal = str(props["Principal"])
    if principal == "*":
        spec: Any = "*"
    elif re.fullmatch(r"\d{12}", principal) or principal.startswith("arn:"):
        spec = {"AWS": principal}
    else:
        spec = {"Service": principal}
    condition: dict[str, dict[str, str]] = {}
    if "SourceArn" in props:
        condition.setdefault("ArnLike", {})["AWS:SourceArn"] = str(props["SourceArn"])
    if "SourceAccount" in props:
        condition.setdefault("StringEquals", {})["AWS:SourceAccount"] = str(props["SourceAccount"])
    if "PrincipalOrgID" in props:
        condition.setdefault("StringEquals", {})["aws:PrincipalOrgID"] = str(
            props["PrincipalOrgID"]
        )
    if "EventSourceToken" in props:
        condition.setdefault("StringEquals", {})["lambda:EventSourceToken"] = str(
            props["EventSourceToken"]
        )
    if "FunctionUrlAuthType" in props:
        condition.setdefault("StringEquals", {})["lambda:FunctionUrlAuthType"] = str(
            props["FunctionUrlAuthType"]
        )
    statement: dict[str, Any] = {
        "Sid": logical_id,
        "Effect": "Allow",
        "Principal": spec,
        "Action": str(props["Action"]),
        "Resource": function_arn,
    }
    if condition:
        statement["Condition"] = condition
    return statement


def _add(target: dict[str, Policy], key: str, policy: Policy) -> None:
    existing = target.get(key)
    target[key] = policy if existing is None else Policy(existing.statements + policy.statements)


def _functions(reader: _Reader, roles: Mapping[str, RoleIdentity]) -> dict[str, FunctionIdentity]:
    functions: dict[str, FunctionIdentity] = {}
    for logical_id, props in reader.of_type("AWS::Lambda::Function"):
        role_id = _getatt_target(props.get("Role"))
        if role_id is None or role_id not in roles:
            raise TemplateError(f"{logical_id}: its Role is not a role of the template")
        functions[logical_id] = FunctionIdentity(
            logical_id=logical_id,
            name=str(reader.value({"Ref": logical_id})),
            arn=reader.function_arn(str(reader.value({"Fn::GetAtt": [logical_id, "Arn"]}))),
            role=roles[role_id],
        )
    return functions


def _schedules(reader: _Reader, roles: Mapping[str, RoleIdentity]) -> dict[str, ScheduleIdentity]:
    schedules: dict[str, ScheduleIdentity] = {}
    for logical_id, props in reader.of_type("AWS::Scheduler::Schedule"):
        target = props["Target"]
        role_id = _getatt_target(target.get("RoleArn"))
        if role_id is None or role_id not in roles:
            raise TemplateError(f"{logical_id}: its Target.RoleArn is not a role of the template")
        dead_letter = target.get("DeadLetterConfig", {}).get("Arn")
        schedules[logical_id] = ScheduleIdentity(
            logical_id=logical_id,
            name=str(reader.value(props["Name"]) if "Name" in props else logical_id),
            target_arn=str(reader.value(target["Arn"])),
            function=_getatt_target(target["Arn"]),
            role=roles[role_id],
            dead_letter_arn=str(reader.value(dead_letter)) if dead_letter else None,
        )
    return schedules


def _queue_policies(reader: _Reader) -> dict[str, Policy]:
    queues: dict[str, Policy] = {}
    for logical_id, props in reader.of_type("AWS::SQS::QueuePolicy"):
        policy = Policy.parse(reader.value(props["PolicyDocument"]), logical_id, "QueuePolicy")
        for queue in props["Queues"]:
            queue_id = _getatt_target(queue)
            if queue_id is not None and queue_id in reader.resources:
                arn = str(reader.value({"Fn::GetAtt": [queue_id, "Arn"]}))
            else:  # a queue URL: https://sqs.<region>.amazonaws.com/<account>/<name>
                name = str(reader.value(queue)).rstrip("/").rsplit("/", 1)[-1]
                arn = f"arn:{reader.partition}:sqs:{reader.region}:{reader.account}:{name}"
            _add(queues, arn, policy)
    return queues


def _documents(
    reader: _Reader, resource_type: str, target: str, document: str
) -> dict[str, Policy]:
    """Policies of `resource_type`, keyed by the resolved value(s) of property `target`."""
    found: dict[str, Policy] = {}
    for logical_id, props in reader.of_type(resource_type):
        label = resource_type.rsplit("::", 1)[-1]
        policy = Policy.parse(reader.value(props[document]), logical_id, label)
        targets = reader.value(props[target])
        for key in targets if isinstance(targets, list) else [targets]:
            _add(found, str(key), policy)
    return found


def _key_policies(reader: _Reader) -> dict[str, Policy]:
    keys: dict[str, Policy] = {}
    for logical_id, props in reader.of_type("AWS::KMS::Key"):
        arn = str(reader.value({"Fn::GetAtt": [logical_id, "Arn"]}))
        document = props.get("KeyPolicy")
        keys[arn] = (
            Policy.parse(reader.value(document), logical_id, "KeyPolicy")
            if document is not None
            else default_key_policy(reader.account, reader.partition, logical_id)
        )
    return keys


def _lambda_permissions(reader: _Reader) -> dict[str, Policy]:
    permissions: dict[str, Policy] = {}
    for logical_id, props in reader.of_type("AWS::Lambda::Permission"):
        resolved = reader.value(props)
        arn = reader.function_arn(str(resolved["FunctionName"]))
        statement = _lambda_permission_statement(logical_id, resolved, arn)
        policy = Policy.parse({"Statement": [statement]}, logical_id, "LambdaPermission")
        _add(permissions, arn, policy)
    return permissions


def _trust_policies(reader: _Reader) -> dict[str, Policy]:
    """Each role's AssumeRolePolicyDocument, by role ARN (who may assume it)."""
    trusts = {}
    for logical_id, props in reader.of_type("AWS::IAM::Role"):
        arn = str(reader.value({"Fn::GetAtt": [logical_id, "Arn"]}))
        document = reader.value(props["AssumeRolePolicyDocument"])
        trusts[arn] = Policy.parse(document, logical_id, "AssumeRolePolicyDocument")
    return trusts


def load_effective_policies(transformed: dict[str, Any], resolve: Resolve) -> EffectivePolicies:
    """Every role, function, schedule and resource policy of the transformed template."""
    reader = _Reader(transformed, resolve)
    roles = {
        logical_id: reader.role(logical_id) for logical_id, _ in reader.of_type("AWS::IAM::Role")
    }
    return EffectivePolicies(
        account=reader.account,
        region=reader.region,
        partition=reader.partition,
        roles=roles,
        functions=_functions(reader, roles),
        schedules=_schedules(reader, roles),
        resources=ResourcePolicies(
            account=reader.account,
            partition=reader.partition,
            queues=_queue_policies(reader),
            topics=_documents(reader, "AWS::SNS::TopicPolicy", "Topics", "PolicyDocument"),
            keys=_key_policies(reader),
            buckets=_documents(reader, "AWS::S3::BucketPolicy", "Bucket", "PolicyDocument"),
            secrets=_documents(
                reader, "AWS::SecretsManager::ResourcePolicy", "SecretId", "ResourcePolicy"
            ),
            functions=_lambda_permissions(reader),
            roles=_trust_policies(reader),
        ),
    )


# -- a resolver that needs no deployment (the report) ------------------------------------------

PSEUDO = {"AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com", "AWS::NoValue": None}


def symbolic(region: str = "${AWS::Region}", account: str = "${AWS::AccountId}") -> Resolve:
    """Resolve intrinsics to readable text (`${CustomersTable}`, `${AppKey.Arn}`) without a
    deployed stack: enough to show what a role grants. Conditions count as true."""
    pseudo = PSEUDO | {"AWS::Region": region, "AWS::AccountId": account}

    def sub(text: str, variables: dict[str, Any]) -> str:
        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(resolve(variables[name]))
            if name in pseudo:
                return str(pseudo[name])
            return "${" + name + "}"

        return re.sub(r"\$\{([^}!][^}]*)\}", one, text)

    def resolve(node: Any) -> Any:  # noqa: PLR0911 - one branch per intrinsic
        if isinstance(node, list):
            return [resolve(item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((name, arg),) = node.items()
            if name == "Ref":
                return pseudo.get(arg, "${" + arg + "}") if arg in pseudo else "${" + arg + "}"
            if name == "Fn::GetAtt":
                target = arg.split(".", 1) if isinstance(arg, str) else arg
                return "${" + ".".join(str(part) for part in target) + "}"
            if name == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                return sub(text, variables)
            if name == "Fn::If":
                return True if arg[1] is True else resolve(arg[1])
            if name == "Fn::Join":
                return str(arg[0]).join(str(resolve(item)) for item in arg[1])
            if name in ("Fn::Select", "Fn::Split", "Fn::ImportValue", "Fn::FindInMap"):
                return "${" + name + "}"
        return {key: resolve(value) for key, value in node.items()}

    return resolve
