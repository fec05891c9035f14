"""The RDS half of template.yaml as deployed: a private VPC without NAT, a database that
accepts MySQL from the functions only, least-privilege secret access, and the
existing-database mode that creates none of it."""

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from customer_platform.database import Credentials
from local_stack.assembly.stack import LocalStack
from local_stack.services.endpoint import AwsEndpoint
from local_stack.services.mysql import ServerAddress
from local_stack.template.intrinsics import without_novalue
from tests.conftest import deploy
from tests.support.customers import CustomersClient
from tests.support.mysql import admin, scratch_credentials

RDS_FUNCTIONS = ("CustomersRdsFunction", "CustomersDjangoFunction", "DatabaseMigrationsFunction")


def resource(stack: LocalStack, logical_id: str) -> dict[str, Any]:
    found: dict[str, Any] = stack.template.transformed["Resources"][logical_id]
    return found


def secret_statements(stack: LocalStack, function_id: str) -> list[dict[str, Any]]:
    """The function role's statements about Secrets Manager, intrinsics resolved."""
    role = resource(stack, f"{function_id}Role")["Properties"]
    statements = [
        statement
        for policy in role["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
    ]
    # (a statement under an Fn::If whose condition is false is dropped, as CloudFormation does)
    resolved: list[dict[str, Any]] = without_novalue(stack.cloud.resolve(statements))
    return [s for s in resolved if "secretsmanager" in json.dumps(s["Action"])]


def test_the_functions_run_in_the_two_private_subnets_with_their_own_group(stack: LocalStack):
    ec2 = stack.cloud.client("ec2")
    subnets = [stack.cloud.physical_id(s) for s in ("PrivateSubnetA", "PrivateSubnetB")]
    group = stack.cloud.resolve({"Fn::GetAtt": ["FunctionSecurityGroup", "GroupId"]})

    for function_id in RDS_FUNCTIONS:
        vpc_config = stack.cloud.resolve(resource(stack, function_id)["Properties"]["VpcConfig"])
        assert vpc_config == {"SubnetIds": subnets, "SecurityGroupIds": [group]}
    described = ec2.describe_subnets(SubnetIds=subnets)["Subnets"]
    assert len({s["AvailabilityZone"] for s in described}) == 2
    assert not any(s["MapPublicIpOnLaunch"] for s in described)


def test_nothing_in_the_vpc_leads_to_the_internet(stack: LocalStack):
    vpc_id = stack.cloud.physical_id("Vpc")
    ec2 = stack.cloud.client("ec2")
    vpc_filter = [{"Name": "vpc-id", "Values": [vpc_id]}]

    assert ec2.describe_nat_gateways(Filters=vpc_filter)["NatGateways"] == []
    gateways = ec2.describe_internet_gateways(
        Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}]
    )["InternetGateways"]
    assert gateways == []
    types = {
        r["Type"]
        for r in stack.template.transformed["Resources"].values()
        if r["Type"].startswith("AWS::EC2::")
    }
    assert not types & {"AWS::EC2::NatGateway", "AWS::EC2::InternetGateway", "AWS::EC2::EIP"}


def test_the_database_accepts_mysql_only_from_the_functions_group(stack: LocalStack):
    ec2 = stack.cloud.client("ec2")
    database_group = stack.cloud.resolve({"Fn::GetAtt": ["DatabaseSecurityGroup", "GroupId"]})
    function_group = stack.cloud.resolve({"Fn::GetAtt": ["FunctionSecurityGroup", "GroupId"]})

    [described] = ec2.describe_security_groups(GroupIds=[database_group])["SecurityGroups"]

    assert [
        (p["IpProtocol"], p["FromPort"], p["ToPort"], [g["GroupId"] for g in p["UserIdGroupPairs"]])
        for p in described["IpPermissions"]
    ] == [("tcp", 3306, 3306, [function_group])]
    assert all(not p.get("IpRanges") for p in described["IpPermissions"])


def test_the_vpc_endpoints_cover_secrets_manager_sns_s3_and_dynamodb(stack: LocalStack):
    ec2 = stack.cloud.client("ec2")
    vpc_id = stack.cloud.physical_id("Vpc")

    endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])

    assert {
        (e["ServiceName"].rsplit(".", 1)[-1], e["VpcEndpointType"])
        for e in endpoints["VpcEndpoints"]
    } == {
        ("secretsmanager", "Interface"),
        ("sns", "Interface"),  # the outbox relay publishes from inside the VPC
        ("s3", "Gateway"),
        ("dynamodb", "Gateway"),
    }


def test_the_database_is_private_encrypted_and_backed_up(stack: LocalStack):
    props = resource(stack, "Database")["Properties"]

    assert props["PubliclyAccessible"] is False
    assert props["StorageEncrypted"] is True
    assert stack.cloud.resolve(props["KmsKeyId"]) == stack.outputs()["AppKeyArn"]
    assert int(stack.cloud.resolve(props["BackupRetentionPeriod"])) >= 1
    assert props["Engine"] == "mysql"
    assert resource(stack, "Database")["DeletionPolicy"] == "Snapshot"


READ = ["secretsmanager:GetSecretValue"]
APPLICATION_FUNCTIONS = (
    "CustomersRdsFunction",
    "CustomersDjangoFunction",
    "PartnerWriterFunction",
    "OutboxRelayFunction",
)


def test_each_function_may_read_its_database_secret_and_nothing_broader(stack: LocalStack):
    """Mutation caught: an application function allowed to read the master secret."""
    master = stack.cloud.physical_id("DatabaseSecret")
    application = stack.cloud.physical_id("DatabaseAppSecret")
    page_token_secret = stack.cloud.physical_id("PageTokenSecret")

    statements = {
        function_id: [(s["Action"], s["Resource"]) for s in secret_statements(stack, function_id)]
        for function_id in (*APPLICATION_FUNCTIONS, "DatabaseMigrationsFunction")
    }

    assert statements == {
        "CustomersRdsFunction": [(READ, application), (READ, page_token_secret)],
        "CustomersDjangoFunction": [(READ, application), (READ, page_token_secret)],
        "PartnerWriterFunction": [(READ, application)],
        "OutboxRelayFunction": [(READ, application)],
        # the master is the migrations' alone; they read the application's to create its user
        "DatabaseMigrationsFunction": [(READ, master), (READ, application)],
    }


def test_the_functions_read_the_secrets_that_the_attachments_completed(stack: LocalStack):
    master = stack.cloud.physical_id("DatabaseSecret")
    application = stack.cloud.physical_id("DatabaseAppSecret")

    for function_id in APPLICATION_FUNCTIONS:
        assert stack.function(function_id).environment["DATABASE_SECRET_ARN"] == application
    migrations = stack.function("DatabaseMigrationsFunction").environment
    assert migrations["DATABASE_SECRET_ARN"] == master
    assert migrations["APPLICATION_DATABASE_SECRET_ARN"] == application
    assert stack.outputs()["DatabaseSecretArn"] == application
    assert stack.outputs()["DatabaseMasterSecretArn"] == master


def test_the_application_secret_is_ready_for_the_alternating_users_rotation(stack: LocalStack):
    """The hosted MySQLMultiUser rotation reads `masterarn` from the secret, and refuses a
    user whose name with "_clone" appended exceeds 16 characters."""
    source = stack.template.source["Resources"]
    generated = stack.cloud.resolve(
        source["DatabaseAppSecret"]["Properties"]["GenerateSecretString"]["SecretStringTemplate"]
    )
    template = json.loads(generated)
    rotation = source["DatabaseAppSecretRotation"]

    assert template["masterarn"] == stack.cloud.physical_id("DatabaseSecret")
    assert template["engine"] == "mysql"
    assert len(template["username"] + "_clone") <= 16
    assert rotation["Properties"]["HostedRotationLambda"]["RotationType"] == "MySQLMultiUser"
    assert rotation["Properties"]["HostedRotationLambda"]["MasterSecretArn"] == {
        "Ref": "DatabaseSecretAttachment"
    }
    assert rotation["DependsOn"] == "DatabaseMigrations", "the user exists before it rotates"
    assert rotation["Condition"] == source["DatabaseSecretRotation"]["Condition"]


# -- an existing database ---------------------------------------------------------------


@pytest.fixture
def existing(mysql_server: ServerAddress) -> Iterator[Credentials]:
    with scratch_credentials(mysql_server) as credentials:
        yield credentials


@pytest.fixture
def existing_mode(
    aws: AwsEndpoint, existing: Credentials, function_logs: Path
) -> Iterator[tuple[LocalStack, str]]:
    import boto3  # noqa: PLC0415

    secret_arn = boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name=f"existing-db-{uuid.uuid4().hex[:8]}",
        SecretString=json.dumps(
            {
                "engine": "mysql",
                "host": existing.host,
                "port": existing.port,
                "username": existing.username,
                "password": existing.password,
                "dbname": existing.dbname,
            }
        ),
    )["ARN"]
    deployed = deploy(
        aws,
        function_logs,
        f"t-existing-{uuid.uuid4().hex[:8]}",
        {
            "ExistingDatabaseSecretArn": secret_arn,
            "ExistingDatabaseSubnetIds": "subnet-0123abcd,subnet-4567ef01",
            "ExistingDatabaseSecurityGroupIds": "sg-0123abcd",
        },
    )
    yield deployed, secret_arn
    deployed.close()


def test_an_existing_database_creates_no_network_database_or_secret(
    existing_mode: tuple[LocalStack, str],
):
    stack, secret_arn = existing_mode

    for logical_id in (
        "Vpc",
        "PrivateSubnetA",
        "FunctionSecurityGroup",
        "SecretsManagerEndpoint",
        "DatabaseSecret",
        "DatabaseAppSecret",
        "Database",
        "DatabaseSecretAttachment",
        "DatabaseAppSecretAttachment",
    ):
        assert not stack.cloud.deployed(logical_id), logical_id
    assert stack.database is None
    outputs = stack.outputs()
    assert outputs["DatabaseSecretArn"] == secret_arn
    assert not {"DatabaseEndpoint", "DatabasePort", "VpcId"} & set(outputs)


def test_an_existing_database_is_reached_through_the_given_secret_subnets_and_groups(
    existing_mode: tuple[LocalStack, str],
):
    stack, secret_arn = existing_mode

    for function_id in RDS_FUNCTIONS:
        assert stack.function(function_id).environment["DATABASE_SECRET_ARN"] == secret_arn
        vpc_config = stack.cloud.resolve(resource(stack, function_id)["Properties"]["VpcConfig"])
        assert vpc_config == {
            "SubnetIds": ["subnet-0123abcd", "subnet-4567ef01"],
            "SecurityGroupIds": ["sg-0123abcd"],
        }
        database_statement = secret_statements(stack, function_id)[0]
        assert database_statement["Resource"] == secret_arn


def test_an_existing_database_is_migrated_and_serves_the_api(
    existing_mode: tuple[LocalStack, str], existing: Credentials, mysql_server: ServerAddress
):
    stack, _ = existing_mode

    created = CustomersClient(stack.api, "rds").create()

    with admin(mysql_server) as cursor:
        cursor.execute(
            f"SELECT email FROM `{existing.dbname}`.customers WHERE id = %s",  # noqa: S608
            (created["id"],),
        )
        assert cursor.fetchone() == (created["email"],)
