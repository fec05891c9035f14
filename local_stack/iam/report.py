"""The least-privilege report: per function, what it used beside what its role grants.

    python -m local_stack.iam.report [--decisions FILE ...] [--reasons FILE] [--strict]

Reads the gate's decision logs (JSON lines, default: every file in `.local/iam/decisions/`) and the
template, and prints for every function:
* used: each action and resource it was allowed, how often, and by which statement(s);
* denied: each denial, as the caller was told;
* granted, never used: each statement of its role that allowed nothing, and, in statements
  that were used, each granted action that was never needed. Each carries the reason from
  the reasons file (`local_stack/iam/unused-reasons.toml`) or is FLAGGED.

FLAGGED means: no recorded call used the grant, and the reasons file does not say why. After
a whole `make test` that is a grant the code does not need (drop it from template.yaml) or
one AWS uses outside the code (give its reason); after a partial run it may only mean that
nothing exercised it. Each denial says where it came from: a fault a test injected at the
endpoint, a stack a test deployed with permissions removed on purpose (its name starts with
MUTATED_STACK_PREFIX), another private stack of a test that breaks things on purpose
(TEST_STACK_PREFIX, tests/conftest.py's `fresh_stack`), or none of those: UNEXPECTED.
With `--strict` the exit status is 1 when anything is FLAGGED or a denial is unexpected.
"""

import argparse
import fnmatch
import os
import re
import sys
import tomllib
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from local_stack.iam import patterns
from local_stack.iam.effective import EffectivePolicies, load_effective_policies, symbolic
from local_stack.iam.policy import Statement
from local_stack.iam.records import DecisionRecord, read_records

ROOT = Path(__file__).resolve().parents[2]
# Every run with the IAM check on (tests, `make demo`, `make api`) writes its own file here.
DEFAULT_DECISIONS = ROOT / ".local" / "iam" / "decisions"
DEFAULT_REASONS = Path(__file__).with_name("unused-reasons.toml")
# Tests that break things on purpose deploy private stacks under names with this prefix
# (tests/conftest.py's `fresh_stack`); those that remove permissions, with the second one
# (tests/iam/test_template_mutations.py, test_delivery_mutations.py). Their denials are meant.
TEST_STACK_PREFIX = "t-"
MUTATED_STACK_PREFIX = f"{TEST_STACK_PREFIX}mutated-"
INJECTED = "injected by a test at the endpoint (LocalStack.inject_fault): a fault, not a permission"
MUTATED = "a test removed this permission on purpose ({where})"
TEST_STACK = "a test's private stack, broken on purpose ({where})"
UNEXPECTED = "UNEXPECTED: the role does not allow it ({where})"
LEGEND = """\
FLAGGED: a grant no recorded call used, with no reason in local_stack/iam/unused-reasons.toml.
  After a whole `make test` (and `make demo`), it is either a permission the code does not
  need (remove it from template.yaml) or one AWS uses outside the code (add its reason).
  After a partial run it may only mean that nothing exercised it yet.
DENIED: each says where it came from. The test suite injects faults, deploys stacks named
  t-mutated-* with statements removed, and breaks its other private stacks (t-*) on
  purpose: those denials are expected. An UNEXPECTED one is a call the role does not
  allow: a missing or mis-scoped grant."""


@dataclass(frozen=True)
class Reason:
    statement: str  # a statement id pattern (fnmatch): "<role>/<policy>/<sid or #index>"
    reason: str
    actions: tuple[str, ...] = ()  # empty: the whole statement

    def covers(self, statement_id: str, action: str | None = None) -> bool:
        if not fnmatch.fnmatchcase(statement_id, self.statement):
            return False
        if action is None:
            return not self.actions
        return not self.actions or any(a.lower() == action.lower() for a in self.actions)


def load_reasons(path: Path) -> list[Reason]:
    if not path.exists():
        return []
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return [
        Reason(
            entry["statement"], " ".join(entry["reason"].split()), tuple(entry.get("actions", ()))
        )
        for entry in data.get("unused", [])
    ]


@dataclass(frozen=True)
class Unused:
    statement: Statement
    actions: tuple[str, ...]  # the unused granted actions (all of them for an unused statement)
    whole: bool  # the statement allowed nothing at all
    reason: str | None  # None: FLAGGED

    @property
    def flagged(self) -> bool:
        return self.reason is None


@dataclass
class FunctionReport:
    function: str
    role: str
    used: Counter[tuple[str, str, tuple[str, ...]]] = field(default_factory=Counter)
    denied: Counter[tuple[str, str, str, str]] = field(default_factory=Counter)  # + origin
    unused: list[Unused] = field(default_factory=list)


@dataclass
class Report:
    functions: list[FunctionReport]
    deliveries: Counter[tuple[str, str, str, bool]]
    records: int

    @property
    def flagged(self) -> int:
        return sum(1 for f in self.functions for u in f.unused if u.flagged)

    @property
    def denials(self) -> int:
        return sum(sum(f.denied.values()) for f in self.functions) + sum(
            count for (_, _, _, allowed), count in self.deliveries.items() if not allowed
        )

    @property
    def unexpected(self) -> int:
        """Denials neither injected by a test nor met by a stack a test mutated."""
        return sum(
            count
            for f in self.functions
            for (*_, origin), count in f.denied.items()
            if origin.startswith("UNEXPECTED")
        ) + sum(
            count
            for (principal, _, resource, allowed), count in self.deliveries.items()
            if not allowed and delivery_origin(principal, resource).startswith("UNEXPECTED")
        )


def _origin(name: str, where: str) -> str:
    """Expected when `name` (a stack's, or a resource's or role's named after its stack) is
    one of the tests' stacks that break things on purpose."""
    if name.startswith(MUTATED_STACK_PREFIX):
        return MUTATED.format(where=where)
    if name.startswith(TEST_STACK_PREFIX):
        return TEST_STACK.format(where=where)
    return UNEXPECTED.format(where=where)


def delivery_origin(principal: str, resource: str) -> str:
    """Where a service delivery's denial came from: the stack of the role or resource
    involved (CloudFormation names both `<stack>-<logical id>-...`)."""
    names = [part for part in re.split(r"[:/ ]", f"{principal} {resource}") if part]
    tested = next((n for n in names if n.startswith(TEST_STACK_PREFIX)), None)
    return _origin(tested, tested) if tested else _origin("", resource)


def denial_origin(record: DecisionRecord, role_logical_id: str) -> str:
    """Where a function's denial came from, judged by the decision and the caller's stack
    (a role is named `<stack>-<role logical id>`, the session is the function)."""
    if record.reason == "injected-fault":
        return INJECTED
    role_name = record.principal.split(":assumed-role/", 1)[-1].split("/", 1)[0]
    stack = role_name.removesuffix(f"-{role_logical_id}")
    return _origin(stack, f"stack {stack}")


def _reason(reasons: Sequence[Reason], statement_id: str, action: str | None) -> str | None:
    return next((r.reason for r in reasons if r.covers(statement_id, action)), None)


def _unused(
    statements: Iterable[Statement],
    allowed_by: dict[str, set[str]],
    reasons: Sequence[Reason],
) -> list[Unused]:
    """Allow statements that allowed nothing, and unused actions of those that did."""
    found = []
    for statement in statements:
        if statement.effect != "Allow":
            continue
        sid = statement.source.id
        if sid not in allowed_by:
            granted = statement.actions or statement.not_actions or ()
            found.append(Unused(statement, tuple(granted), True, _reason(reasons, sid, None)))
            continue
        for pattern in statement.actions or ():  # NotAction: no list of unused actions
            if not any(patterns.action_matches(pattern, used) for used in allowed_by[sid]):
                found.append(Unused(statement, (pattern,), False, _reason(reasons, sid, pattern)))
    return found


def build_report(
    policies: EffectivePolicies, records: Iterable[DecisionRecord], reasons: Sequence[Reason]
) -> Report:
    by_function: dict[str, list[DecisionRecord]] = defaultdict(list)
    deliveries: Counter[tuple[str, str, str, bool]] = Counter()
    count = 0
    for record in records:
        count += 1
        if record.function:
            by_function[record.function].append(record)
        else:
            deliveries[(record.principal, record.action, record.resource, record.allowed)] += 1
    reports = []
    for name in sorted(policies.functions):
        identity = policies.functions[name]
        report = FunctionReport(function=name, role=identity.role.logical_id)
        allowed_by: dict[str, set[str]] = defaultdict(set)  # statement id -> actions it allowed
        for record in by_function.get(name, []):
            if record.allowed:
                report.used[(record.action, record.resource, record.statements)] += 1
                for source in record.statements:
                    allowed_by[source].add(record.action)
            else:
                origin = denial_origin(record, identity.role.logical_id)
                denial = (record.action, record.resource, record.message or record.reason, origin)
                report.denied[denial] += 1
        report.unused = _unused(identity.role.statements, allowed_by, reasons)
        reports.append(report)
    return Report(reports, deliveries, count)


SHOWN_RESOURCES = 3


def _used_lines(used: Counter[tuple[str, str, tuple[str, ...]]]) -> list[str]:
    """One entry per action and allowing statements: its calls and (some of) its resources
    (an S3 prefix can see thousands of keys)."""
    grouped: dict[tuple[str, tuple[str, ...]], Counter[str]] = defaultdict(Counter)
    for (action, resource, statements), times in used.items():
        grouped[(action, statements)][resource] += times
    lines = []
    for (action, statements), resources in sorted(grouped.items()):
        calls = sum(resources.values())
        lines.append(f"    {action}  x{calls}  <- {', '.join(statements) or '?'}")
        for resource, times in resources.most_common(SHOWN_RESOURCES):
            lines.append(f"        {resource}  x{times}")
        if len(resources) > SHOWN_RESOURCES:
            lines.append(f"        ... and {len(resources) - SHOWN_RESOURCES} more resources")
    return lines


def render(report: Report, sources: Sequence[str] = ()) -> str:
    read = Counter(sources)
    origin = ", ".join(f"{name} ({count} file{'s' * (count > 1)})" for name, count in read.items())
    lines = [
        f"Least-privilege report: {report.records} recorded decisions"
        + (f" from {origin}" if origin else ""),
        "",
    ]
    for function in report.functions:
        lines.append(f"{function.function}  (role {function.role})")
        if not function.used and not function.denied:
            lines.append("  no recorded AWS call: these runs did not exercise its grants")
        if function.used:
            lines.append("  used:")
            lines.extend(_used_lines(function.used))
        if function.denied:
            lines.append("  DENIED:")
            for (action, resource, message, origin), times in sorted(function.denied.items()):
                lines.append(f"    {action} on {resource}  x{times}: {message}")
                lines.append(
                    f"      {'' if origin.startswith('UNEXPECTED') else 'expected: '}{origin}"
                )
        if function.unused:
            lines.append("  granted, never used:")
            for unused in function.unused:
                what = "statement" if unused.whole else "action"
                statement = unused.statement
                resources = ", ".join(statement.resources or statement.not_resources or ("*",))
                verdict = (
                    f"reason: {unused.reason}"
                    if unused.reason
                    else "FLAGGED: no recorded call used it, and no reason is given (see below)"
                )
                lines.append(
                    f"    {what} {statement.source.id}: {', '.join(unused.actions)} on {resources}"
                )
                lines.append(f"      {verdict}")
        lines.append("")
    if report.deliveries:
        lines.append("Service deliveries (performed on behalf of AWS services)")
        for (principal, action, resource, allowed), times in sorted(report.deliveries.items()):
            verdict = "allowed" if allowed else "DENIED"
            lines.append(f"  {verdict:<7} {principal} {action} on {resource}  x{times}")
            if not allowed:
                origin = delivery_origin(principal, resource)
                meant = "" if origin.startswith("UNEXPECTED") else "expected: "
                lines.append(f"          {meant}{origin}")
        lines.append("")
    expected = report.denials - report.unexpected
    lines.append(LEGEND)
    lines.append("")
    lines.append(
        f"{report.flagged} unused grant(s) without a reason (FLAGGED), {report.denials}"
        f" denial(s): {expected} expected (injected or deliberately removed by tests),"
        f" {report.unexpected} unexpected"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local_stack.iam.report", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--decisions",
        type=Path,
        nargs="*",
        default=[DEFAULT_DECISIONS],
        help="decision logs (JSON lines) the gate wrote, or folders of them",
    )
    parser.add_argument("--template", type=Path, default=ROOT / "template.yaml")
    parser.add_argument("--reasons", type=Path, default=DEFAULT_REASONS)
    parser.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 if any grant is unused without a reason, or any denial is unexpected",
    )
    args = parser.parse_args(argv)
    missing = [path for path in args.decisions if not path.exists()]
    logs = [
        log
        for path in args.decisions
        if path.exists()
        for log in (sorted(path.glob("*.jsonl")) if path.is_dir() else [path])
    ]
    if missing or not logs:
        print(
            f"no decision log in {', '.join(map(str, args.decisions))}: run the test suite or "
            "`make demo` with the IAM check on first",
            file=sys.stderr,
        )
        return 2
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # the SAM transform needs one
    from local_stack.template.transform import load_template  # noqa: PLC0415 - after the region is set

    policies = load_effective_policies(load_template(args.template).transformed, symbolic())
    report = build_report(policies, read_records(logs), load_reasons(args.reasons))
    print(render(report, [log.name.split("-", 1)[0] for log in logs]))
    return 1 if args.strict and (report.flagged or report.unexpected) else 0


if __name__ == "__main__":
    sys.exit(main())
