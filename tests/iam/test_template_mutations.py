"""Every function needs the permissions its role grants: a copy of template.yaml with one
statement removed from a function's role makes a local run of that function fail with
AWS's denial. The mutation is applied to the template (never to the IAM check or the
code), deployed like any stack and run through the same emulators as the real one.

One copy of the template removes one statement from every function's role at once: the
roles are independent, so each function's failure is its own missing statement's (the
denial recorded for each function names the action that statement granted).
"""

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from local_stack.assembly.stack import LocalStack
from local_stack.iam.report import MUTATED_STACK_PREFIX
from local_stack.paths import ROOT
from local_stack.runtime.functions import FunctionError, Invocation
from local_stack.services.endpoint import AwsEndpoint
from local_stack.services.event_sources import StreamMapping
from local_stack.services.mysql import ServerAddress
from local_stack.template.transform import load_yaml
from tests.conftest import deploy

EVENTS = ROOT / "events"


@dataclass(frozen=True)
class Mutation:
    """Remove `statement` (a policy template's name, or an inline statement's Sid) from
    the function's Policies; `event` runs it; `denied` is the action AWS would refuse."""

    statement: str
    event: str
    denied: str
    occurrence: int = 0  # which one, when the function uses a policy template twice
    # the sample event made to name this stack's resources, where the function checks them
    adapt: Callable[[LocalStack, dict[str, Any]], dict[str, Any]] | None = None


def in_the_documents_bucket(stack: LocalStack, event: dict[str, Any]) -> dict[str, Any]:
    """The notification as the stack's own bucket would send it (the function ignores
    notifications of any other bucket)."""
    bucket = stack.cloud.physical_id("DocumentsBucket")
    for record in event["Records"]:
        record["s3"]["bucket"] |= {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"}
    return event


def as_the_mapping_filters_it(stack: LocalStack, event: dict[str, Any]) -> dict[str, Any]:
    """Only the records the stream mapping's FilterCriteria let through, as Lambda delivers
    them (the sample batch also holds an email-guard item, which the filter drops)."""
    (mapping,) = [
        found
        for found in stack.event_sources.for_function("CustomerEventsPublisherFunction")
        if isinstance(found, StreamMapping)
    ]
    event["Records"] = [
        record
        for record in event["Records"]
        if any(pattern.matches_event(record) for pattern in mapping.filters)
    ]
    return event


MUTATIONS = {
    "CustomersDynamoDBFunction": Mutation(
        "CustomersAndTheirEmailGuards", "customers_dynamodb/create.json", "dynamodb:PutItem"
    ),
    "CustomersRdsFunction": Mutation(
        "AWSSecretsManagerGetSecretValuePolicy",
        "customers_rds/get.json",
        "secretsmanager:GetSecretValue",
    ),
    "CustomersDjangoFunction": Mutation(
        "AWSSecretsManagerGetSecretValuePolicy",
        "customers_django/get.json",
        "secretsmanager:GetSecretValue",
    ),
    "DocumentsFunction": Mutation("DocumentMetadata", "documents/create.json", "dynamodb:PutItem"),
    "DocumentUploadedFunction": Mutation(
        "DocumentMetadata",
        "document_uploaded/object-created.json",
        "dynamodb:GetItem",
        adapt=in_the_documents_bucket,
    ),
    "CustomerEventsPublisherFunction": Mutation(
        "SNSPublishMessagePolicy",
        "customer_events_publisher/stream-batch.json",
        "sns:Publish",
        adapt=as_the_mapping_filters_it,
    ),
    "OutboxRelayFunction": Mutation(
        "AWSSecretsManagerGetSecretValuePolicy", "", "secretsmanager:GetSecretValue"
    ),
    "CustomerAuditFunction": Mutation(
        "AppendToAndReadTheTrail", "customer_audit/sqs-batch.json", "dynamodb:PutItem"
    ),
    "WelcomeEmailFunction": Mutation(
        "IdempotencyRecords", "welcome_email/sqs-batch.json", "dynamodb:PutItem"
    ),
    "PartnerFetcherFunction": Mutation(
        "ReadTheFeedUrlParameter", "partner_fetcher/scheduled.json", "ssm:GetParameter"
    ),
    "PartnerWriterFunction": Mutation(
        "AWSSecretsManagerGetSecretValuePolicy",
        "partner_writer/ingest-batch.json",
        "secretsmanager:GetSecretValue",
    ),
    "CustomersAuroraFunction": Mutation(
        "StatementsAndTransactionsOnTheCluster",
        "customers_aurora/get.json",
        "rds-data:ExecuteStatement",
    ),
    # The Data API reads the secret with the caller's permissions (an implicit requirement).
    "AuroraOutboxRelayFunction": Mutation(
        "TheApplicationUsersSecretForTheDataApi", "", "secretsmanager:GetSecretValue"
    ),
}
# The migrations run while the stack deploys (the custom resources): a separate copy each.
MIGRATIONS = {
    "DatabaseMigrationsFunction": Mutation(
        "AWSSecretsManagerGetSecretValuePolicy", "", "secretsmanager:GetSecretValue"
    ),
    "AuroraMigrationsFunction": Mutation(
        "RunTheMigrationsThroughTheDataApi", "", "rds-data:ExecuteStatement"
    ),
}


def without(source: dict[str, Any], function: str, mutation: Mutation) -> dict[str, Any]:
    """`source` with `mutation.statement` gone from `function`'s Policies."""
    policies: list[dict[str, Any]] = source["Resources"][function]["Properties"]["Policies"]
    seen = 0
    for index, entry in enumerate(policies):
        # a policy of an optional resource: !If [Condition, policy, !Ref AWS::NoValue]
        policy = entry["Fn::If"][1] if "Fn::If" in entry else entry
        if mutation.statement in policy:  # a policy template, e.g. SNSPublishMessagePolicy
            if seen == mutation.occurrence:
                del policies[index]
                return source
            seen += 1
        statements = policy.get("Statement", [])
        kept = [s for s in statements if s.get("Sid") != mutation.statement]
        if len(kept) != len(statements):
            if kept:
                policy["Statement"] = kept
            else:
                del policies[index]
            return source
    raise AssertionError(f"{function} has no {mutation.statement}: update MUTATIONS")


def write(source: dict[str, Any], folder: Path) -> Path:
    path = folder / "template.json"  # JSON is YAML: the SAM translator reads it as is
    path.write_text(json.dumps(source))
    return path


@pytest.fixture(scope="module")
def mutated(
    endpoint: AwsEndpoint,
    mysql_server: ServerAddress,
    function_logs: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LocalStack]:
    source = copy.deepcopy(load_yaml())
    for function, mutation in MUTATIONS.items():
        source = without(source, function, mutation)
    template = write(source, tmp_path_factory.mktemp("mutated"))
    stack = deploy(endpoint, function_logs, f"{MUTATED_STACK_PREFIX}roles", template=template)
    yield stack
    stack.close()


def run(invoke: Callable[[], Invocation]) -> tuple[bool, str]:
    """Whether the invocation failed as its caller would see it (an error, a 5xx answer, or
    batch items reported as failed), and what the function answered and wrote."""
    try:
        invocation = invoke()
    except FunctionError as error:
        return True, f"{error}\n{error.logs}"
    result = invocation.result
    said = f"{json.dumps(result)}\n{invocation.logs}"
    if isinstance(result, dict):
        if int(result.get("statusCode", 200)) >= 500:
            return True, said
        return bool(result.get("batchItemFailures")), said
    return False, said


def test_every_function_is_covered():
    functions = {
        logical_id
        for logical_id, resource in load_yaml()["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    assert functions == set(MUTATIONS) | set(MIGRATIONS)


@pytest.mark.parametrize("function", sorted(MUTATIONS))
def test_a_function_without_a_statement_it_relies_on_fails_with_the_denial(
    mutated: LocalStack, function: str
):
    mutation = MUTATIONS[function]
    event = json.loads((EVENTS / mutation.event).read_text()) if mutation.event else {}
    if mutation.adapt is not None:
        event = mutation.adapt(mutated, event)

    failed, said = run(lambda: mutated.function(function).invoke(event))

    assert failed
    # The function itself was told, as AWS tells it: the failure is the denial, not another
    # error (a feed out of reach, a record that fails anyway) that a denial merely joined.
    # (SNS spells its actions "SNS:Publish": IAM actions are case-insensitive.)
    assert f"is not authorized to perform: {mutation.denied}".lower() in said.lower(), said
    denied = {record.action for record in mutated.calls(function, allowed=False)}
    assert mutation.denied in denied, denied


@pytest.mark.parametrize("function", sorted(MIGRATIONS))
def test_the_migrations_without_their_permissions_fail_the_deploy(
    endpoint: AwsEndpoint,
    mysql_server: ServerAddress,
    function_logs: Path,
    tmp_path: Path,
    function: str,
):
    """What CloudFormation would do: the custom resource fails, the deploy with it."""
    mutation = MIGRATIONS[function]
    template = write(without(copy.deepcopy(load_yaml()), function, mutation), tmp_path)

    with pytest.raises(FunctionError) as failure:
        deploy(
            endpoint, function_logs, f"{MUTATED_STACK_PREFIX}{function.lower()}", template=template
        )

    assert mutation.denied in failure.value.logs
    assert "is not authorized to perform" in failure.value.logs
