"""The roles the benchmark's variants run under (bench/roles.py), judged by the local IAM
check itself: the notes' handlers get exactly what their code calls, which their
function's role does not grant."""

from bench import roles
from local_stack.assembly.stack import LocalStack
from local_stack.iam.actions import Requirement
from local_stack.iam.policy import Principal

NAIVE_DYNAMODB_CALLS = ("PutItem", "GetItem", "UpdateItem", "DeleteItem", "Scan")


def _allowed(stack: LocalStack, principal: Principal, action: str, resource: str) -> bool:
    decision = stack.endpoint.gate.evaluate(principal, Requirement(action, resource), stack.region)
    return decision.allowed


def test_the_notes_dynamodb_handlers_get_a_role_for_exactly_their_calls(stack: LocalStack):
    """Catches: the notes' handlers run under the function's role (UpdateItem denied: the
    warm phase's AccessDeniedException), or a role wider than their calls (a wildcard
    action, the batch or Query operations, another table)."""
    table = stack.cloud.resolve({"Fn::GetAtt": ["CustomersTable", "Arn"]})
    naive = roles.naive_role(stack, "dynamodb").identity().principal("test")
    for call in NAIVE_DYNAMODB_CALLS:
        assert _allowed(stack, naive, f"dynamodb:{call}", table), call
    for call in ("Query", "BatchWriteItem", "DescribeTable", "DeleteTable"):
        assert not _allowed(stack, naive, f"dynamodb:{call}", table), call
    other = table.rsplit("/", 1)[0] + "/another-table"
    assert not _allowed(stack, naive, "dynamodb:PutItem", other)
    function = stack.policies.functions[roles.NAIVE_FUNCTIONS["dynamodb"]].principal()
    assert not _allowed(stack, function, "dynamodb:UpdateItem", table)


def test_the_notes_rds_handlers_read_only_the_secret_the_function_reads(stack: LocalStack):
    """Catches: a naive RDS role that can read the master user's secret, or none at all."""
    naive = roles.naive_role(stack, "rds").identity().principal("test")
    app_secret = stack.function("CustomersRdsFunction").environment["DATABASE_SECRET_ARN"]
    master_secret = stack.cloud.physical_id("DatabaseSecret")
    assert _allowed(stack, naive, "secretsmanager:GetSecretValue", app_secret)
    assert not _allowed(stack, naive, "secretsmanager:GetSecretValue", master_secret)


def test_issued_credentials_are_known_only_while_used(stack: LocalStack):
    """Catches: the bench's credentials left registered with the endpoint after the run (a
    key nobody revokes), or never registered (every call an invalid token)."""
    role = roles.naive_role(stack, "rds")
    with roles.credentials(stack, role, "test") as environment:
        key = environment["AWS_ACCESS_KEY_ID"]
        principal = stack.endpoint.registry.principal(key)
        assert principal is not None
        assert principal.role_arn == role.arn
    assert stack.endpoint.registry.principal(key) is None
