"""The IAM model of the deployed template: effective policies, resource facts from moto,
and the deliveries the local stack performs on behalf of AWS services.

The template is the real one (the session `stack` fixture); mutations are applied to a copy
of its transformed form, never to template.yaml.
"""

import copy
from typing import Any

import pytest

from local_stack.assembly.stack import LocalStack
from local_stack.iam.deliveries import Deliveries
from local_stack.iam.effective import (
    EffectivePolicies,
    TemplateError,
    load_effective_policies,
)
from local_stack.iam.facts import MotoFacts


def effective(stack: LocalStack, transformed: dict[str, Any] | None = None) -> EffectivePolicies:
    return load_effective_policies(transformed or stack.template.transformed, stack.cloud.resolve)


def arn(stack: LocalStack, logical_id: str) -> str:
    return str(stack.cloud.resolve({"Fn::GetAtt": [logical_id, "Arn"]}))


def live(stack: LocalStack, function: str) -> str:
    """The ARN of the function's "live" alias (AutoPublishAlias): what its event sources
    invoke and its permissions name."""
    return str(stack.cloud.resolve({"Ref": f"{function}Aliaslive"}))


def deliveries(stack: LocalStack, transformed: dict[str, Any] | None = None) -> Deliveries:
    policies = effective(stack, transformed)
    return Deliveries(policies, MotoFacts(policies.account, policies.region))


def test_every_function_has_its_role_with_inline_and_managed_statements(stack: LocalStack):
    policies = effective(stack)
    assert set(policies.functions) == set(stack.template.functions)
    for function in policies.functions.values():
        role_id = function.role.logical_id
        assert function.role.arn == arn(stack, role_id)
        sources = {statement.source.policy for statement in function.role.statements}
        assert "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole" in sources
        assert any(name.startswith(role_id) for name in sources), "its inline policies"
        principal = function.principal()
        assert principal.arn.endswith(
            f":assumed-role/{function.role.arn.rsplit('/', 1)[1]}/{function.name}"
        )


def test_an_unknown_managed_policy_fails_loudly(stack: LocalStack):
    transformed = copy.deepcopy(stack.template.transformed)
    role = transformed["Resources"]["PartnerFetcherFunctionRole"]["Properties"]
    role["ManagedPolicyArns"].append("arn:aws:iam::aws:policy/NoSuchManagedPolicy")
    with pytest.raises(TemplateError, match=r"not in moto .* bundled AWS managed policies"):
        effective(stack, transformed)


def test_resource_policies_of_the_template(stack: LocalStack):
    resources = effective(stack).resources
    key_policy, is_key = resources.for_resource(arn(stack, "AppKey"))
    assert is_key
    assert key_policy is not None
    assert {s.source.sid for s in key_policy.statements} >= {
        "AccountAdministersKeyThroughIam",
        "SnsDeliversToThisStacksEncryptedQueues",
    }
    queue_policy, _ = resources.for_resource(arn(stack, "AuditQueue"))
    assert queue_policy is not None
    bucket = stack.cloud.physical_id("DocumentsBucket")
    bucket_policy, _ = resources.for_resource(f"arn:aws:s3:::{bucket}/documents/x")
    assert bucket_policy is not None
    # S3's permission is on the "live" alias the bucket notifies, not on the function
    function_policy, _ = resources.for_resource(live(stack, "DocumentUploadedFunction"))
    assert function_policy is not None
    assert resources.for_resource(arn(stack, "DocumentUploadedFunction")) == (None, False)


def test_moto_facts_of_the_deployed_resources(stack: LocalStack):
    policies = effective(stack)
    facts = MotoFacts(policies.account, policies.region)
    key = arn(stack, "AppKey")
    assert facts.queue_arn(stack.cloud.physical_id("IngestQueue")) == arn(stack, "IngestQueue")
    assert facts.queue_key(arn(stack, "IngestQueue")) == key
    assert facts.queue_key(arn(stack, "PartnerSyncScheduleDeadLetterQueue")) is None  # SSE-SQS
    assert facts.topic_key(stack.cloud.physical_id("CustomerEventsTopic")) == key
    assert facts.table_key(stack.cloud.physical_id("CustomersTable")) == key
    secret = stack.cloud.physical_id("PageTokenSecret")
    assert facts.secret_arn(secret.split(":secret:", 1)[1].rsplit("-", 1)[0]) == secret
    assert facts.secret_key(secret) == key
    assert facts.bucket_key(stack.cloud.physical_id("DocumentsBucket")) == (key, True)


def test_sns_delivers_only_to_the_queues_whose_policy_names_the_topic(stack: LocalStack):
    check = deliveries(stack)
    topic = stack.cloud.physical_id("CustomerEventsTopic")
    assert check.sns_to_sqs(topic, arn(stack, "AuditQueue")).allowed
    assert check.sns_to_sqs(topic, arn(stack, "NotificationsQueue")).allowed
    refused = check.sns_to_sqs(topic, arn(stack, "IngestQueue"))
    assert not refused.allowed
    assert "because no resource-based policy allows the sqs:SendMessage action" in refused.reason
    other_topic = topic.rsplit(":", 1)[0] + ":someone-elses-topic"
    assert not check.sns_to_sqs(other_topic, arn(stack, "AuditQueue")).allowed


def test_sns_delivery_breaks_without_the_queue_policy_statement(stack: LocalStack):
    """Mutation: the queue policy's statement removed from a copy of the template.
    Mutation caught: aws:SourceArn left out of SNS's delivery context.
    Mutation caught: managed policies dropped from the roles."""
    transformed = copy.deepcopy(stack.template.transformed)
    transformed["Resources"]["CustomerEventsQueuePolicy"]["Properties"]["PolicyDocument"][
        "Statement"
    ] = []
    topic = stack.cloud.physical_id("CustomerEventsTopic")
    refused = deliveries(stack, transformed).sns_to_sqs(topic, arn(stack, "AuditQueue"))
    assert not refused.allowed
    assert "sqs:SendMessage" in refused.reason


def test_sns_delivery_breaks_without_the_key_policy_statement_for_sns(stack: LocalStack):
    """Mutation: the key policy's SNS statement removed; the queue policy still allows, the
    key does not (an encrypted queue needs both)."""
    transformed = copy.deepcopy(stack.template.transformed)
    key_policy = transformed["Resources"]["AppKey"]["Properties"]["KeyPolicy"]
    key_policy["Statement"] = [
        s
        for s in key_policy["Statement"]
        if not (isinstance(s, dict) and s.get("Sid") == "SnsDeliversToThisStacksEncryptedQueues")
    ]
    topic = stack.cloud.physical_id("CustomerEventsTopic")
    refused = deliveries(stack, transformed).sns_to_sqs(topic, arn(stack, "AuditQueue"))
    assert not refused.allowed
    assert "kms:GenerateDataKey" in refused.reason
    assert "because no resource-based policy allows" in refused.reason


def test_s3_invokes_only_functions_whose_permission_allows_it(stack: LocalStack):
    check = deliveries(stack)
    bucket = stack.cloud.physical_id("DocumentsBucket")
    assert check.s3_to_lambda(bucket, live(stack, "DocumentUploadedFunction")).allowed
    # the permission names the alias: the function itself is not covered, as in Lambda
    assert not check.s3_to_lambda(bucket, arn(stack, "DocumentUploadedFunction")).allowed
    refused = check.s3_to_lambda(bucket, live(stack, "DocumentsFunction"))
    assert not refused.allowed
    assert "lambda:InvokeFunction" in refused.reason


def test_s3_invoke_breaks_without_the_lambda_permission(stack: LocalStack):
    """Mutation: the function's AWS::Lambda::Permission for S3 removed."""
    transformed = copy.deepcopy(stack.template.transformed)
    del transformed["Resources"]["DocumentUploadedFunctionObjectCreatedPermission"]
    bucket = stack.cloud.physical_id("DocumentsBucket")
    check = deliveries(stack, transformed)
    assert not check.s3_to_lambda(bucket, live(stack, "DocumentUploadedFunction")).allowed


def test_api_gateway_invokes_the_functions_of_its_routes(stack: LocalStack):
    check = deliveries(stack)
    api = stack.cloud.physical_id("Api")
    function = live(stack, "CustomersDynamoDBFunction")
    assert check.api_to_lambda(api, "v1", "GET", "/dynamodb/customers/123", function).allowed
    assert not check.api_to_lambda(api, "v1", "GET", "/documents/1", function).allowed
    unqualified = arn(stack, "CustomersDynamoDBFunction")
    assert not check.api_to_lambda(api, "v1", "GET", "/dynamodb/customers/1", unqualified).allowed
    # each route's integration invokes the alias its permission names
    assert stack.api.integrations[("/dynamodb/customers/{id}", "ANY")] == function


def test_schedules_invoke_their_function_with_their_role(stack: LocalStack):
    check = deliveries(stack)
    assert check.schedule_to_function("PartnerFetcherFunctionDaily").allowed
    assert check.schedule_to_function("OutboxRelayFunctionEveryMinute").allowed
    assert check.schedule_dead_letter("PartnerFetcherFunctionDaily").allowed


def test_schedule_invoke_breaks_without_its_role_policy(stack: LocalStack):
    """Mutation: the schedule role's lambda:InvokeFunction policy removed."""
    transformed = copy.deepcopy(stack.template.transformed)
    role = transformed["Resources"]["PartnerFetcherFunctionDailyRole"]["Properties"]
    role["Policies"] = [p for p in role["Policies"] if not p["PolicyName"].endswith("LambdaPolicy")]
    refused = deliveries(stack, transformed).schedule_to_function("PartnerFetcherFunctionDaily")
    assert not refused.allowed
    assert (
        "because no identity-based policy allows the lambda:InvokeFunction action" in refused.reason
    )
