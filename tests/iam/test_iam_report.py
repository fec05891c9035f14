"""The least-privilege report, from synthetic decision records and the real template."""

from pathlib import Path
from typing import Any

import pytest

from local_stack.iam.effective import load_effective_policies, symbolic
from local_stack.iam.records import DecisionLog, DecisionRecord
from local_stack.iam.report import DEFAULT_REASONS, Reason, build_report, load_reasons, main, render
from local_stack.template import load_template

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
    assert "FLAGGED: no reason given" in text


def test_cli_reads_decision_logs_and_is_strict_on_request(tmp_path: Path, capsys):
    path = tmp_path / "decisions.jsonl"
    log = DecisionLog(path)
    for record in RECORDS:
        log.record(record)
    assert main(["--decisions", str(path)]) == 0
    assert "PartnerFetcherFunction" in capsys.readouterr().out
    assert main(["--decisions", str(path), "--strict"]) == 1
    assert main(["--decisions", str(tmp_path / "missing.jsonl")]) == 2
