"""template.yaml as CloudFormation receives it, read the way CloudFormation reads it.

`deployed(**parameters)` is the SAM transform's output (local_stack.template.transform: the same
transform `sam deploy` runs, after AWS::LanguageExtensions). The helpers below evaluate what
CloudFormation decides from it for one set of parameter values: which resources a
condition creates, which branch of each Fn::If applies, what each resource waits for
(DependsOn and every Ref, GetAtt and Sub), and whether a Rules assertion refuses the
parameters. Only the intrinsics the template uses are understood; anything else fails the
test that reaches it, never passes it.

PARAMETER_SETS are the deployments the template supports: the two samconfig.toml
environments and each optional mode; `every_deployment()` crosses them with every ApiAuth.
"""

import re
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest

from local_stack.template.transform import SamTemplate, load_template
from tests.support.parameters import BASE
from tools.connection_budget import samconfig_parameters

API_AUTH_MODES = ("COGNITO", "IAM", "NONE")
EXISTING_DATABASE = {
    "ExistingDatabaseSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf",
    "ExistingDatabaseSubnetIds": "subnet-0aa11,subnet-0bb22",
    "ExistingDatabaseSecurityGroupIds": "sg-0cc33",
}
EXISTING_DATABASE_KEY = (
    "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
)
ALARM_EMAIL = {"AlarmEmail": "operators@example.com"}


def _samconfig(environment: str) -> dict[str, str]:
    return samconfig_parameters()[environment]


PARAMETER_SETS: dict[str, dict[str, str]] = {
    "sandbox": _samconfig("default"),
    "prod": _samconfig("prod") | ALARM_EMAIL,
    "proxy": {"EnableDatabaseProxy": "true"},
    "cdn": {"EnableDocumentsCdn": "true", "DocumentsCdnPublicKeyPem": "x"},
    "existing-database": EXISTING_DATABASE,
    "snapstart": {"EnableSnapStart": "true"},
}


def every_deployment() -> list[Any]:
    """pytest params (parameter set, ApiAuth) for every supported deployment."""
    return [
        pytest.param(name, mode, id=f"{name}-{mode}")
        for name in PARAMETER_SETS
        for mode in API_AUTH_MODES
    ]


def parameters_of(name: str, mode: str) -> dict[str, str]:
    return PARAMETER_SETS[name] | {"ApiAuth": mode}


def deployed(**parameters: str) -> SamTemplate:
    """The template transformed with `parameters` on top of the current test's setting
    (tests.support.parameters.BASE: the optional Aurora backend on or off)."""
    return _deployed(**(BASE | parameters))


@cache
def _deployed(**parameters: str) -> SamTemplate:
    return load_template(parameters=parameters)


def resources(template: SamTemplate) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = template.transformed["Resources"]
    return found


def of_type(template: SamTemplate, resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in resources(template).items() if v["Type"] == resource_type}


# -- what CloudFormation decides for one set of parameter values ----------------------------------


def values_of(template: SamTemplate, parameters: dict[str, str]) -> dict[str, str]:
    return template.parameter_defaults() | BASE | parameters


def _operand(node: Any, values: dict[str, str]) -> str:
    if isinstance(node, dict) and set(node) == {"Ref"}:
        return values[node["Ref"]]
    if isinstance(node, dict) and set(node) == {"Fn::Join"}:
        separator, items = node["Fn::Join"]
        return str(separator).join(_operand(item, values) for item in items)
    if isinstance(node, dict):
        raise AssertionError(f"no local evaluation of {node}")
    return str(node)


def evaluate(condition: Any, template: SamTemplate, values: dict[str, str]) -> bool:
    """A condition (or a Rules assertion) of the template for the given parameter values."""
    if isinstance(condition, str):
        return evaluate(template.transformed["Conditions"][condition], template, values)
    (name, args), *_ = condition.items()
    if name == "Condition":
        return evaluate(args, template, values)
    if name == "Fn::Not":
        return not evaluate(args[0], template, values)
    if name == "Fn::And":
        return all(evaluate(arg, template, values) for arg in args)
    if name == "Fn::Or":
        return any(evaluate(arg, template, values) for arg in args)
    if name == "Fn::Equals":
        left, right = (_operand(arg, values) for arg in args)
        return left == right
    raise AssertionError(f"no local evaluation of {name}")


def created(template: SamTemplate, parameters: dict[str, str]) -> set[str]:
    values = values_of(template, parameters)
    return {
        logical_id
        for logical_id, resource in resources(template).items()
        if "Condition" not in resource or evaluate(resource["Condition"], template, values)
    }


_NO_VALUE = object()


def chosen(node: Any, template: SamTemplate, values: dict[str, str]) -> Any:
    """`node` with every Fn::If replaced by the branch the parameters select and every
    `!Ref AWS::NoValue` removed, as CloudFormation reads it."""
    if isinstance(node, list):
        items = [chosen(item, template, values) for item in node]
        return [item for item in items if item is not _NO_VALUE]
    if not isinstance(node, dict):
        return node
    if node == {"Ref": "AWS::NoValue"}:
        return _NO_VALUE
    if set(node) == {"Fn::If"}:
        condition, when_true, when_false = node["Fn::If"]
        branch = when_true if evaluate(condition, template, values) else when_false
        return chosen(branch, template, values)
    result = {}
    for key, value in node.items():
        read = chosen(value, template, values)
        if read is not _NO_VALUE:
            result[key] = read
    return result


def references(
    node: Any, template: SamTemplate, values: dict[str, str], names: set[str]
) -> Iterator[str]:
    """Resources `node` refers to (Ref, GetAtt, Sub), taking only the Fn::If branch the
    parameters select, as CloudFormation does."""
    if isinstance(node, list):
        for item in node:
            yield from references(item, template, values, names)
        return
    if not isinstance(node, dict):
        return
    if set(node) == {"Fn::If"}:
        condition, when_true, when_false = node["Fn::If"]
        branch = when_true if evaluate(condition, template, values) else when_false
        yield from references(branch, template, values, names)
        return
    if set(node) == {"Ref"} and node["Ref"] in names:
        yield node["Ref"]
        return
    if set(node) == {"Fn::GetAtt"}:
        target = node["Fn::GetAtt"]
        name = target.split(".", 1)[0] if isinstance(target, str) else target[0]
        if name in names:
            yield name
        return
    if set(node) == {"Fn::Sub"}:
        text, variables = (
            (node["Fn::Sub"], {}) if isinstance(node["Fn::Sub"], str) else node["Fn::Sub"]
        )
        for match in re.finditer(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}", text):
            if match.group(1) in names and match.group(1) not in variables:
                yield match.group(1)
        yield from references(variables, template, values, names)
        return
    for value in node.values():
        yield from references(value, template, values, names)


def dependencies(template: SamTemplate, parameters: dict[str, str]) -> dict[str, set[str]]:
    """logical id -> what CloudFormation creates before it (and so deletes after it):
    DependsOn and every reference in its Properties and Metadata."""
    values = values_of(template, parameters)
    names = set(resources(template))
    graph = {}
    for logical_id, resource in resources(template).items():
        depends = resource.get("DependsOn", [])
        found = set([depends] if isinstance(depends, str) else depends)
        for part in ("Properties", "Metadata"):
            found |= set(references(resource.get(part, {}), template, values, names))
        graph[logical_id] = found
    return graph


def before(graph: dict[str, set[str]], logical_id: str) -> set[str]:
    """Everything created before `logical_id` (transitively)."""
    seen: set[str] = set()
    todo = [logical_id]
    while todo:
        for dependency in graph[todo.pop()] - seen:
            seen.add(dependency)
            todo.append(dependency)
    return seen


def refused_by_rules(template: SamTemplate, parameters: dict[str, str]) -> list[str]:
    """The Rules whose assertions refuse these parameters (CloudFormation then refuses the
    change set before creating anything)."""
    values = values_of(template, parameters)
    refused = []
    for name, rule in template.transformed.get("Rules", {}).items():
        applies = "RuleCondition" not in rule or evaluate(rule["RuleCondition"], template, values)
        if applies and not all(
            evaluate(assertion["Assert"], template, values) for assertion in rule["Assertions"]
        ):
            refused.append(name)
    return refused
