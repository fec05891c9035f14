"""The roles the benchmark's variants run under, enforced by the local IAM check.

The local stack authorizes every AWS call against the caller's role (local_stack.iam), so
a variant's code must run under a role that fits it. Ours and the floors make the calls of
the function and run as its role. The notes' handlers make other calls (the DynamoDB ones
PutItem, UpdateItem and a plain Scan, which our role does not grant), so they run as the
role the template would give them: least privilege for exactly what their code calls,
written here as a template role's policy would be, registered with the endpoint's IAM
check the way the stack registers its functions' roles (`CredentialRegistry.issue`), and
revoked afterwards. Enforcement stays on; results.json names each variant's role and, for
the notes' roles, their policy.
"""

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from local_stack.assembly.stack import LocalStack
from local_stack.iam.effective import RoleIdentity
from local_stack.iam.policy import Policy

NAIVE_FUNCTIONS = {"rds": "CustomersRdsFunction", "dynamodb": "CustomersDynamoDBFunction"}


@dataclass(frozen=True)
class BenchRole:
    """A role of the benchmark's own: its name, ARN and identity policy document."""

    name: str
    arn: str
    document: dict[str, Any]

    def identity(self) -> RoleIdentity:
        policy = Policy.parse(self.document, self.name, "least-privilege")
        return RoleIdentity(logical_id=self.name, arn=self.arn, policies=(policy,))

    def describe(self) -> dict[str, Any]:
        return {"role": self.name, "arn": self.arn, "policy": self.document}


def _via(stack: LocalStack, *services: str) -> dict[str, Any]:
    suffix = stack.cloud.resolve({"Ref": "AWS::URLSuffix"})
    endpoints = [f"{service}.{stack.region}.{suffix}" for service in services]
    return {"StringEquals": {"kms:ViaService": endpoints[0] if len(endpoints) == 1 else endpoints}}


def naive_policy(stack: LocalStack, backend: str) -> dict[str, Any]:
    """What the notes' handlers of `backend` call (bench/naive_rds.py, naive_dynamodb.py),
    and nothing else, on this stack's resources."""
    key = stack.cloud.resolve({"Fn::GetAtt": ["AppKey", "Arn"]})
    if backend == "rds":
        function = stack.function(NAIVE_FUNCTIONS["rds"])
        return {
            "Version": "2012-10-17",
            "Statement": [
                {  # get_secret(): one GetSecretValue of the database secret per call
                    "Sid": "TheDatabaseSecret",
                    "Effect": "Allow",
                    "Action": "secretsmanager:GetSecretValue",
                    "Resource": function.environment["DATABASE_SECRET_ARN"],
                },
                {
                    "Sid": "DecryptItThroughSecretsManager",
                    "Effect": "Allow",
                    "Action": "kms:Decrypt",
                    "Resource": key,
                    "Condition": _via(stack, "secretsmanager"),
                },
            ],
        }
    if backend == "dynamodb":
        table = stack.cloud.resolve({"Fn::GetAtt": ["CustomersTable", "Arn"]})
        return {
            "Version": "2012-10-17",
            "Statement": [
                {  # create, get, update, delete, list_: one Table call each
                    "Sid": "TheNotesTableCalls",
                    "Effect": "Allow",
                    "Action": [
                        "dynamodb:PutItem",
                        "dynamodb:GetItem",
                        "dynamodb:UpdateItem",
                        "dynamodb:DeleteItem",
                        "dynamodb:Scan",
                    ],
                    "Resource": table,
                },
                {
                    "Sid": "TheTablesKeyThroughDynamoDB",
                    "Effect": "Allow",
                    "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
                    "Resource": key,
                    "Condition": _via(stack, "dynamodb"),
                },
            ],
        }
    raise ValueError(f"the notes have no handlers for {backend!r}")


def naive_role(stack: LocalStack, backend: str) -> BenchRole:
    account = stack.cloud.resolve({"Ref": "AWS::AccountId"})
    partition = stack.cloud.resolve({"Ref": "AWS::Partition"})
    name = f"{stack.stack_name}-naive-{backend}"
    return BenchRole(
        name, f"arn:{partition}:iam::{account}:role/{name}", naive_policy(stack, backend)
    )


def function_role(stack: LocalStack, logical_id: str) -> dict[str, Any]:
    """How results.json names a function's own role (the template's)."""
    role = stack.policies.functions[logical_id].role
    return {"role": role.logical_id, "arn": role.arn, "function": logical_id}


@contextlib.contextmanager
def credentials(stack: LocalStack, role: BenchRole, session: str) -> Iterator[dict[str, str]]:
    """Temporary credentials of `role` known to the endpoint's IAM check, as environment
    variables; revoked on exit."""
    registry = stack.endpoint.registry
    issued = registry.issue(role.identity().principal(session))
    try:
        yield issued.environment()
    finally:
        registry.revoke(issued.access_key_id)
