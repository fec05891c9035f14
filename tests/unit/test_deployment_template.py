"""What only a deploy would show, read from template.yaml as CloudFormation receives it.

The SAM transform (the same one `sam deploy` runs) produces the plain CloudFormation; each
test reads the generated resources, so a setting that SAM drops or rewrites is caught here
rather than in a first deploy. Sources for the AWS behaviour are in docs/deployment.md.
"""

import json
import re
import shlex
import tomllib
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from local_stack.template import SamTemplate, load_template, load_yaml

ROOT = Path(__file__).resolve().parents[2]
API_AUTH_MODES = ("COGNITO", "IAM", "NONE")
CALLER_CREDENTIALS = "arn:aws:iam::*:user/*"


@cache
def deployed(**parameters: str) -> SamTemplate:
    return load_template(parameters=parameters)


def resources(template: SamTemplate) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = template.transformed["Resources"]
    return found


def of_type(template: SamTemplate, resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in resources(template).items() if v["Type"] == resource_type}


# -- references between resources, as CloudFormation orders creation --------------------------


def _evaluate(condition: Any, template: SamTemplate, values: dict[str, str]) -> bool:
    """A condition of the template for the given parameter values."""
    if isinstance(condition, str):
        return _evaluate(template.transformed["Conditions"][condition], template, values)
    (name, args), *_ = condition.items()
    if name == "Condition":
        return _evaluate(args, template, values)
    if name == "Fn::Not":
        return not _evaluate(args[0], template, values)
    if name == "Fn::And":
        return all(_evaluate(arg, template, values) for arg in args)
    if name == "Fn::Or":
        return any(_evaluate(arg, template, values) for arg in args)
    if name == "Fn::Equals":
        left, right = (values[a["Ref"]] if isinstance(a, dict) else str(a) for a in args)
        return left == right
    raise AssertionError(f"no local evaluation of {name}")


def _values(template: SamTemplate, parameters: dict[str, str]) -> dict[str, str]:
    return template.parameter_defaults() | parameters


def created(template: SamTemplate, parameters: dict[str, str]) -> set[str]:
    values = _values(template, parameters)
    return {
        logical_id
        for logical_id, resource in resources(template).items()
        if "Condition" not in resource or _evaluate(resource["Condition"], template, values)
    }


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
        chosen = when_true if _evaluate(condition, template, values) else when_false
        yield from references(chosen, template, values, names)
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
    """logical id -> what CloudFormation creates before it: DependsOn and every reference in
    its Properties and Metadata."""
    values = _values(template, parameters)
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


# -- 1. API Gateway invokes the functions itself, in every auth mode --------------------------


def integrations(template: SamTemplate) -> Iterator[tuple[str, dict[str, Any]]]:
    (api,) = of_type(template, "AWS::ApiGateway::RestApi").values()
    for path, item in api["Properties"]["Body"]["paths"].items():
        for method, definition in item.items():
            if "x-amazon-apigateway-integration" in definition:
                yield f"{method} {path}", definition["x-amazon-apigateway-integration"]


@pytest.mark.parametrize("mode", API_AUTH_MODES)
def test_api_gateway_invokes_the_functions_with_their_permissions_not_the_callers(mode: str):
    """Mutation caught: removing the Api's `Auth.InvokeRole: NONE` (in IAM mode SAM then
    sets the caller's credentials, so every caller would need lambda:InvokeFunction)."""
    # Given template.yaml deployed with ApiAuth=mode
    template = deployed(ApiAuth=mode)

    # When each route's integration is read from the REST API's generated body
    routes = dict(integrations(template))

    # Then none invokes with the caller's (or any other) credentials...
    assert routes, "the REST API has routes"
    assert {route: i["credentials"] for route, i in routes.items() if "credentials" in i} == {}
    assert CALLER_CREDENTIALS not in json.dumps(template.transformed)
    # ...and each function behind a route lets API Gateway (this API only) invoke it
    invoked = {
        # the function's ARN, or its live alias (AutoPublishAlias: every route calls it)
        re.search(r"\$\{(\w+?)(?:\.Arn)?\}/invocations", i["uri"]["Fn::Sub"]).group(1)  # type: ignore[union-attr]
        for i in routes.values()
    }
    permitted = {
        p["Properties"]["FunctionName"]["Ref"]
        for p in of_type(template, "AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "apigateway.amazonaws.com"
        and p["Properties"]["Action"] == "lambda:InvokeFunction"
        and p["Properties"]["SourceArn"]["Fn::Sub"][1]["__ApiId__"] == {"Ref": "Api"}
    }
    assert invoked <= permitted


# -- 2. schedules: unique names, failed runs alarmed --------------------------------------------


def test_cloudformation_names_every_schedule():
    """Mutation caught: dropping `OmitName: true` from a ScheduleV2 event (SAM then names
    the schedule after the logical ids, the same in every stack of the account)."""
    schedules = of_type(deployed(), "AWS::Scheduler::Schedule")

    assert schedules, "the template has schedules"
    assert {
        k: s["Properties"]["Name"] for k, s in schedules.items() if "Name" in s["Properties"]
    } == {}


def alarms_on_queue(template: SamTemplate, queue: str) -> list[dict[str, Any]]:
    return [
        alarm["Properties"]
        for alarm in of_type(template, "AWS::CloudWatch::Alarm").values()
        if {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}
        in alarm["Properties"].get("Dimensions", [])
    ]


def function_of(target: dict[str, Any]) -> str:
    """The function a schedule targets: its ARN, or its live alias (AutoPublishAlias)."""
    if "Fn::GetAtt" in target:
        return str(target["Fn::GetAtt"][0])
    return str(target["Ref"]).removesuffix("Aliaslive")


def test_every_scheduled_function_sends_failed_runs_to_an_alarmed_queue():
    """Mutation caught: removing a scheduled function's EventInvokeConfig, its queue's alarm,
    or its KMS permission through SQS (Lambda could not write to the encrypted queue)."""
    template = deployed()
    scheduled = {
        function_of(s["Properties"]["Target"]["Arn"])
        for s in of_type(template, "AWS::Scheduler::Schedule").values()
    }
    configs = {
        c["Properties"]["FunctionName"]["Ref"]: c["Properties"]
        for c in of_type(template, "AWS::Lambda::EventInvokeConfig").values()
    }

    assert scheduled == {"PartnerFetcherFunction", "OutboxRelayFunction"}
    for function in scheduled:
        # Given the function the scheduler invokes (asynchronously)
        destination = configs[function]["DestinationConfig"]["OnFailure"]["Destination"]
        queue = destination["Fn::GetAtt"][0]

        # Then a failed run lands in an SQS queue, which an alarm watches
        assert resources(template)[queue]["Type"] == "AWS::SQS::Queue"
        (alarm,) = alarms_on_queue(template, queue)
        assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
        # and the function's role (which Lambda uses to send it) may write to it
        role = json.dumps(resources(template)[f"{function}Role"]["Properties"]["Policies"])
        assert (
            f'"sqs:SendMessage", "Effect": "Allow", "Resource": {json.dumps(destination)}' in role
        )
        assert resources(template)[queue]["Properties"]["KmsMasterKeyId"] == {"Ref": "AppKey"}
        assert "sqs.${AWS::Region}.${AWS::URLSuffix}" in role


def test_an_unreadable_partner_configuration_has_its_own_alarm():
    """Mutation caught: deleting PartnerConfigReadFailedAlarm (the metric the fetcher emits
    when it cannot read the feed URL would reach nobody)."""
    template = deployed()

    watched = {
        (a["Properties"]["Namespace"], a["Properties"]["MetricName"])
        for a in of_type(template, "AWS::CloudWatch::Alarm").values()
    }

    assert ("CustomerPlatform", "PartnerConfigReadFailed") in watched
    assert ("CustomerPlatform", "PartnerFetchFailed") in watched
    assert "PartnerConfigReadFailed" in (ROOT / "functions/partner_fetcher/app.py").read_text()


# -- 3. retained data keeps its key ---------------------------------------------------------------

KEPT = {"Retain", "RetainExceptOnCreate", "Snapshot"}


def test_data_that_outlives_the_stack_is_encrypted_with_a_key_that_outlives_it_too():
    """Mutation caught: removing `DeletionPolicy: Retain` (or UpdateReplacePolicy) from
    AppKey: the retained bucket and the final snapshot would become unreadable."""
    template = deployed(EnableDocumentsCdn="true", DocumentsCdnPublicKeyPem="x")
    keys = set(of_type(template, "AWS::KMS::Key"))
    values = _values(template, {})

    kept_and_encrypted = {
        (logical_id, key)
        for logical_id, resource in resources(template).items()
        if resource.get("DeletionPolicy") in KEPT
        for key in references(resource.get("Properties", {}), template, values, keys)
    }

    assert {("DocumentsBucket", "AppKey"), ("Database", "AppKey")} <= kept_and_encrypted
    for _, key in kept_and_encrypted:
        assert resources(template)[key].get("DeletionPolicy") == "Retain", key
        assert resources(template)[key].get("UpdateReplacePolicy") == "Retain", key


# -- 4. the stage waits for the account's CloudWatch role -----------------------------------------


def test_the_stage_is_created_after_the_api_gateway_account_when_the_stack_sets_it():
    """Mutation caught: removing the Api's `WaitsForApiGatewayAccount` metadata (the stage
    with access logging would race the account's CloudWatch role in a fresh region)."""
    template = deployed()
    graph = dependencies(template, {"ConfigureApiGatewayAccount": "true"})

    stages = {
        k
        for k, s in of_type(template, "AWS::ApiGateway::Stage").items()
        if "AccessLogSetting" in s["Properties"]
    }

    assert stages == {"ApiStage"}
    assert "ApiGatewayAccount" in before(graph, "ApiStage")


def test_without_the_account_resource_nothing_depends_on_it():
    """CloudFormation refuses a template whose created resources depend on one that is not
    created (DependsOn to a resource whose condition is false)."""
    template = deployed(ConfigureApiGatewayAccount="false")
    parameters = {"ConfigureApiGatewayAccount": "false"}
    made = created(template, parameters)
    graph = dependencies(template, parameters)

    assert "ApiGatewayAccount" not in made
    assert {k for k in made if graph[k] - made} == set()


# -- 5. every "on in prod" is on in prod -----------------------------------------------------------

CLAIM = re.compile(r"\(prod: (?P<name>[A-Za-z0-9]+)=(?P<value>[^\s)]+)\)")


def prod_claims() -> list[tuple[str, str, str]]:
    """(where, parameter, value) for each `(prod: Name=value)` in parameter descriptions and
    checkov suppression reasons; a mention of prod in any other form fails."""
    source = load_yaml()
    texts = [
        (f"Parameters.{name}", spec.get("Description", ""))
        for name, spec in source["Parameters"].items()
    ] + [
        (f"{logical_id} {skip['id']}", skip.get("comment", ""))
        for logical_id, resource in source["Resources"].items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    claims = []
    for where, text in texts:
        found = [(where, m["name"], m["value"]) for m in CLAIM.finditer(text)]
        if re.search(r"\bprod\b", text) and not found:
            raise AssertionError(f"{where} mentions prod without a (prod: Name=value): {text}")
        claims.extend(found)
    return claims


def prod_overrides() -> dict[str, str]:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    overrides = config["prod"]["deploy"]["parameters"]["parameter_overrides"]
    return dict(pair.split("=", 1) for pair in shlex.split(overrides))


def test_every_prod_setting_the_template_promises_is_in_samconfig():
    """Mutation caught: dropping DatabaseMultiAZ=true (or any other claimed value) from the
    prod parameter_overrides, or a suppression that says "on in prod" with nothing to check."""
    claims = prod_claims()
    overrides = prod_overrides()
    parameters = load_yaml()["Parameters"]

    assert {name for _, name, _ in claims} >= {
        "DatabaseDeletionProtection",
        "DatabaseMultiAZ",
        "DatabaseSecretRotationDays",
        "TableDeletionProtection",
    }
    for where, name, value in claims:
        assert name in parameters, f"{where} names an unknown parameter {name}"
        assert overrides.get(name) == value, (
            f"{where}: samconfig [prod] sets {name}={overrides.get(name)}"
        )


def test_the_checkov_suppression_for_multi_az_rests_on_a_prod_claim():
    skips = load_yaml()["Resources"]["Database"]["Metadata"]["checkov"]["skip"]

    (multi_az,) = (s for s in skips if s["id"] == "CKV_AWS_157")

    assert CLAIM.search(multi_az["comment"])["name"] == "DatabaseMultiAZ"  # type: ignore[index]


def test_the_prod_values_are_ones_the_template_accepts():
    parameters = load_yaml()["Parameters"]

    for name, value in prod_overrides().items():
        spec = parameters[name]
        if "AllowedValues" in spec:
            assert value in [str(v) for v in spec["AllowedValues"]], name
        if "MinValue" in spec:
            assert int(spec["MinValue"]) <= int(value) <= int(spec.get("MaxValue", value)), name


# -- SQS event source mappings and reserved concurrency -----------------------------------------


def _number(node: Any, template: SamTemplate, values: dict[str, str]) -> int | None:
    """A number as CloudFormation resolves it: a literal, a parameter, or an Fn::If branch."""
    if node is None:
        return None
    if isinstance(node, dict) and "Ref" in node:
        if node["Ref"] == "AWS::NoValue":
            return None
        return int(values[node["Ref"]])
    if isinstance(node, dict) and "Fn::If" in node:
        condition, then, otherwise = node["Fn::If"]
        return _number(
            then if _evaluate(condition, template, values) else otherwise, template, values
        )
    return int(node)


@pytest.mark.parametrize("environment", ["sandbox", "prod"])
def test_an_sqs_mapping_of_a_function_with_reserved_concurrency_is_paced_within_it(
    environment: str,
):
    """A mapping ignores reserved concurrency: its pollers scale with the backlog, batches
    past the reservation are throttled, and throttled receives count toward the queue's
    maxReceiveCount, so healthy messages reach the DLQ (Lambda developer guide,
    "services-sqs-scaling"; Knowledge Center "lambda-sqs-scaling"). ScalingConfig's
    MaximumConcurrency at or below the reservation is the pace. Mutation caught: the
    partner writer's ScalingConfig removed (it has reserved concurrency 2), or set above
    PartnerWriterConcurrency."""
    template = deployed()
    values = _values(template, prod_overrides() if environment == "prod" else {})
    paced = {}
    for mapping in of_type(template, "AWS::Lambda::EventSourceMapping").values():
        props = mapping["Properties"]
        source = props["EventSourceArn"].get("Fn::GetAtt", [""])[0]
        if resources(template).get(source, {}).get("Type") != "AWS::SQS::Queue":
            continue
        function = props["FunctionName"]["Ref"].removesuffix("Aliaslive")
        reserved = _number(
            resources(template)[function]["Properties"].get("ReservedConcurrentExecutions"),
            template,
            values,
        )
        if reserved is None:
            continue
        maximum = _number(
            (props.get("ScalingConfig") or {}).get("MaximumConcurrency"), template, values
        )
        assert maximum is not None, f"{function}: reserved concurrency {reserved}, no ScalingConfig"
        assert 2 <= maximum <= reserved, (function, maximum, reserved)
        paced[function] = maximum

    assert paced == {"PartnerWriterFunction": int(values["PartnerWriterConcurrency"])}
