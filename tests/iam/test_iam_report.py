"""The least-privilege report, from synthetic decision records and the real template."""

from pathlib import Path
from typing import Any

import pytest

from local_stack.iam.effective import load_effective_policies, symbolic
from local_stack.iam.records import DecisionLog, DecisionRecord
from local_stack.iam.report import (
    DEFAULT_REASONS,
    MUTATED_STACK_PREFIX,
    TEST_STACK_PREFIX,
    Reason,
    build_report,
    load_reasons,
    main,
    render,
)
from local_stack.template.transform import load_template

ROLE = "PartnerFetcherFunctionRole"


def _statement(grants: str, policy_contains: str = "") -> str:
    """The id of the fetcher role's statement that grants `grants` (found by what it does,
    so the tests follow the template's policies, not their positions)."""
    policies = load_effective_policies(load_template().transformed, symbolic())
    role = policies.roles[ROLE]
    return next(
        s.source.id
        for s in role.statements
        if grants in (s.actions or ()) and policy_contains in s.source.policy
    )


SSM_READ = _statement("ssm:GetParameter")
SQS_SEND = _statement("sqs:SendMessage*")
KMS = _statement("kms:GenerateDataKey")
ON_FAILURE = _statement("sqs:SendMessage", "OnFailure")  # SAM's, for the on-failure queue
BASIC = f"{ROLE}/arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole/#0"
PRINCIPAL = "arn:aws:sts::123456789012:assumed-role/stack-PartnerFetcherFunctionRole/fetcher"


def fetcher(action: str, resource: str, allowed: bool, *statements: str) -> DecisionRecord:
    return DecisionRecord(
        principal=PRINCIPAL,
        function="PartnerFetcherFunction",
        service=action.split(":", maxsplit=1)[0],
        operation="x",
        action=action,
        resource=resource,
        allowed=allowed,
        reason="allowed-by-identity-policy" if allowed else "no-identity-policy-allows",
        statements=statements,
        message=None if allowed else f"User: {PRINCIPAL} is not authorized to perform: {action}",
    )


RECORDS = [
    fetcher("ssm:GetParameter", "arn:aws:ssm:us-east-1:123456789012:parameter/p", True, SSM_READ),
    fetcher("ssm:GetParameter", "arn:aws:ssm:us-east-1:123456789012:parameter/p", True, SSM_READ),
    fetcher("sqs:SendMessage", "arn:aws:sqs:us-east-1:123456789012:ingest", True, SQS_SEND),
    fetcher("kms:Decrypt", "arn:aws:kms:us-east-1:123456789012:key/k", True, KMS),
    fetcher("sqs:DeleteQueue", "arn:aws:sqs:us-east-1:123456789012:ingest", False),
]


@pytest.fixture(scope="module")
def policies():
    return load_effective_policies(load_template().transformed, symbolic())


def fetcher_report(policies: Any, reasons: Any) -> tuple[Any, Any]:
    report = build_report(policies, RECORDS, reasons)
    return report, next(f for f in report.functions if f.function == "PartnerFetcherFunction")


def test_used_actions_are_counted_with_the_statements_that_allowed_them(policies):
    _, fetch = fetcher_report(policies, [])
    assert (
        fetch.used[
            ("ssm:GetParameter", "arn:aws:ssm:us-east-1:123456789012:parameter/p", (SSM_READ,))
        ]
        == 2
    )
    assert sum(fetch.denied.values()) == 1


def test_unused_statements_and_actions_are_flagged_without_a_reason(policies):
    _, fetch = fetcher_report(policies, [])
    whole = {u.statement.source.id for u in fetch.unused if u.whole}
    partial = {(u.statement.source.id, u.actions) for u in fetch.unused if not u.whole}
    assert ON_FAILURE in whole
    assert BASIC in whole
    assert SSM_READ not in whole
    assert SQS_SEND not in whole
    assert KMS not in whole
    assert (KMS, ("kms:GenerateDataKey",)) in partial
    # sqs:SendMessage* covers the sqs:SendMessage that was used
    assert not any(source == SQS_SEND for source, _ in partial)
    assert all(u.flagged for u in fetch.unused)


def test_a_reason_explains_a_statement_or_some_of_its_actions(policies):
    reasons = [
        Reason(KMS.replace(ROLE, "*", 1), "writers need it", ("kms:GenerateDataKey",)),
    ]
    _, fetch = fetcher_report(policies, reasons)
    explained = {(u.statement.source.id, u.actions): u.reason for u in fetch.unused}
    assert explained[(KMS, ("kms:GenerateDataKey",))] == "writers need it"
    assert explained[(ON_FAILURE, ("sqs:SendMessage",))] is None


def test_the_reasons_file_explains_what_aws_uses_for_every_function(policies):
    """The repository's reasons file parses, and covers the managed policies AWS uses
    itself (logs, X-Ray) for every function: they are never flagged.
    Mutation caught: records' allowing statements not attributed."""
    reasons = load_reasons(DEFAULT_REASONS)
    assert reasons
    report = build_report(policies, [], reasons)
    for function in report.functions:
        managed = [
            u for u in function.unused if "AWSLambdaBasicExecutionRole" in u.statement.source.policy
        ]
        assert managed
        assert not any(u.flagged for u in managed), function.function


def test_render_lists_used_denied_and_flagged(policies):
    report, _ = fetcher_report(policies, [])
    text = render(report)
    assert "PartnerFetcherFunction  (role PartnerFetcherFunctionRole)" in text
    assert f"ssm:GetParameter  x2  <- {SSM_READ}" in text
    assert "DENIED:" in text
    assert "FLAGGED: no recorded call used it, and no reason is given (see below)" in text


def test_cli_reads_decision_logs_and_is_strict_on_request(tmp_path: Path, capsys):
    path = tmp_path / "decisions.jsonl"
    log = DecisionLog(path)
    for record in RECORDS:
        log.record(record)
    assert main(["--decisions", str(path)]) == 0
    assert "PartnerFetcherFunction" in capsys.readouterr().out
    assert main(["--decisions", str(path), "--strict"]) == 1
    assert main(["--decisions", str(tmp_path / "missing.jsonl")]) == 2


def denied(principal: str, reason: str = "no-identity-policy-allows") -> DecisionRecord:
    return DecisionRecord(
        principal=principal,
        function="PartnerFetcherFunction",
        service="sqs",
        operation="SendMessage",
        action="sqs:SendMessage",
        resource="arn:aws:sqs:us-east-1:123456789012:ingest",
        allowed=False,
        reason=reason,
        message="AccessDenied",
    )


def role_of(stack: str) -> str:
    return f"arn:aws:sts::123456789012:assumed-role/{stack}-{ROLE}/{stack}-PartnerFetcherFunction"


DELIBERATE = [
    denied(role_of("customer-platform"), reason="injected-fault"),
    denied(role_of(f"{MUTATED_STACK_PREFIX}roles")),
    denied(role_of(f"{TEST_STACK_PREFIX}a-notification-that-9ca8d499")),
]
ACCIDENTAL = denied(role_of("customer-platform"))


def test_each_denial_says_whether_a_test_meant_it(policies):
    """Catches: the test suite's deliberate denials (injected faults, stacks deployed with
    statements removed) shown like real ones, so a newcomer reads a healthy run as broken."""
    # Given an injected fault, a denial in a mutated stack, one in a test's private stack
    # (which the test broke on purpose) and one nobody meant
    report = build_report(policies, [*DELIBERATE, ACCIDENTAL], [])

    text = render(report)

    # Then each is labelled, and only the last counts as unexpected
    assert report.denials == 4
    assert report.unexpected == 1
    assert "expected: injected by a test at the endpoint (LocalStack.inject_fault)" in text
    assert (
        f"expected: a test removed this permission on purpose (stack {MUTATED_STACK_PREFIX}roles)"
        in text
    )
    assert (
        "expected: a test's private stack, broken on purpose"
        f" (stack {TEST_STACK_PREFIX}a-notification-that-9ca8d499)" in text
    )
    assert "UNEXPECTED: the role does not allow it (stack customer-platform)" in text
    assert (
        "4 denial(s): 3 expected (injected or deliberately removed by tests), 1 unexpected" in text
    )


def test_a_denied_service_delivery_says_whether_a_test_meant_it(policies):
    """Catches: deliveries (S3 invoking a function, SNS sending to a queue) refused in a
    stack a test mutated on purpose counted as unexpected, so --strict could never pass."""
    queue = "arn:aws:sqs:us-east-1:123456789012:{}-AuditQueue-X"
    records = [
        DecisionRecord(
            principal="sns.amazonaws.com",
            action="sqs:SendMessage",
            resource=queue.format(stack),
            allowed=False,
            reason="no-resource-policy-allows",
        )
        for stack in (f"{MUTATED_STACK_PREFIX}deliveries", "customer-platform")
    ]

    report = build_report(policies, records, [])
    text = render(report)

    assert report.unexpected == 1
    assert "expected: a test removed this permission on purpose" in text
    assert "UNEXPECTED: the role does not allow it (arn:aws:sqs:" in text


def test_the_report_explains_what_flagged_and_denied_mean(policies):
    """Catches: FLAGGED lines left unexplained (a newcomer cannot tell an over-grant from a
    grant the run did not exercise)."""
    text = render(build_report(policies, [], []), ["pytest", "pytest", "demo"])

    assert text.startswith("Least-privilege report: 0 recorded decisions from pytest (2 files)")
    assert "FLAGGED: a grant no recorded call used" in text
    assert "remove it from template.yaml" in text
    assert "no recorded AWS call: these runs did not exercise its grants" in text
    assert "deploys stacks named\n  t-mutated-* with statements removed" in text


def test_strict_fails_on_flagged_grants_and_unexpected_denials_only(tmp_path: Path, capsys):
    """Catches: --strict failing on the suite's deliberate denials (it could never pass
    after `make test`), or passing over an unexpected one."""
    # Given a reasons file that explains every grant, and logs of deliberate denials
    reasons = tmp_path / "reasons.toml"
    reasons.write_text('[[unused]]\nstatement = "*"\nreason = "all explained"\n')
    deliberate, accidental = tmp_path / "pytest-1.jsonl", tmp_path / "pytest-2.jsonl"
    for record in DELIBERATE:
        DecisionLog(deliberate).record(record)
    DecisionLog(accidental).record(ACCIDENTAL)
    strict = ["--strict", "--reasons", str(reasons), "--decisions"]

    # Then only the unexpected denial fails it
    assert main([*strict, str(deliberate)]) == 0
    assert main([*strict, str(deliberate), str(accidental)]) == 1
    capsys.readouterr()
