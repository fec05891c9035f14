"""The optional Aurora backend as CloudFormation receives it (EnableAuroraBackend).

Read from the SAM-transformed template: what the cluster is (Serverless v2 that can pause,
Data API on, encrypted with the stack key, credentials in Secrets Manager), what the
functions may do (rds-data on this cluster only, the secret the Data API reads for them),
and that nothing of it is created, or granted, while the parameter is off.
"""

import json
import re
from functools import cache
from typing import Any

import pytest

from local_stack.template.transform import SamTemplate, load_template, load_yaml

ON = {"EnableAuroraBackend": "true"}
CONDITION = "CreateAuroraBackend"
DATA_API_ACTIONS = {
    "rds-data:ExecuteStatement",
    "rds-data:BatchExecuteStatement",
    "rds-data:BeginTransaction",
    "rds-data:CommitTransaction",
    "rds-data:RollbackTransaction",
}


@cache
def transformed(on: bool) -> SamTemplate:
    return load_template(parameters=ON if on else {})


def resource(logical_id: str) -> dict[str, Any]:
    found: dict[str, Any] = transformed(True).transformed["Resources"][logical_id]
    return found


def statements(function: str, on: bool = True) -> list[dict[str, Any]]:
    """The statements of the function's role, with its Fn::If policies resolved."""
    role = transformed(on).transformed["Resources"][f"{function}Role"]["Properties"]
    found = []
    for entry in role["Policies"]:
        policy = entry
        if "Fn::If" in entry:
            condition, when_on, _ = entry["Fn::If"]
            assert condition == CONDITION
            if not on:
                continue
            policy = when_on
        found += policy["PolicyDocument"]["Statement"]
    return found


def actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def test_the_backend_is_off_by_default_and_needs_the_stacks_vpc():
    source = load_yaml()

    assert source["Parameters"]["EnableAuroraBackend"]["Default"] == "false"
    assert source["Conditions"][CONDITION] == {
        "Fn::And": [
            {"Condition": "CreateDatabase"},
            {"Fn::Equals": [{"Ref": "EnableAuroraBackend"}, "true"]},
        ]
    }
    assert "AuroraNeedsTheStacksVpc" in source["Rules"]


def test_the_cluster_is_serverless_v2_that_pauses_at_zero_with_the_data_api_on():
    """Mutation caught: MinCapacity 0.5 (it would never pause), the auto-pause delay not
    the parameter's, EnableHttpEndpoint dropped (every Data API call would fail)."""
    cluster = resource("AuroraCluster")["Properties"]
    engine_pattern = load_yaml()["Parameters"]["AuroraEngineVersion"]["AllowedPattern"]

    assert cluster["Engine"] == "aurora-mysql"
    assert cluster["EnableHttpEndpoint"] is True
    assert cluster["ServerlessV2ScalingConfiguration"] == {
        "MinCapacity": 0,
        "MaxCapacity": {"Ref": "AuroraMaxCapacity"},
        "SecondsUntilAutoPause": {"Ref": "AuroraSecondsUntilAutoPause"},
    }
    # 0 ACU needs Aurora MySQL 3.08.0 or later
    assert re.match(engine_pattern, "8.0.mysql_aurora.3.08.0")
    assert re.match(engine_pattern, "8.0.mysql_aurora.3.10.0")
    assert not re.match(engine_pattern, "8.0.mysql_aurora.3.07.1")
    assert resource("AuroraInstance")["Properties"]["DBInstanceClass"] == "db.serverless"


def test_the_cluster_and_its_secrets_are_encrypted_with_the_stack_key():
    cluster = resource("AuroraCluster")["Properties"]

    assert cluster["StorageEncrypted"] is True
    assert cluster["KmsKeyId"] == {"Fn::GetAtt": ["AppKey", "Arn"]}
    assert cluster["ManageMasterUserPassword"] is True
    assert cluster["MasterUserSecret"] == {"KmsKeyId": {"Ref": "AppKey"}}
    assert resource("AuroraAppSecret")["Properties"]["KmsKeyId"] == {"Ref": "AppKey"}
    assert "MasterUserPassword" not in cluster


def test_the_function_runs_outside_the_vpc_with_the_data_api_on_this_cluster_only():
    """Mutation caught: an rds-data action on "*" or on another resource; rds-data:*; the
    master's secret readable by the API function; the function put in the VPC."""
    function = resource("CustomersAuroraFunction")["Properties"]
    granted = statements("CustomersAuroraFunction")
    data_api = [s for s in granted if any(a.startswith("rds-data:") for a in actions(s))]
    secrets = [s for s in granted if "secretsmanager:GetSecretValue" in actions(s)]

    assert "VpcConfig" not in function
    assert [actions(s) for s in data_api] == [DATA_API_ACTIONS]
    assert data_api[0]["Resource"] == {"Fn::GetAtt": ["AuroraCluster", "DBClusterArn"]}
    assert {json.dumps(s["Resource"], sort_keys=True) for s in secrets} == {
        json.dumps({"Ref": "AuroraAppSecret"}),
        json.dumps({"Fn::Sub": ["${secretArn}", {"secretArn": {"Ref": "PageTokenSecret"}}]}),
    }


def test_without_the_cluster_the_function_holds_no_data_api_permission():
    granted = statements("CustomersAuroraFunction", on=False)

    assert not any(a.startswith("rds-data:") for s in granted for a in actions(s))
    assert not any("Aurora" in json.dumps(s) for s in granted)


@pytest.mark.parametrize(
    ("function", "expected"),
    [
        ("AuroraMigrationsFunction", {"rds-data:ExecuteStatement"}),
        ("AuroraOutboxRelayFunction", DATA_API_ACTIONS),
    ],
)
def test_the_other_aurora_functions_use_the_data_api_on_the_cluster_only(
    function: str, expected: set[str]
):
    granted = statements(function)
    data_api = [s for s in granted if any(a.startswith("rds-data:") for a in actions(s))]

    assert [actions(s) for s in data_api] == [expected]
    assert data_api[0]["Resource"] == {"Fn::GetAtt": ["AuroraCluster", "DBClusterArn"]}
    assert "VpcConfig" not in resource(function)["Properties"]


def test_everything_of_the_backend_but_its_api_function_is_conditional():
    """The API function (and its log group) stays, so the REST API is the same in every
    configuration (see template.yaml); everything that costs or grants is conditional."""
    resources = transformed(False).transformed["Resources"]
    aurora = {k: v for k, v in resources.items() if "Aurora" in k}
    unconditional = {k for k, v in aurora.items() if v.get("Condition") != CONDITION}

    assert unconditional >= {"CustomersAuroraFunction", "CustomersAuroraLogGroup"}
    assert all(
        resources[k]["Type"]
        in {
            "AWS::Lambda::Function",
            "AWS::Lambda::Version",
            "AWS::Lambda::Alias",
            "AWS::Lambda::Permission",
            "AWS::IAM::Role",
            "AWS::Logs::LogGroup",
            # the live alias's rollback alarms, with a gradual DeploymentStrategy only
            "AWS::CloudWatch::Alarm",
        }
        for k in unconditional
    ), sorted(unconditional)
    alarms = {k for k in unconditional if resources[k]["Type"] == "AWS::CloudWatch::Alarm"}
    assert all(resources[k].get("Condition") == "DeployGradually" for k in alarms)
    assert {"AuroraCluster", "AuroraInstance", "AuroraAppSecret", "AuroraMigrations"} <= set(
        aurora
    ) - unconditional
