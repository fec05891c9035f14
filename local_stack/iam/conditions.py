"""The `Condition` element of a policy statement, compiled once and evaluated per request.

Semantics (IAM User Guide, "IAM JSON policy elements: Condition operators" and "Condition
keys with multiple values", "Creating a condition with multiple keys or values"):

* every operator of a block must hold, and within an operator every key (AND);
* several values for one key: the key holds if it matches any of them (OR); for the
  negated operators (`StringNotEquals`, `StringNotLike`, `ArnNotEquals`, `ArnNotLike`,
  `NumericNotEquals`, `DateNotEquals`, `NotIpAddress`) if it matches none of them;
* a key missing from the request: the positive operators are false, the negated ones are
  true, any `...IfExists` operator is true, `ForAllValues:` is true and `ForAnyValue:` is
  false; `Null` tests presence itself;
* a multivalued request key (`ForAnyValue:`/`ForAllValues:`) is compared value by value;
* keys are case-insensitive, values are compared as each operator says.
"""

import base64
import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from local_stack.iam import patterns

ContextValues = tuple[str, ...]
Context = Mapping[str, ContextValues]  # lower-cased key -> its value(s), as text


def as_context_values(value: Any) -> ContextValues:
    """A request-context value as the tuple of strings the operators compare."""
    if isinstance(value, bool):
        return ("true" if value else "false",)
    if isinstance(value, datetime):
        return (value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),)
    if isinstance(value, str | int | float):
        return (str(value),)
    if isinstance(value, Sequence):
        return tuple(item for entry in value for item in as_context_values(entry))
    raise TypeError(f"unsupported condition context value {value!r}")


def make_context(values: Mapping[str, Any]) -> dict[str, ContextValues]:
    return {key.lower(): as_context_values(value) for key, value in values.items()}


# -- value comparisons -----------------------------------------------------------------------

Compare = Callable[[str, str], bool]


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _date(text: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _numeric(test: Callable[[float, float], bool]) -> Compare:
    def compare(actual: str, expected: str) -> bool:
        a, e = _number(actual), _number(expected)
        return a is not None and e is not None and test(a, e)

    return compare


def _dated(test: Callable[[datetime, datetime], bool]) -> Compare:
    def compare(actual: str, expected: str) -> bool:
        a, e = _date(actual), _date(expected)
        return a is not None and e is not None and test(a, e)

    return compare


def _ip(actual: str, expected: str) -> bool:
    try:
        return ipaddress.ip_address(actual) in ipaddress.ip_network(expected, strict=False)
    except ValueError:
        return False


def _binary(actual: str, expected: str) -> bool:
    try:
        return base64.b64decode(actual) == base64.b64decode(expected)
    except ValueError:
        return False


def _like(actual: str, expected: str) -> bool:
    return patterns.wildcard(expected, ignore_case=False).match(actual) is not None


def _arn(actual: str, expected: str) -> bool:
    return patterns.arn_matches(expected, actual)


# base operator -> (comparison of one request value with one policy value, negated)
OPERATORS: dict[str, tuple[Compare, bool]] = {
    "StringEquals": (lambda a, e: a == e, False),
    "StringNotEquals": (lambda a, e: a == e, True),
    "StringEqualsIgnoreCase": (lambda a, e: a.lower() == e.lower(), False),
    "StringNotEqualsIgnoreCase": (lambda a, e: a.lower() == e.lower(), True),
    "StringLike": (_like, False),
    "StringNotLike": (_like, True),
    "NumericEquals": (_numeric(lambda a, e: a == e), False),
    "NumericNotEquals": (_numeric(lambda a, e: a == e), True),
    "NumericLessThan": (_numeric(lambda a, e: a < e), False),
    "NumericLessThanEquals": (_numeric(lambda a, e: a <= e), False),
    "NumericGreaterThan": (_numeric(lambda a, e: a > e), False),
    "NumericGreaterThanEquals": (_numeric(lambda a, e: a >= e), False),
    "DateEquals": (_dated(lambda a, e: a == e), False),
    "DateNotEquals": (_dated(lambda a, e: a == e), True),
    "DateLessThan": (_dated(lambda a, e: a < e), False),
    "DateLessThanEquals": (_dated(lambda a, e: a <= e), False),
    "DateGreaterThan": (_dated(lambda a, e: a > e), False),
    "DateGreaterThanEquals": (_dated(lambda a, e: a >= e), False),
    "Bool": (lambda a, e: a.lower() == e.lower(), False),
    "BinaryEquals": (_binary, False),
    "IpAddress": (_ip, False),
    "NotIpAddress": (_ip, True),
    # the policy value is the ARN pattern (wildcards allowed in all four)
    "ArnEquals": (_arn, False),
    "ArnLike": (_arn, False),
    "ArnNotEquals": (_arn, True),
    "ArnNotLike": (_arn, True),
}

QUALIFIERS = ("ForAnyValue", "ForAllValues")


class PolicyError(ValueError):
    """A policy this evaluator cannot read: refusing it is safer than guessing."""


def _policy_values(raw: Any) -> tuple[str, ...]:
    values = raw if isinstance(raw, list) else [raw]
    out = []
    for value in values:
        if isinstance(value, bool):
            out.append("true" if value else "false")
        elif isinstance(value, str | int | float):
            out.append(str(value))
        else:
            raise PolicyError(f"condition value {value!r} is not a scalar")
    return tuple(out)


@dataclass(frozen=True)
class Condition:
    """One key under one operator, e.g. `StringEquals: {kms:ViaService: [...]}`."""

    operator: str  # as written, e.g. "ForAnyValue:StringLikeIfExists"
    base: str  # e.g. "StringLike", or "Null"
    qualifier: str | None
    if_exists: bool
    key: str  # lower-cased
    values: tuple[str, ...]

    def holds(self, context: Context, lookup: Callable[[str], str | None]) -> bool:
        actual = context.get(self.key) or ()
        present = len(actual) > 0
        if self.base == "Null":
            # "true": the key must be absent; "false": present. Several values: OR.
            return any((value.lower() == "true") != present for value in self.values)
        if not present:
            if self.if_exists or self.qualifier == "ForAllValues":
                return True
            if self.qualifier == "ForAnyValue":
                return False
            return OPERATORS[self.base][1]  # negated operators hold for a missing key
        compare, negated = OPERATORS[self.base]
        expected = []
        for value in self.values:
            try:
                expected.append(patterns.substitute(value, lookup))
            except patterns.Unresolved:
                continue  # a value whose variable is missing matches nothing

        def one(value: str) -> bool:
            matched = any(compare(value, policy_value) for policy_value in expected)
            return not matched if negated else matched

        if self.qualifier == "ForAllValues":
            return all(one(value) for value in actual)
        return any(one(value) for value in actual)


def compile_block(block: Any) -> tuple[Condition, ...]:
    """The `Condition` element of a statement, checked and compiled."""
    if block is None:
        return ()
    if not isinstance(block, dict):
        raise PolicyError(f"Condition must be an object, got {block!r}")
    conditions = []
    for operator, keys in block.items():
        qualifier, _, rest = operator.rpartition(":")
        if qualifier and qualifier not in QUALIFIERS:
            raise PolicyError(f"unknown condition set operator {qualifier!r} in {operator!r}")
        base = rest
        if_exists = base.endswith("IfExists")
        if if_exists:
            base = base[: -len("IfExists")]
        if base != "Null" and base not in OPERATORS:
            raise PolicyError(f"condition operator {operator!r} has no local implementation")
        if base == "Null" and (if_exists or qualifier):
            raise PolicyError(f"{operator!r}: Null takes no IfExists or set qualifier")
        if not isinstance(keys, dict):
            raise PolicyError(f"{operator}: expected an object of keys, got {keys!r}")
        for key, raw in keys.items():
            conditions.append(
                Condition(
                    operator=operator,
                    base=base,
                    qualifier=qualifier or None,
                    if_exists=if_exists,
                    key=key.lower(),
                    values=_policy_values(raw),
                )
            )
    return tuple(conditions)


def all_hold(
    conditions: Sequence[Condition], context: Context, lookup: Callable[[str], str | None]
) -> bool:
    return all(condition.holds(context, lookup) for condition in conditions)
