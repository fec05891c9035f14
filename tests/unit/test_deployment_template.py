"""What only a deploy would show, read from template.yaml as CloudFormation receives it.

The SAM transform (the same one `sam deploy` runs) produces the plain CloudFormation; each
test reads the generated resources, so a setting that SAM drops or rewrites is caught here
rather than in a first deploy. Sources for the AWS behaviour are in docs/deployment.md.
"""

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local_stack.template.transform import SamTemplate, load_yaml, resolve_language_extensions
from tests.support.cloudformation import (
    ALARM_EMAIL,
    API_AUTH_MODES,
    EXISTING_DATABASE,
    EXISTING_DATABASE_KEY,
    before,
    chosen,
    created,
    dependencies,
    deployed,
    evaluate,
    every_deployment,
    of_type,
    parameters_of,
    references,
    refused_by_rules,
    resources,
    values_of,
)
from tests.support.parameters import BASE, with_and_without_aurora  # noqa: F401
from tools.connection_budget import samconfig_parameters

ROOT = Path(__file__).resolve().parents[2]
CALLER_CREDENTIALS = "arn:aws:iam::*:user/*"


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
    made = created(template, {})
    scheduled = {
        function_of(s["Properties"]["Target"]["Arn"])
        for logical_id, s in of_type(template, "AWS::Scheduler::Schedule").items()
        if logical_id in made
    }
    configs = {
        c["Properties"]["FunctionName"]["Ref"]: c["Properties"]
        for c in of_type(template, "AWS::Lambda::EventInvokeConfig").values()
    }

    aurora = {"AuroraOutboxRelayFunction"} if BASE.get("EnableAuroraBackend") == "true" else set()
    assert scheduled == {"PartnerFetcherFunction", "OutboxRelayFunction"} | aurora
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
    values = values_of(template, {})

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
    return samconfig_parameters()["prod"]


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


# -- 6. every supported deployment is one CloudFormation accepts ----------------------------------


@pytest.mark.parametrize(("name", "mode"), every_deployment())
def test_no_created_resource_waits_for_one_that_is_not_created(name: str, mode: str):
    """CloudFormation refuses a template in which a created resource depends on one whose
    condition is false. Mutation caught: a reference to a conditional resource outside an
    Fn::If of the same condition (e.g. an alias alarm named in DeploymentPreference without
    DeployGradually on the alarm, or the migrations' network path listing the VPC's
    subnets' route table associations without CreateDatabase)."""
    # Given the template deployed with one supported set of parameters
    parameters = parameters_of(name, mode)
    template = deployed(**parameters)

    # When the resources it creates and what each waits for are read
    made = created(template, parameters)
    graph = dependencies(template, parameters)

    # Then everything a created resource waits for is created too
    assert {k: graph[k] - made for k in made if graph[k] - made} == {}


def four_argument_find_in_maps(node: Any, where: str = "") -> Iterator[str]:
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from four_argument_find_in_maps(item, f"{where}[{index}]")
    elif isinstance(node, dict):
        arguments = node.get("Fn::FindInMap")
        if isinstance(arguments, list) and len(arguments) == 4:
            yield where
        for key, value in node.items():
            yield from four_argument_find_in_maps(value, f"{where}.{key}")


@pytest.mark.parametrize(("name", "mode"), every_deployment())
def test_cloudformation_never_receives_a_find_in_map_with_a_default_value(name: str, mode: str):
    """AWS::LanguageExtensions resolves `Fn::FindInMap ... DefaultValue` only in Resources,
    Conditions and Outputs; CloudFormation itself cannot evaluate the four-argument form.
    Old behaviour caught: SnapStart's FindInMap in Globals (SAM copied it, unresolved, into
    every function). Every function also follows EnableSnapStart, so a function added
    without its SnapStart line fails here."""
    # Given the template as CloudFormation receives it for one supported deployment
    parameters = parameters_of(name, mode)
    template = deployed(**parameters)

    # Then no four-argument FindInMap is left anywhere...
    assert list(four_argument_find_in_maps(template.transformed)) == []
    # ...and every function's SnapStart is the literal EnableSnapStart chooses
    wanted = "PublishedVersions" if parameters.get("EnableSnapStart") == "true" else "None"
    functions = of_type(template, "AWS::Lambda::Function")
    assert {k: f["Properties"].get("SnapStart") for k, f in functions.items()} == {
        k: {"ApplyOn": wanted} for k in functions
    }


def test_language_extensions_resolve_only_where_the_transform_does():
    """The local stand-in for AWS::LanguageExtensions must leave Globals alone, as the
    transform does (SAM CLI's port of it: samcli/lib/cfn_language_extensions/api.py, "only
    supported in Resources, Conditions, and Outputs"). Mutation caught: resolving the whole
    template, which hid SnapStart's unresolved FindInMap in Globals from every test."""
    # Given a FindInMap with a DefaultValue in each section
    lookup = {"Fn::FindInMap": ["Modes", {"Ref": "Mode"}, "Value", {"DefaultValue": "d"}]}
    template = {
        "Transform": ["AWS::LanguageExtensions", "AWS::Serverless-2016-10-31"],
        "Mappings": {"Modes": {"A": {"Value": "a"}}},
        "Globals": {"Function": {"Description": lookup}},
        "Conditions": {"C": {"Fn::Equals": [lookup, "a"]}},
        "Resources": {"R": {"Properties": {"P": lookup}}},
        "Outputs": {"O": {"Value": lookup}},
    }

    # When it is resolved
    resolved = resolve_language_extensions(template, {"Mode": "A"})

    # Then Resources, Conditions and Outputs are, Globals is not
    assert resolved["Resources"]["R"]["Properties"]["P"] == "a"
    assert resolved["Conditions"]["C"] == {"Fn::Equals": ["a", "a"]}
    assert resolved["Outputs"]["O"]["Value"] == "a"
    assert resolved["Globals"]["Function"]["Description"] == lookup


# -- 7. the migrations answer CloudFormation's Delete before their network goes ------------------


def _ids(nodes: Any, intrinsic: str) -> set[str]:
    """Logical ids named by `Ref` or `Fn::GetAtt` in a list of values."""
    found = set()
    for node in nodes if isinstance(nodes, list) else [nodes]:
        if isinstance(node, dict) and intrinsic in node:
            target = node[intrinsic]
            found.add(target if isinstance(target, str) else target[0])
    return found


def network_path(template: SamTemplate, parameters: dict[str, str], function: str) -> set[str]:
    """What a function in the stack's VPC needs to reach anything: its security groups,
    its subnets' route table associations and route tables, the VPC endpoints in those
    subnets or routes, and the ingress rules that admit its security group to the database
    and to the endpoints."""
    values = values_of(template, parameters)
    made = created(template, parameters)
    everything = resources(template)
    vpc = chosen(everything[function]["Properties"]["VpcConfig"], template, values)
    subnets = _ids(vpc["SubnetIds"], "Ref")
    groups = _ids(vpc["SecurityGroupIds"], "Fn::GetAtt")
    associations = {
        k
        for k, r in of_type(template, "AWS::EC2::SubnetRouteTableAssociation").items()
        if k in made and _ids(r["Properties"]["SubnetId"], "Ref") <= subnets
    }
    route_tables = {everything[k]["Properties"]["RouteTableId"]["Ref"] for k in associations}
    endpoints = {
        k
        for k, r in of_type(template, "AWS::EC2::VPCEndpoint").items()
        if k in made
        and (
            _ids(r["Properties"].get("RouteTableIds", []), "Ref") & route_tables
            or _ids(r["Properties"].get("SubnetIds", []), "Ref") & subnets
        )
    }
    reached = {
        group
        for k in endpoints | {"Database"}
        for key in ("SecurityGroupIds", "VPCSecurityGroups")
        for group in _ids(everything[k]["Properties"].get(key, []), "Fn::GetAtt")
    }
    admitted = {
        k
        for k, r in of_type(template, "AWS::EC2::SecurityGroupIngress").items()
        if k in made
        and _ids(r["Properties"].get("SourceSecurityGroupId"), "Fn::GetAtt") <= groups
        and _ids(r["Properties"]["GroupId"], "Fn::GetAtt") <= reached
    }
    return groups | associations | route_tables | endpoints | admitted


@pytest.mark.parametrize(("name", "mode"), every_deployment())
def test_the_migrations_custom_resource_is_deleted_before_its_network_path(name: str, mode: str):
    """CloudFormation deletes a resource only after everything that depends on it, so the
    custom resource must depend on all it needs to answer its Delete (S3, through the
    gateway endpoint's route in its subnets' route table). Old behaviour caught: the route
    table associations were not in its path; deleted first, they moved the subnets to the
    VPC's main route table (no S3 route), the response never arrived and the stack ended
    DELETE_FAILED after ServiceTimeout."""
    # Given one supported deployment
    parameters = parameters_of(name, mode)
    template = deployed(**parameters)
    graph = dependencies(template, parameters)

    # When the migrations function's network path is read from the template
    path = network_path(template, parameters, "DatabaseMigrationsFunction")

    # Then the custom resource waits for all of it (so it is deleted before any of it)
    if name == "existing-database":
        assert path == set(), "an existing VPC's network is not this stack's to delete"
    else:
        assert {"PrivateSubnetARoutes", "S3GatewayEndpoint", "FunctionSecurityGroup"} <= path
        assert path - before(graph, "DatabaseMigrations") == set()


# -- 8. the account-wide API Gateway role -------------------------------------------------------


def test_the_account_wide_api_gateway_logging_role_is_opt_in_and_outlives_the_stack():
    """Old behaviour caught: ConfigureApiGatewayAccount defaulted to true, so every stack
    replaced the account's CloudWatch role, and deleting one deleted the role the account
    still named (CloudFormation leaves the account setting in place: AWS::ApiGateway::Account
    reference). Mutation caught: dropping the role's DeletionPolicy or UpdateReplacePolicy."""
    # Given the template and both samconfig.toml environments
    spec = load_yaml()["Parameters"]["ConfigureApiGatewayAccount"]
    environments = samconfig_parameters()

    # Then no environment sets the account's role unless asked...
    assert spec["Default"] == "false"
    assert {env: o.get("ConfigureApiGatewayAccount") for env, o in environments.items()} == {
        env: None for env in environments
    }
    # ...and when asked, the role stays with the account after the stack is gone
    template = deployed(ConfigureApiGatewayAccount="true")
    (account,) = of_type(template, "AWS::ApiGateway::Account").values()
    role = account["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]
    assert resources(template)[role]["DeletionPolicy"] == "Retain"
    assert resources(template)[role]["UpdateReplacePolicy"] == "Retain"


# -- 9. hosted rotation: a supported runtime, after the migrations -------------------------------


@pytest.mark.parametrize("mode", API_AUTH_MODES)
def test_the_hosted_rotations_run_on_the_stacks_runtime_after_the_migrations(mode: str):
    """Old behaviour caught: no HostedRotationLambda Runtime (the transform's default Python
    reaches end of support before the stack does), and the master secret's rotation did not
    wait for the migrations that read that secret. The MySQL rotation functions bundle only
    PyMySQL (pure Python), so any supported Python runs them; the stack's own runtime is the
    one it already keeps current."""
    # Given prod, which rotates both database secrets
    parameters = parameters_of("prod", mode)
    template = deployed(**parameters)
    graph = dependencies(template, parameters)
    made = created(template, parameters)
    runtime = template.source["Globals"]["Function"]["Runtime"]

    # When its rotation schedules are read
    schedules = {
        k: s
        for k, s in of_type(template, "AWS::SecretsManager::RotationSchedule").items()
        if k in made
    }

    # Then each hosted rotation function runs on the stack's runtime, after the migrations
    assert len(schedules) == 2
    for logical_id, schedule in schedules.items():
        assert schedule["Properties"]["HostedRotationLambda"].get("Runtime") == runtime
        assert "DatabaseMigrations" in before(graph, logical_id), logical_id


# -- 10. an existing database ---------------------------------------------------------------------


def test_an_existing_vpc_is_asked_for_every_path_the_stacks_own_vpc_provides():
    """With ExistingDatabaseSecretArn the functions run in someone else's subnets, which
    must reach what this stack's own VPC reaches through its endpoints. Old behaviour
    caught: the description left out SNS, which the outbox relay publishes to."""
    # Given the VPC endpoints the stack creates for its own VPC
    template = deployed()
    services = {
        r["Properties"]["ServiceName"]["Fn::Sub"].rsplit(".", 1)[-1]
        for r in of_type(template, "AWS::EC2::VPCEndpoint").values()
    }

    # Then the existing subnets' description names each of those services
    description = load_yaml()["Parameters"]["ExistingDatabaseSubnetIds"]["Description"]
    assert services >= {"secretsmanager", "sns", "s3"}
    assert {s for s in services if not re.search(rf"\b{s}\b", description)} == set()


def kms_decrypt_resources(
    template: SamTemplate, values: dict[str, str], function: str
) -> list[Any]:
    """The resources the function's role may kms:Decrypt through Secrets Manager."""
    role = resources(template)[function]["Properties"]["Role"]["Fn::GetAtt"][0]
    policies = chosen(resources(template)[role]["Properties"]["Policies"], template, values)
    found = []
    for policy in policies:
        for statement in policy["PolicyDocument"]["Statement"]:
            actions = statement["Action"]
            via = json.dumps(statement.get("Condition", {}))
            if "kms:Decrypt" in ([actions] if isinstance(actions, str) else actions) and (
                "secretsmanager" in via
            ):
                resource = statement["Resource"]
                found.extend(resource if isinstance(resource, list) else [resource])
    return found


@pytest.mark.parametrize("mode", API_AUTH_MODES)
def test_functions_reading_an_existing_secret_may_decrypt_it_with_its_own_key(mode: str):
    """An existing database's secret may be encrypted with a customer managed key of its
    own; Secrets Manager then decrypts with the caller's permission on that key. Old
    behaviour caught: the functions could decrypt only the stack's key."""
    # Given an existing database whose secret has its own key, and one without
    with_key = EXISTING_DATABASE | {
        "ApiAuth": mode,
        "ExistingDatabaseSecretKmsKeyArn": EXISTING_DATABASE_KEY,
    }
    without_key = EXISTING_DATABASE | {"ApiAuth": mode}
    template = deployed(**with_key)
    readers = {
        k
        for k, f in of_type(template, "AWS::Lambda::Function").items()
        if "DATABASE_SECRET_ARN" in f["Properties"].get("Environment", {}).get("Variables", {})
    }

    # Then each function that reads the secret may decrypt with that key through Secrets
    # Manager, and without the parameter no statement names it
    assert readers >= {"CustomersRdsFunction", "OutboxRelayFunction", "DatabaseMigrationsFunction"}
    for function in readers:
        granted = kms_decrypt_resources(template, values_of(template, with_key), function)
        assert {"Ref": "ExistingDatabaseSecretKmsKeyArn"} in granted, function
        plain = deployed(**without_key)
        granted = kms_decrypt_resources(plain, values_of(plain, without_key), function)
        assert {"Ref": "ExistingDatabaseSecretKmsKeyArn"} not in granted, function


def subnet_zones(template: SamTemplate, parameters: dict[str, str]) -> dict[str, dict[str, Any]]:
    values = values_of(template, parameters)
    zones = {}
    for logical_id, subnet in of_type(template, "AWS::EC2::Subnet").items():
        properties = chosen(subnet["Properties"], template, values)
        zones[logical_id] = {
            key: properties[key]
            for key in ("AvailabilityZone", "AvailabilityZoneId")
            if key in properties
        }
    return zones


def select(node: dict[str, Any], values: dict[str, str]) -> str:
    """Fn::Select of a parameter split at commas, or of Fn::GetAZs (named symbolically)."""
    index, source = node["Fn::Select"]
    if source == {"Fn::GetAZs": ""}:
        return f"the region's AZ {index}"
    separator, text = source["Fn::Split"]
    return _ref_text(text, values).split(separator)[int(index)]


def _ref_text(node: Any, values: dict[str, str]) -> str:
    if isinstance(node, dict) and set(node) == {"Ref"}:
        return values[node["Ref"]]
    if isinstance(node, dict) and set(node) == {"Fn::Sub"}:
        return re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], node["Fn::Sub"])
    raise AssertionError(f"no local evaluation of {node}")


@pytest.mark.parametrize("name", ["sandbox", "proxy", "prod"])
def test_the_private_subnets_are_in_the_availability_zones_given(name: str):
    """RDS Proxy is not offered in every AZ (us-east-1: not in use1-az3), and which AZ name
    maps to which AZ ID differs per account, so the first two AZ names of the region may be
    unusable. Old behaviour caught: the subnets' AZs were fixed to the region's first two."""
    # Given two AZ IDs, and no choice
    given = parameters_of(name, "COGNITO") | {"DatabaseAvailabilityZoneIds": "use1-az4,use1-az6"}
    default = parameters_of(name, "COGNITO")
    template = deployed(**given)

    # When the subnets' zones are read
    chosen_zones = subnet_zones(template, given)
    default_zones = subnet_zones(deployed(**default), default)

    # Then the given AZ IDs are used, one per subnet; without them, the region's first two
    values = values_of(template, given)
    assert {k: select(z["AvailabilityZoneId"], values) for k, z in chosen_zones.items()} == {
        "PrivateSubnetA": "use1-az4",
        "PrivateSubnetB": "use1-az6",
    }
    assert all(set(z) == {"AvailabilityZoneId"} for z in chosen_zones.values())
    assert {k: select(z["AvailabilityZone"], values) for k, z in default_zones.items()} == {
        "PrivateSubnetA": "the region's AZ 0",
        "PrivateSubnetB": "the region's AZ 1",
    }


@pytest.mark.parametrize(("name", "mode"), every_deployment())
def test_the_api_has_only_the_stage_the_stack_names(name: str, mode: str):
    """Without OpenApiVersion, SAM gives the API's deployment a StageName of "Stage": a
    second, unconfigured stage (no access logs, no throttling) beside the real one. Old
    behaviour caught: no OpenApiVersion in Globals.Api."""
    # Given one supported deployment
    template = deployed(**parameters_of(name, mode))

    # Then no deployment creates a stage of its own, and the one stage is the Stage parameter
    deployments = of_type(template, "AWS::ApiGateway::Deployment")
    assert deployments
    assert [k for k, d in deployments.items() if "StageName" in d["Properties"]] == []
    stages = [
        s["Properties"]["StageName"] for s in of_type(template, "AWS::ApiGateway::Stage").values()
    ]
    assert stages == [{"Ref": "Stage"}]


def test_prod_is_refused_without_an_alarm_email():
    """Every alarm goes to AlarmTopic; without a subscriber nobody hears it. Old behaviour
    caught: prod deployed with no AlarmEmail (samconfig.toml cannot hold a real address)."""
    # Given the template and both samconfig.toml environments
    template = deployed()
    environments = samconfig_parameters()

    # Then CloudFormation's Rules refuse prod without an address, and accept it with one;
    # the sandbox may go without
    assert refused_by_rules(template, environments["prod"]) == ["AlarmEmailIsSetWhereRequired"]
    assert refused_by_rules(template, environments["prod"] | ALARM_EMAIL) == []
    assert refused_by_rules(template, environments["default"]) == []


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
            then if evaluate(condition, template, values) else otherwise, template, values
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
    values = values_of(template, prod_overrides() if environment == "prod" else {})
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
