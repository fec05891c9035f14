"""Gradual deployments of the API functions (DeploymentStrategy), as CloudFormation receives them.

With a canary or linear strategy SAM gives each API function's `live` alias a CodeDeploy
deployment group: a deploy shifts traffic from the old version to the new one step by step
and rolls back when one of the alias's alarms fires. With AllAtOnce (the sandbox default) the
alias moves at once and no CodeDeploy resource exists. docs/releasing.md has the sources.
"""

from typing import Any

import pytest

from local_stack.template.transform import SamTemplate, load_yaml
from tests.support.cloudformation import (
    API_AUTH_MODES,
    PARAMETER_SETS,
    chosen,
    created,
    deployed,
    every_deployment,
    of_type,
    parameters_of,
    resources,
    values_of,
)

CODEDEPLOY = ("AWS::CodeDeploy::Application", "AWS::CodeDeploy::DeploymentGroup")
LIVE = "live"


def api_functions(template: SamTemplate) -> set[str]:
    """The functions API Gateway invokes (an Api event), from template.yaml as written."""
    return {
        logical_id
        for logical_id, resource in template.source["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
        and any(e["Type"] == "Api" for e in resource["Properties"].get("Events", {}).values())
    }


def alias_metric(
    alarm: dict[str, Any], template: SamTemplate, values: dict[str, str]
) -> tuple[Any, Any, Any, Any]:
    """(namespace, metric, function, alias) an alarm watches."""
    properties = chosen(alarm["Properties"], template, values)
    dimensions = {d["Name"]: d["Value"] for d in properties.get("Dimensions", [])}
    function = dimensions.get("FunctionName", {}).get("Ref")
    resource = dimensions.get("Resource", {}).get("Fn::Sub", "")
    return properties.get("Namespace"), properties.get("MetricName"), function, resource


@pytest.mark.parametrize(("name", "mode"), every_deployment())
def test_codedeploy_exists_only_when_a_gradual_strategy_is_chosen(name: str, mode: str):
    """Mutation caught: DeploymentPreference enabled whatever the strategy (SAM then adds a
    CodeDeploy application, role and deployment groups to every stack, and an AllAtOnce
    sandbox deploy would still go through CodeDeploy)."""
    # Given one supported deployment
    parameters = parameters_of(name, mode)
    template = deployed(**parameters)
    strategy = values_of(template, parameters)["DeploymentStrategy"]

    # When its CodeDeploy resources and alias update policies are read
    codedeploy = {k for t in CODEDEPLOY for k in of_type(template, t)}
    updated = {k for k, a in of_type(template, "AWS::Lambda::Alias").items() if "UpdatePolicy" in a}

    # Then there are none with AllAtOnce, and one deployment group per API function otherwise
    if strategy == "AllAtOnce":
        assert (codedeploy, updated) == (set(), set())
    else:
        groups = of_type(template, "AWS::CodeDeploy::DeploymentGroup")
        assert {g.removesuffix("DeploymentGroup") for g in groups} == api_functions(template)
        assert {a.removesuffix(f"Alias{LIVE}") for a in updated} == api_functions(template)


def test_prod_shifts_traffic_gradually_and_the_sandbox_at_once():
    """Mutation caught: dropping DeploymentStrategy from samconfig.toml's [prod] (the
    parameter's "(prod: ...)" claim is checked by test_deployment_template as well)."""
    assert load_yaml()["Parameters"]["DeploymentStrategy"]["Default"] == "AllAtOnce"
    assert PARAMETER_SETS["sandbox"].get("DeploymentStrategy", "AllAtOnce") == "AllAtOnce"
    assert PARAMETER_SETS["prod"]["DeploymentStrategy"].startswith(("Canary", "Linear"))


@pytest.mark.parametrize("mode", API_AUTH_MODES)
def test_a_gradual_deploy_rolls_back_on_the_live_aliases_errors_and_throttles(mode: str):
    """Mutation caught: a deployment group without alarms (CodeDeploy would shift all the
    traffic to a failing version), an alarm on the function instead of its live alias, or
    one that is not created when the deployment group is."""
    # Given prod, which deploys gradually
    parameters = parameters_of("prod", mode)
    template = deployed(**parameters)
    values = values_of(template, parameters)
    made = created(template, parameters)

    for logical_id, group in of_type(template, "AWS::CodeDeploy::DeploymentGroup").items():
        function = logical_id.removesuffix("DeploymentGroup")
        properties = chosen(group["Properties"], template, values)
        # When its deployment group's alarms are read
        alarms = [a["Name"]["Ref"] for a in properties["AlarmConfiguration"]["Alarms"]]
        watched = {
            alias_metric(resources(template)[alarm], template, values)[1:] for alarm in alarms
        }

        # Then CodeDeploy shifts by the chosen configuration and stops on the live alias's
        # errors and throttles, whose alarms exist in this deployment
        assert properties["DeploymentConfigName"]["Fn::Sub"] == [
            "CodeDeployDefault.Lambda${ConfigName}",
            {"ConfigName": values["DeploymentStrategy"]},
        ]
        assert properties["AlarmConfiguration"]["Enabled"] is True
        assert properties["AutoRollbackConfiguration"]["Events"] == [
            "DEPLOYMENT_FAILURE",
            "DEPLOYMENT_STOP_ON_ALARM",
            "DEPLOYMENT_STOP_ON_REQUEST",
        ]
        assert set(alarms) <= made, function
        assert watched == {
            ("Errors", function, f"${{{function}}}:{LIVE}"),
            ("Throttles", function, f"${{{function}}}:{LIVE}"),
        }


def test_the_alias_alarms_exist_only_with_a_gradual_strategy():
    """Mutation caught: the alias alarms without their condition (they would alarm on every
    throttle of the sandbox and mean nothing there), or with a condition that never holds."""
    for name in ("sandbox", "prod"):
        parameters = parameters_of(name, "COGNITO")
        template = deployed(**parameters)
        values = values_of(template, parameters)
        made = created(template, parameters)
        alias_alarms = {
            k
            for k, alarm in of_type(template, "AWS::CloudWatch::Alarm").items()
            if alias_metric(alarm, template, values)[0] == "AWS/Lambda"
            and alias_metric(alarm, template, values)[3].endswith(f":{LIVE}")
        }

        gradual = values["DeploymentStrategy"] != "AllAtOnce"
        assert len(alias_alarms) == 2 * len(api_functions(template))
        assert (alias_alarms & made) == (alias_alarms if gradual else set()), name
