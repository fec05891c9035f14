"""The evaluator against AWS's documented evaluation rules, one test per rule.

Sources (each test names the section it checks):
- IAM User Guide, "Policy evaluation logic":
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
  and "Explicit and implicit denies", "Evaluating policies within a single account".
- IAM JSON policy element reference (Action, NotAction, Resource, NotResource, Principal,
  NotPrincipal, Condition):
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements.html
- Condition operators:
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
- Multivalued context keys (ForAnyValue / ForAllValues):
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
- Policy variables:
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
- KMS key policies ("Allows access to the AWS account and enables IAM policies"):
  https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html
"""

from typing import Any

import pytest

from local_stack.iam.conditions import PolicyError
from local_stack.iam.evaluate import AccessRequest, Decision, evaluate
from local_stack.iam.policy import Policy, Principal

ACCOUNT = "123456789012"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/stack-FnRole"
QUEUE = f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def policy(*statements: dict[str, Any], name: str = "P") -> Policy:
    return Policy.parse({"Version": "2012-10-17", "Statement": list(statements)}, "Role", name)


def role(*statements: dict[str, Any]) -> Principal:
    return Principal.assumed_role(ROLE_ARN, "fn", (policy(*statements),) if statements else ())


def allow(action: Any = "sqs:SendMessage", resource: Any = QUEUE, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def decide(
    principal: Principal,
    action: str = "sqs:SendMessage",
    resource: str = QUEUE,
    context: dict[str, Any] | None = None,
    resource_policy: Policy | None = None,
    *,
    key_policy: bool = False,
) -> Decision:
    return evaluate(
        AccessRequest(
            principal=principal,
            action=action,
            resource=resource,
            context=context or {},
            resource_policy=resource_policy,
            key_policy=key_policy,
            region="us-east-1",
        )
    )


# -- evaluation logic ------------------------------------------------------------------------


def test_implicit_deny_when_no_policy_allows():
    """Policy evaluation logic: requests are denied by default (implicit deny)."""
    decision = decide(role())
    assert not decision.allowed
    assert decision.reason == "no-identity-policy-allows"


def test_identity_allow_allows_and_names_the_statement():
    """An Allow in an identity-based policy allows a request within the account."""
    decision = decide(role(allow(Sid="Send")))
    assert decision.allowed
    assert decision.reason == "allowed-by-identity-policy"
    assert decision.statement is not None
    assert decision.statement.id == "Role/P/Send"


def test_explicit_deny_overrides_allow():
    """Explicit and implicit denies: an explicit Deny in any policy overrides any Allow.
    Mutation caught: Deny statements of identity policies ignored."""
    principal = role(allow(), {"Effect": "Deny", "Action": "sqs:*", "Resource": "*"})
    decision = decide(principal)
    assert not decision.allowed
    assert decision.reason == "explicit-deny-in-identity-policy"


def test_explicit_deny_in_resource_policy_overrides_identity_allow():
    """An explicit Deny in a resource-based policy denies even what the identity allows."""
    bucket_policy = Policy.parse(
        {"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "sqs:*", "Resource": QUEUE}]},
        "Queue",
        "QueuePolicy",
    )
    decision = decide(role(allow()), resource_policy=bucket_policy)
    assert not decision.allowed
    assert decision.reason == "explicit-deny-in-resource-policy"


def test_resource_policy_naming_the_role_allows_without_identity_policy():
    """Single account: a resource-based policy that grants the role (or its session) allows
    the request even when no identity-based policy does (identity OR resource)."""
    queue_policy = Policy.parse(
        {"Statement": [{"Effect": "Allow", "Principal": {"AWS": ROLE_ARN}, "Action": "sqs:*"}]},
        "Queue",
        "QueuePolicy",
    )
    decision = decide(role(), resource_policy=queue_policy)
    assert decision.allowed
    assert decision.reason == "allowed-by-resource-policy"


def test_resource_policy_naming_the_account_only_delegates():
    """Principal element: an account principal delegates to the account's identity-based
    policies; it does not by itself allow a principal of that account.
    Mutation caught: an account principal treated as naming the role."""
    queue_policy = Policy.parse(
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                    "Action": "sqs:*",
                }
            ]
        },
        "Queue",
        "QueuePolicy",
    )
    assert not decide(role(), resource_policy=queue_policy).allowed
    assert decide(role(allow()), resource_policy=queue_policy).allowed


def test_service_principal_needs_a_resource_policy():
    """A service principal has no identity-based policies: only a resource-based policy
    that names the service (Principal.Service) allows it."""
    sns = Principal.service("sns.amazonaws.com", ACCOUNT)
    queue_policy = Policy.parse(
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": QUEUE,
                }
            ]
        },
        "Queue",
        "QueuePolicy",
    )
    assert decide(sns, resource_policy=queue_policy).allowed
    denied = decide(sns)
    assert not denied.allowed
    assert denied.reason == "no-resource-policy-allows"


# -- KMS key policies ------------------------------------------------------------------------

ROOT_DELEGATION = {
    "Sid": "EnableIam",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
    "Action": "kms:*",
    "Resource": "*",
}


def test_kms_key_policy_must_allow_or_delegate():
    """KMS: without a key-policy statement for the principal or its account, no IAM policy
    can allow the key's use.
    Mutation caught: key policies evaluated like other resource policies."""
    key_policy = policy(
        {
            "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"},
            "Action": "kms:*",
            "Resource": "*",
        }
    )
    decision = decide(
        role(allow("kms:Decrypt", KEY)),
        "kms:Decrypt",
        KEY,
        resource_policy=key_policy,
        key_policy=True,
    )
    assert not decision.allowed
    assert decision.reason == "no-resource-policy-allows"


def test_kms_root_delegation_lets_identity_policies_decide():
    """KMS: a key policy that allows the account root enables IAM policies; then the
    identity-based policy decides (and without one the request is denied)."""
    key_policy = policy(ROOT_DELEGATION)
    allowed = decide(
        role(allow("kms:Decrypt", KEY)),
        "kms:Decrypt",
        KEY,
        resource_policy=key_policy,
        key_policy=True,
    )
    assert allowed.allowed
    denied = decide(role(), "kms:Decrypt", KEY, resource_policy=key_policy, key_policy=True)
    assert not denied.allowed
    assert denied.reason == "no-identity-policy-allows"


def test_kms_key_policy_naming_the_principal_allows_directly():
    """KMS: a key policy statement for the principal itself allows without IAM policies."""
    key_policy = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": ROLE_ARN},
            "Action": "kms:Decrypt",
            "Resource": "*",
        }
    )
    decision = decide(role(), "kms:Decrypt", KEY, resource_policy=key_policy, key_policy=True)
    assert decision.allowed
    assert decision.reason == "allowed-by-resource-policy"


# -- Action / NotAction ----------------------------------------------------------------------


def test_action_wildcards_and_case_insensitivity():
    """Action: wildcards * and ? are allowed, and action names are case-insensitive.
    Mutation caught: actions compared case-sensitively."""
    assert decide(role(allow("SQS:send*"))).allowed
    assert decide(role(allow("sqs:SendMessag?"))).allowed
    assert not decide(role(allow("sqs:Send?")), "sqs:SendMessage").allowed


def test_not_action_matches_everything_else():
    """NotAction: the statement applies to every action except those listed."""
    principal = role({"Effect": "Allow", "NotAction": "sqs:DeleteQueue", "Resource": "*"})
    assert decide(principal, "sqs:SendMessage").allowed
    assert not decide(principal, "sqs:DeleteQueue").allowed


# -- Resource / NotResource ------------------------------------------------------------------


def test_resource_arns_are_case_sensitive():
    """Resource: ARNs are case-sensitive."""
    assert not decide(role(allow(resource=QUEUE.upper()))).allowed


def test_resource_wildcard_in_resource_part_crosses_slashes():
    """Resource: * in the resource part matches any characters, including slashes."""
    principal = role(allow("s3:GetObject", "arn:aws:s3:::bucket/documents/*"))
    assert decide(principal, "s3:GetObject", "arn:aws:s3:::bucket/documents/a/b.pdf").allowed
    assert not decide(principal, "s3:GetObject", "arn:aws:s3:::bucket/other/a.pdf").allowed


def test_resource_wildcard_in_a_segment_stays_in_that_segment():
    """Resource: a wildcard inside an ARN part (not at its end) does not cross a colon.
    Mutation caught: every * compiled to .* (crossing colons)."""
    principal = role(allow("sqs:SendMessage", "arn:aws:sqs:us-*1:123456789012:orders"))
    assert decide(principal).allowed
    assert not decide(principal, resource="arn:aws:sqs:us-east-2:x:y:1:123456789012:orders").allowed


def test_question_mark_matches_exactly_one_character():
    """Resource: ? matches exactly one character."""
    principal = role(allow(resource="arn:aws:sqs:us-east-1:123456789012:order?"))
    assert decide(principal).allowed
    assert not decide(principal, resource=QUEUE + "s2").allowed


def test_not_resource_matches_everything_else():
    """NotResource: the statement applies to every resource except those listed."""
    principal = role({"Effect": "Allow", "Action": "sqs:SendMessage", "NotResource": QUEUE})
    assert not decide(principal).allowed
    assert decide(principal, resource=QUEUE + "-other").allowed


def test_ssm_parameter_arn_has_one_slash_before_a_path():
    """Resource: the ARN of parameter "/a/b" is ...:parameter/a/b, so a policy that writes
    parameter//a/b (a leading slash in SSMParameterReadPolicy's ParameterName) never matches."""
    arn = f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/stack/feed-url"
    wrong = f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter//stack/feed-url"
    assert not decide(role(allow("ssm:GetParameter", wrong)), "ssm:GetParameter", arn).allowed
    assert decide(role(allow("ssm:GetParameter", arn)), "ssm:GetParameter", arn).allowed


def test_policy_variable_in_resource():
    """Policy variables: ${aws:PrincipalAccount} is replaced by the request's value; a
    variable missing from the request makes that resource not match."""
    principal = role(allow(resource="arn:aws:sqs:us-east-1:${aws:PrincipalAccount}:orders"))
    assert decide(principal).allowed
    missing = role(allow(resource="arn:aws:sqs:us-east-1:${aws:SourceAccount}:orders"))
    assert not decide(missing).allowed


# -- Principal / NotPrincipal ----------------------------------------------------------------


def test_principal_role_arn_matches_its_sessions():
    """Principal: a role ARN names every session of that role."""
    queue_policy = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": [ROLE_ARN]},
            "Action": "sqs:SendMessage",
            "Resource": QUEUE,
        }
    )
    assert decide(role(), resource_policy=queue_policy).allowed
    other = Principal.assumed_role(f"arn:aws:iam::{ACCOUNT}:role/Other", "fn", ())
    assert not decide(other, resource_policy=queue_policy).allowed


def test_not_principal_with_deny_spares_only_those_listed():
    """NotPrincipal: with Deny, everyone except the listed principals is denied."""
    queue_policy = policy(
        {"Effect": "Deny", "NotPrincipal": {"AWS": ROLE_ARN}, "Action": "sqs:*", "Resource": "*"}
    )
    other = Principal.assumed_role(f"arn:aws:iam::{ACCOUNT}:role/Other", "fn", (policy(allow()),))
    assert decide(role(allow()), resource_policy=queue_policy).allowed
    assert decide(other, resource_policy=queue_policy).reason == "explicit-deny-in-resource-policy"


def test_wildcard_principal_names_everyone():
    """Principal "*": every principal, so a Deny with it applies to the role too."""
    queue_policy = policy({"Effect": "Deny", "Principal": "*", "Action": "sqs:*", "Resource": "*"})
    assert not decide(role(allow()), resource_policy=queue_policy).allowed


# -- conditions ------------------------------------------------------------------------------


def conditional(condition: dict[str, Any]) -> Principal:
    return role(allow(Condition=condition))


def test_string_equals_is_case_sensitive_and_values_are_ored():
    """String operators: StringEquals is case-sensitive; several values for one key: OR."""
    principal = conditional({"StringEquals": {"kms:ViaService": ["sqs.x", "sns.x"]}})
    assert decide(principal, context={"kms:ViaService": "sns.x"}).allowed
    assert not decide(principal, context={"kms:ViaService": "SNS.x"}).allowed


def test_string_not_equals_holds_when_no_value_matches():
    """String operators: StringNotEquals holds when the value equals none of the values."""
    principal = conditional({"StringNotEquals": {"aws:SourceVpce": ["vpce-1", "vpce-2"]}})
    assert decide(principal, context={"aws:SourceVpce": "vpce-3"}).allowed
    assert not decide(principal, context={"aws:SourceVpce": "vpce-2"}).allowed


def test_negated_operator_holds_for_a_missing_key():
    """Condition operators: a negated operator is true when the key is not in the request
    (the basis of "deny unless from my VPC endpoint" policies).
    Mutation caught: negated operators false for a missing key."""
    principal = conditional({"StringNotEquals": {"aws:SourceVpce": "vpce-1"}})
    assert decide(principal).allowed


def test_positive_operator_fails_for_a_missing_key():
    """Condition operators: if the key is not present in the request context, the
    condition (positive operator) is false."""
    assert not decide(conditional({"StringEquals": {"kms:ViaService": "sqs.x"}})).allowed


def test_string_like_and_not_like():
    """StringLike / StringNotLike: case-sensitive matching with * and ? wildcards."""
    like = conditional({"StringLike": {"s3:prefix": "documents/*"}})
    assert decide(like, context={"s3:prefix": "documents/a"}).allowed
    assert not decide(like, context={"s3:prefix": "Documents/a"}).allowed
    not_like = conditional({"StringNotLike": {"s3:prefix": ["documents/*", "tmp/?"]}})
    assert decide(not_like, context={"s3:prefix": "other/"}).allowed
    assert not decide(not_like, context={"s3:prefix": "tmp/1"}).allowed


def test_string_equals_ignore_case():
    """StringEqualsIgnoreCase: exact match, ignoring case."""
    principal = conditional({"StringEqualsIgnoreCase": {"ses:FromAddress": "Me@Example.com"}})
    assert decide(principal, context={"ses:FromAddress": "me@example.com"}).allowed


def test_arn_operators_match_part_by_part():
    """ARN operators: ArnEquals/ArnLike match each ARN part, with wildcards; ArnNotEquals
    and ArnNotLike are their negations."""
    topic = f"arn:aws:sns:us-east-1:{ACCOUNT}:events"
    assert decide(
        conditional({"ArnEquals": {"aws:SourceArn": topic}}), context={"aws:SourceArn": topic}
    ).allowed
    assert decide(
        conditional({"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:*:ev*"}}),
        context={"aws:SourceArn": topic},
    ).allowed
    assert not decide(
        conditional({"ArnNotEquals": {"aws:SourceArn": topic}}), context={"aws:SourceArn": topic}
    ).allowed
    assert decide(
        conditional({"ArnNotLike": {"aws:SourceArn": "arn:aws:sns:*:*:other"}}),
        context={"aws:SourceArn": topic},
    ).allowed


def test_bool_operator():
    """Bool: true/false (aws:SecureTransport is true for the TLS requests SDKs make)."""
    assert decide(conditional({"Bool": {"aws:SecureTransport": "true"}})).allowed
    assert not decide(conditional({"Bool": {"aws:SecureTransport": "false"}})).allowed


def test_null_operator_tests_presence():
    """Null: "true" holds when the key is absent, "false" when it is present."""
    absent = conditional({"Null": {"aws:SourceArn": "true"}})
    present = conditional({"Null": {"aws:SourceArn": "false"}})
    assert decide(absent).allowed
    assert not decide(present).allowed
    assert decide(present, context={"aws:SourceArn": QUEUE}).allowed


@pytest.mark.parametrize(
    ("operator", "value", "allowed"),
    [
        ("NumericEquals", "10", True),
        ("NumericNotEquals", "10", False),
        ("NumericLessThan", "11", True),
        ("NumericLessThanEquals", "10", True),
        ("NumericGreaterThan", "10", False),
        ("NumericGreaterThanEquals", "10", True),
    ],
)
def test_numeric_operators(operator: str, value: str, allowed: bool):
    """Numeric condition operators compare numbers (request value 10)."""
    principal = conditional({operator: {"sqs:MaxNumberOfMessages": value}})
    assert decide(principal, context={"sqs:MaxNumberOfMessages": 10}).allowed is allowed


def test_if_exists_holds_for_a_missing_key_and_checks_a_present_one():
    """...IfExists: true when the key is absent, else the operator applies."""
    principal = conditional({"StringEqualsIfExists": {"ses:FromAddress": "a@example.com"}})
    assert decide(principal).allowed
    assert not decide(principal, context={"ses:FromAddress": "b@example.com"}).allowed


def test_multiple_keys_are_anded():
    """Several keys under one operator (and several operators) must all hold."""
    principal = conditional(
        {
            "StringEquals": {"aws:SourceAccount": ACCOUNT, "kms:ViaService": "sqs.x"},
            "Bool": {"aws:SecureTransport": "true"},
        }
    )
    assert decide(
        principal, context={"aws:SourceAccount": ACCOUNT, "kms:ViaService": "sqs.x"}
    ).allowed
    assert not decide(principal, context={"aws:SourceAccount": ACCOUNT}).allowed


def test_for_any_value_needs_one_matching_request_value():
    """ForAnyValue: true if at least one request value matches; false for a missing key."""
    principal = conditional({"ForAnyValue:StringEquals": {"ses:Recipients": "a@example.com"}})
    assert decide(principal, context={"ses:Recipients": ["x@example.com", "a@example.com"]}).allowed
    assert not decide(principal, context={"ses:Recipients": ["x@example.com"]}).allowed
    assert not decide(principal).allowed


def test_for_all_values_needs_every_request_value_to_match():
    """ForAllValues: true if every request value matches (and for a missing key)."""
    principal = conditional({"ForAllValues:StringLike": {"ses:Recipients": "*@example.com"}})
    assert decide(principal, context={"ses:Recipients": ["a@example.com", "b@example.com"]}).allowed
    assert not decide(
        principal, context={"ses:Recipients": ["a@example.com", "b@evil.com"]}
    ).allowed
    assert decide(principal).allowed


def test_condition_keys_are_case_insensitive():
    """Condition keys are case-insensitive (values are compared per operator)."""
    principal = conditional({"StringEquals": {"KMS:VIASERVICE": "sqs.x"}})
    assert decide(principal, context={"kms:ViaService": "sqs.x"}).allowed


def test_principal_arn_is_the_role_arn_for_a_session():
    """Global keys: aws:PrincipalArn of a role session is the role's ARN."""
    principal = conditional({"ArnEquals": {"aws:PrincipalArn": ROLE_ARN}})
    assert decide(principal).allowed


def test_unknown_operator_is_refused():
    """An operator this evaluator does not implement fails loudly, never silently."""
    with pytest.raises(PolicyError, match="no local implementation"):
        policy(allow(Condition={"StringSortaEquals": {"k": "v"}}))


def test_unknown_statement_element_is_refused():
    """A statement element outside the grammar is refused rather than ignored."""
    with pytest.raises(PolicyError, match="unknown element"):
        policy(allow(Resources=QUEUE))
