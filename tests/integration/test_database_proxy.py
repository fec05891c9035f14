"""The optional RDS Proxy (EnableDatabaseProxy, off by default): the template as deployed,
and the proxy mode locally, where the proxy is a relay to the same MySQL server, so the
functions' unchanged code is seen going through it."""

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local_stack.assembly.stack import LocalStack
from local_stack.services import db_proxy
from local_stack.services.endpoint import AwsEndpoint
from local_stack.services.mysql import ServerAddress
from tests.conftest import deploy
from tests.support.customers import CustomersClient

EVENTS = Path(__file__).resolve().parents[2] / "events"
PROXIED = ("CustomersRdsFunction", "CustomersDjangoFunction", "PartnerWriterFunction")
DIRECT = ("OutboxRelayFunction", "DatabaseMigrationsFunction")
PROXY_RESOURCES = (
    "DatabaseProxy",
    "DatabaseProxyTargetGroup",
    "DatabaseProxySecurityGroup",
    "DatabaseProxyIngressFromFunctions",
    "DatabaseIngressFromProxy",
)


@pytest.fixture(scope="module")
def proxy_stack(
    aws: AwsEndpoint, mysql_server: ServerAddress, function_logs: Path
) -> Iterator[LocalStack]:
    deployed = deploy(
        aws, function_logs, f"t-proxy-{uuid.uuid4().hex[:8]}", {"EnableDatabaseProxy": "true"}
    )
    yield deployed
    deployed.close()


def resource(stack: LocalStack, logical_id: str) -> dict[str, Any]:
    found: dict[str, Any] = stack.template.transformed["Resources"][logical_id]
    return found


def test_without_the_parameter_there_is_no_proxy_and_no_endpoint(stack: LocalStack):
    for logical_id in PROXY_RESOURCES:
        assert not stack.cloud.deployed(logical_id), logical_id
    # IAM runs in process locally, whatever its condition; the template decides in AWS
    assert resource(stack, "DatabaseProxyRole")["Condition"] == "UseDatabaseProxy"
    for function_id in PROXIED:
        assert stack.function(function_id).environment["DATABASE_PROXY_ENDPOINT"] == ""
    assert "DatabaseProxyEndpoint" not in stack.outputs()


def test_the_proxy_requires_tls_and_logs_in_with_the_application_users_secret_only(
    proxy_stack: LocalStack,
):
    """Mutation caught: RequireTLS false, or a proxy that can read the master secret."""
    cloud = proxy_stack.cloud
    props = cloud.resolve(resource(proxy_stack, "DatabaseProxy")["Properties"])
    role = cloud.resolve(resource(proxy_stack, "DatabaseProxyRole")["Properties"])
    targets = cloud.resolve(resource(proxy_stack, "DatabaseProxyTargetGroup")["Properties"])
    application = cloud.physical_id("DatabaseAppSecret")

    assert props["RequireTLS"] is True
    assert props["EngineFamily"] == "MYSQL"
    assert [(a["AuthScheme"], a["SecretArn"], a["IAMAuth"]) for a in props["Auth"]] == [
        ("SECRETS", application, "DISABLED")
    ]
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    assert [s["Resource"] for s in statements if "secretsmanager" in json.dumps(s["Action"])] == [
        application
    ]
    assert targets["DBInstanceIdentifiers"] == [cloud.physical_id("Database")]


def test_only_the_functions_and_the_proxy_reach_each_other_on_mysql(proxy_stack: LocalStack):
    ec2 = proxy_stack.cloud.client("ec2")

    def group(logical_id: str) -> str:
        found: str = proxy_stack.cloud.resolve({"Fn::GetAtt": [logical_id, "GroupId"]})
        return found

    def sources(group_id: str) -> set[tuple[str, int, int, str]]:
        """(protocol, from port, to port, source group) of every inbound rule."""
        [described] = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
        assert all(not p.get("IpRanges") for p in described["IpPermissions"]), "no CIDR rule"
        return {
            (p["IpProtocol"], p["FromPort"], p["ToPort"], pair["GroupId"])
            for p in described["IpPermissions"]
            for pair in p["UserIdGroupPairs"]
        }

    functions, proxy = group("FunctionSecurityGroup"), group("DatabaseProxySecurityGroup")
    assert sources(proxy) == {("tcp", 3306, 3306, functions)}
    assert sources(group("DatabaseSecurityGroup")) == {
        ("tcp", 3306, 3306, functions),
        ("tcp", 3306, 3306, proxy),
    }


def test_the_api_and_the_partner_writer_go_through_the_proxy_with_unchanged_code(
    proxy_stack: LocalStack,
):
    """Mutation caught: ignoring DATABASE_PROXY_ENDPOINT (database.secret_credentials): the
    functions would connect to the database directly and nothing would pass the proxy."""
    endpoint = proxy_stack.outputs()["DatabaseProxyEndpoint"]
    relay = db_proxy.RELAYS[endpoint]
    before = relay.accepted

    for backend in ("rds", "django"):
        customers = CustomersClient(proxy_stack.api, backend)
        created = customers.create()
        assert customers.call("GET", f"/{created['id']}").status == 200
    batch = json.loads((EVENTS / "partner_writer" / "ingest-batch.json").read_text())
    written = proxy_stack.function("PartnerWriterFunction").invoke(
        {"Records": batch["Records"][:1]}
    )

    assert written.result == {"batchItemFailures": []}
    assert relay.accepted >= before + len(PROXIED), "each function connected through the proxy"
    for function_id in PROXIED:
        assert proxy_stack.function(function_id).environment["DATABASE_PROXY_ENDPOINT"] == endpoint
    for function_id in DIRECT:
        assert "DATABASE_PROXY_ENDPOINT" not in proxy_stack.function(function_id).environment


def test_an_existing_database_gets_no_proxy(aws: None):
    from local_stack.template.transform import load_template  # noqa: PLC0415 - one parameter set

    template = load_template(
        parameters={
            "EnableDatabaseProxy": "true",
            "ExistingDatabaseSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:x",
        }
    )

    proxy = template.transformed["Resources"]["DatabaseProxy"]
    assert proxy["Condition"] == "UseDatabaseProxy"
    assert template.transformed["Conditions"]["UseDatabaseProxy"]["Fn::And"][0] == {
        "Condition": "CreateDatabase"
    }
