"""API access as deployed: template.yaml transformed the way CloudFormation does it, per ApiAuth.

Every route is read from the REST API's generated body (what API Gateway imports), so a
route added to any function later is checked without a change here. A route that escapes
the chosen authorizer or the API key fails the suite.
"""

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft4Validator
from pydantic import ValidationError

from customer_platform.customers.models import CustomerInput
from local_stack.services.apigateway import LocalApi
from local_stack.template.transform import (
    SamTemplate,
    load_template,
    load_yaml,
    resolve_language_extensions,
)
from tests.support.parameters import BASE, with_and_without_aurora  # noqa: F401
from tools import openapi

ROOT = Path(__file__).resolve().parents[2]
MODES = ("COGNITO", "IAM", "NONE")
METHODS = {
    "get",
    "put",
    "post",
    "delete",
    "patch",
    "head",
    "options",
    "x-amazon-apigateway-any-method",
}
# The security requirement each mode puts on every method, beside the API key.
AUTHORIZER = {"COGNITO": "CognitoUserPool", "IAM": "AWS_IAM", "NONE": None}


def deployed(mode: str | None) -> SamTemplate:
    """template.yaml as CloudFormation deploys it with ApiAuth=mode (None: the default)."""
    return _deployed(mode, tuple(sorted(BASE.items())))


@cache
def _deployed(mode: str | None, base: tuple[tuple[str, str], ...]) -> SamTemplate:
    return load_template(parameters=dict(base) | ({} if mode is None else {"ApiAuth": mode}))


def rest_api_body(template: dict[str, Any]) -> dict[str, Any]:
    apis = [r for r in template["Resources"].values() if r["Type"] == "AWS::ApiGateway::RestApi"]
    assert len(apis) == 1, "one REST API"
    body: dict[str, Any] = apis[0]["Properties"]["Body"]
    return body


def routes(template: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """(path, METHOD) -> method definition, for every method of the REST API."""
    found = {}
    for path, item in rest_api_body(template)["paths"].items():
        for method, definition in item.items():
            if method in METHODS:
                name = "ANY" if method.startswith("x-amazon") else method.upper()
                found[(path, name)] = definition
    return found


def uncovered(template: dict[str, Any], mode: str) -> list[str]:
    """Routes that do not require the mode's authorizer and the API key (none is the goal)."""
    escaped = []
    for (path, method), definition in sorted(routes(template).items()):
        required = {name for entry in definition.get("security", []) for name in entry}
        authorizer = AUTHORIZER[mode]
        wanted = {"api_key"} | ({authorizer} if authorizer else set())
        if required != wanted:
            escaped.append(f"{method} {path}: {sorted(required)}, wanted {sorted(wanted)}")
    return escaped


def source_routes(source: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (event["Properties"]["Path"], event["Properties"]["Method"].upper())
        for resource in source["Resources"].values()
        if resource["Type"] == "AWS::Serverless::Function"
        for event in resource["Properties"].get("Events", {}).values()
        if event["Type"] == "Api"
    }


# -- every route, every mode -----------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_every_route_requires_the_chosen_authorizer_and_an_api_key(mode: str):
    # Given template.yaml deployed with ApiAuth=mode
    template = deployed(mode).transformed

    # When the routes of its REST API are read
    found = routes(template)

    # Then each function's Api events are all there, and none escapes
    assert set(found) == source_routes(deployed(mode).source)
    assert uncovered(template, mode) == []


def test_the_default_is_cognito_so_no_route_answers_without_a_token():
    # Given the template with its default parameters
    default = deployed(None)

    # Then ApiAuth defaults to COGNITO, and every route requires a user pool token
    assert default.parameter_defaults()["ApiAuth"] == "COGNITO"
    assert uncovered(default.transformed, "COGNITO") == []
    assert all(
        {"CognitoUserPool": []} in definition["security"]
        for definition in routes(default.transformed).values()
    )


def test_the_coverage_check_catches_a_route_that_opts_out(tmp_path: Path):
    # Given a function event that opts out of the Api's authorizer
    source = copy.deepcopy(deployed("COGNITO").source)
    events = source["Resources"]["CustomersDynamoDBFunction"]["Properties"]["Events"]
    events["Open"] = {
        "Type": "Api",
        "Properties": {
            "RestApiId": {"Ref": "Api"},
            "Path": "/dynamodb/open",
            "Method": "GET",
            "Auth": {"Authorizer": "NONE", "ApiKeyRequired": False},
        },
    }
    path = tmp_path / "template.yaml"
    path.write_text(json.dumps(source))

    # When it is transformed
    template = load_template(path, parameters={"ApiAuth": "COGNITO"}).transformed

    # Then the check names it
    assert uncovered(template, "COGNITO") == [
        "GET /dynamodb/open: [], wanted ['CognitoUserPool', 'api_key']"
    ]


def test_cognito_tokens_come_from_the_stacks_own_user_pool():
    body = rest_api_body(deployed("COGNITO").transformed)

    scheme = body["securityDefinitions"]["CognitoUserPool"]

    assert scheme["x-amazon-apigateway-authtype"] == "cognito_user_pools"
    assert scheme["name"] == "Authorization"
    assert scheme["x-amazon-apigateway-authorizer"]["providerARNs"] == [
        {"Fn::GetAtt": ["UserPool", "Arn"]}
    ]


def test_iam_mode_signs_requests_with_sigv4():
    body = rest_api_body(deployed("IAM").transformed)

    assert body["securityDefinitions"]["AWS_IAM"]["x-amazon-apigateway-authtype"] == "awsSigv4"


def test_api_keys_are_read_from_the_x_api_key_header():
    for mode in MODES:
        body = rest_api_body(deployed(mode).transformed)
        assert body["securityDefinitions"]["api_key"] == {
            "type": "apiKey",
            "name": "x-api-key",
            "in": "header",
        }


def test_the_user_pool_is_strict_about_passwords_and_sign_ups():
    resources = deployed("COGNITO").transformed["Resources"]
    pool = resources["UserPool"]["Properties"]
    client = resources["UserPoolClient"]["Properties"]

    policy = pool["Policies"]["PasswordPolicy"]
    assert policy["MinimumLength"] >= 12
    assert all(
        policy[f"Require{kind}"] for kind in ("Lowercase", "Uppercase", "Numbers", "Symbols")
    )
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert pool["UsernameAttributes"] == ["email"]
    assert client["GenerateSecret"] is False
    assert client["PreventUserExistenceErrors"] == "ENABLED"
    assert "ALLOW_USER_PASSWORD_AUTH" in client["ExplicitAuthFlows"]


# -- usage plan and stage throttling -----------------------------------------------------------


def test_the_usage_plan_limits_each_client_with_the_parameters():
    # Given per-client limits as parameters
    template = load_template(
        parameters={
            "ApiClientRateLimit": "3",
            "ApiClientBurstLimit": "6",
            "ApiClientQuotaLimit": "500",
            "ApiClientQuotaPeriod": "WEEK",
        }
    ).transformed
    resources = template["Resources"]

    # Then the usage plan carries them, on the API's stage, with a key for the first client
    plan = resources["ApiUsagePlan"]["Properties"]
    assert plan["Throttle"] == {"RateLimit": "3", "BurstLimit": "6"}
    assert plan["Quota"] == {"Limit": "500", "Period": "WEEK"}
    assert plan["ApiStages"][0]["ApiId"] == {"Ref": "Api"}
    key = resources["ApiUsagePlanKey"]["Properties"]
    assert key == {
        "KeyId": {"Ref": "ApiApiKey"},
        "KeyType": "API_KEY",
        "UsagePlanId": {"Ref": "ApiUsagePlan"},
    }
    assert template["Outputs"]["ApiKeyId"]["Value"] == {"Ref": "ApiApiKey"}


def test_the_stage_throttles_every_method_with_the_parameters():
    stage = next(
        r["Properties"]
        for r in deployed(None).transformed["Resources"].values()
        if r["Type"] == "AWS::ApiGateway::Stage"
    )

    settings_ = stage["MethodSettings"][0]

    assert (settings_["ResourcePath"], settings_["HttpMethod"]) == ("/*", "*")
    assert settings_["ThrottlingRateLimit"] == {"Ref": "ApiThrottlingRateLimit"}
    assert settings_["ThrottlingBurstLimit"] == {"Ref": "ApiThrottlingBurstLimit"}


# -- request validation at the edge ------------------------------------------------------------


@pytest.mark.parametrize("backend", ["dynamodb", "rds", "aurora", "django"])
@pytest.mark.parametrize(("method", "suffix"), [("POST", ""), ("PUT", "/{id}")])
def test_customer_bodies_are_validated_before_the_function_runs(backend, method, suffix):
    body = rest_api_body(deployed(None).transformed)

    definition = routes(deployed(None).transformed)[(f"/{backend}/customers{suffix}", method)]

    validator = definition["x-amazon-apigateway-request-validator"]
    assert body["x-amazon-apigateway-request-validators"][validator]["validateRequestBody"] is True
    (parameter,) = (p for p in definition["parameters"] if p["in"] == "body")
    assert parameter["required"] is True
    assert parameter["schema"] == {"$ref": "#/definitions/customerinput"}


def test_the_edge_model_is_generated_from_the_committed_openapi_document():
    # Given the committed document (itself compared with the code in test_openapi_document)
    document = json.loads((ROOT / "docs" / "openapi.json").read_text())

    # Then the template's models are its edge models, and API Gateway receives them
    assert load_yaml()["Resources"]["Api"]["Properties"]["Models"] == openapi.edge_models(document)
    definitions = rest_api_body(deployed(None).transformed)["definitions"]
    assert definitions["customerinput"] == openapi.edge_models(document)["CustomerInput"]


def _app_accepts(body: Any) -> bool:
    try:
        CustomerInput.model_validate_json(json.dumps(body))
    except ValidationError:
        return False
    return True


EDGE = Draft4Validator(openapi.edge_models(openapi.document())["CustomerInput"])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
# Names near the limits, padded with the whitespace the function trims before counting.
padding = st.text(" \t\n", max_size=30)
names = st.builds(
    lambda left, core, right: left + core + right,
    padding,
    st.text(min_size=0, max_size=110)
    | st.text(st.characters(categories=["L", "N"]), min_size=95, max_size=101),
    padding,
)
emails = st.emails().map(str.upper) | st.emails() | st.emails().map(lambda e: f" {e} ")
field_values = names | emails | json_values
bodies = (
    st.fixed_dictionaries({"name": names, "email": emails})
    | json_values
    | st.builds(
        lambda fields, extra: fields | extra,
        st.fixed_dictionaries({}, optional={"name": field_values, "email": field_values}),
        st.dictionaries(st.sampled_from(["id", "createdAt", "Name"]), json_values, max_size=1),
    )
)


@settings(max_examples=300, deadline=None)
@given(body=bodies)
def test_the_edge_never_refuses_a_body_the_function_accepts(body: Any):
    # Given a body the function's own validation accepts, Then API Gateway's model accepts it
    if _app_accepts(body):
        assert EDGE.is_valid(body), body


@pytest.mark.parametrize(
    "body",
    [
        {"name": "Ada"},
        {"email": "ada@example.com"},
        {"name": "Ada", "email": "ada@example.com", "id": "mine"},
        {"name": 42, "email": "ada@example.com"},
        {"name": None, "email": "ada@example.com"},
        ["Ada", "ada@example.com"],
        "Ada",
    ],
)
def test_the_edge_refuses_bodies_the_function_would_refuse_anyway(body: Any):
    assert not EDGE.is_valid(body)
    assert not _app_accepts(body)


# -- the local stack's view of the same template -----------------------------------------------


def test_the_local_gateway_prefers_a_methods_own_route_over_any():
    # Given the routes the local API Gateway builds from the template
    api = LocalApi.from_template(deployed(None), {}, "v1")

    def matched(method: str, path: str) -> tuple[str, dict[str, str]]:
        found = api.match(method, path)
        assert found is not None, f"{method} {path}"
        return found[0].method, found[1]

    # When requests are matched
    # Then, as in API Gateway, the specific method wins and ANY takes the rest
    assert matched("POST", "/dynamodb/customers") == ("POST", {})
    assert matched("GET", "/dynamodb/customers") == ("ANY", {})
    assert matched("PUT", "/rds/customers/abc") == ("PUT", {"id": "abc"})
    assert matched("DELETE", "/rds/customers/abc") == ("ANY", {"id": "abc"})


def test_language_extensions_find_in_map_resolves_like_the_transform():
    # Given a template using Fn::FindInMap with a DefaultValue
    template = {
        "Transform": ["AWS::LanguageExtensions", "AWS::Serverless-2016-10-31"],
        "Mappings": {"Modes": {"A": {"Value": "a"}, "B": {"Value": ""}}},
        "Resources": {
            "R": {
                "Properties": {
                    "Chosen": {
                        "Fn::FindInMap": ["Modes", {"Ref": "Mode"}, "Value", {"DefaultValue": "d"}]
                    },
                    "Plain": {"Fn::FindInMap": ["Modes", {"Ref": "Mode"}, "Value"]},
                }
            }
        },
    }

    # When it is resolved for each parameter value
    resolved = {
        mode: resolve_language_extensions(template, {"Mode": mode})["Resources"]["R"]["Properties"]
        for mode in ("A", "B", "C")
    }

    # Then the mapping's value is used, the DefaultValue when it has none, and plain
    # FindInMap is left to CloudFormation
    assert [resolved[m]["Chosen"] for m in ("A", "B", "C")] == ["a", "", "d"]
    assert resolved["A"]["Plain"] == {"Fn::FindInMap": ["Modes", {"Ref": "Mode"}, "Value"]}
    assert resolve_language_extensions(template, {"Mode": "A"})["Transform"] == [
        "AWS::Serverless-2016-10-31"
    ]


def test_language_extensions_the_local_stack_cannot_do_fail_loudly():
    template = {
        "Transform": "AWS::LanguageExtensions",
        "Resources": {"Fn::ForEach::Topics": ["Name", ["A"], {}]},
    }

    with pytest.raises(ValueError, match="no local implementation"):
        resolve_language_extensions(template, {})
