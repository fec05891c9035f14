"""The roles at the edge: with ApiAuth=IAM, the stack's three policies decide per method.

API Gateway evaluates `execute-api:Invoke` on `arn:...:<api>/<stage>/<METHOD>/<path>`
before any function runs. The policies template.yaml declares must give each role exactly
the methods customer_platform.authorization gives the Cognito group of the same name, on
every route the REST API has: one table of rights, enforced at the edge where API Gateway
can (IAM) and in the functions where it must (Cognito groups).
"""

import re
from fnmatch import fnmatchcase
from typing import Any

import pytest

from customer_platform.authorization import ALLOWED_GROUPS
from tests.unit.test_api_access_template import deployed, routes
from tools.connection_budget import _resolve

POLICIES = {
    "readers": "ApiReadersPolicy",
    "writers": "ApiWritersPolicy",
    "admins": "ApiAdminsPolicy",
}
CONCRETE = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012"}
API_ID, STAGE = "a1b2c3", "v1"


def _arn(node: Any) -> str:
    """A policy resource's Fn::Sub with the account, the API id and the stage filled in."""
    template = node["Fn::Sub"]
    values = CONCRETE | {"Api": API_ID, "Stage": STAGE}
    return re.sub(r"\$\{([^}]+)\}", lambda m: values[m.group(1)], template)


def allows(policy: dict[str, Any], method: str, path: str) -> bool:
    """IAM's wildcard match of the request's execute-api ARN against the Allow statements."""
    request = f"arn:aws:execute-api:us-east-1:123456789012:{API_ID}/{STAGE}/{method}{path}"
    for statement in policy["PolicyDocument"]["Statement"]:
        resources = statement["Resource"]
        resources = resources if isinstance(resources, list) else [resources]
        assert statement["Effect"] == "Allow"
        assert statement["Action"] == "execute-api:Invoke"
        if any(fnmatchcase(request, _arn(resource)) for resource in resources):
            return True
    return False


def concrete_paths() -> set[str]:
    """Every route of the REST API with its parameters filled in."""
    return {re.sub(r"\{[^}]+\}", "x-1", path) for path, _ in routes(deployed("IAM").transformed)}


@pytest.mark.parametrize("group", sorted(POLICIES))
def test_each_policy_allows_exactly_the_methods_of_its_group(group: str):
    """Catches: a policy broader than its role (say, DELETE for writers) or narrower."""
    policy = deployed("IAM").source["Resources"][POLICIES[group]]["Properties"]

    for path in concrete_paths():
        for method in ("GET", "POST", "PUT", "DELETE"):
            expected = group in ALLOWED_GROUPS[method]
            assert allows(policy, method, path) is expected, (group, method, path)


def test_the_policies_exist_only_with_apiauth_iam():
    source = deployed("IAM").source
    conditions = source["Conditions"]
    for mode, present in (("IAM", True), ("COGNITO", False), ("NONE", False)):
        parameters = {"ApiAuth": mode}
        for logical_id in POLICIES.values():
            condition = source["Resources"][logical_id]["Condition"]
            assert _resolve({"Condition": condition}, parameters, conditions) is present
