"""The template's Aurora resources, locally: a cluster is databases on the local MySQL server.

* AWS::RDS::DBCluster: a database per `DatabaseName` and a master user on the server, named
  uniquely (parallel test workers and repeated deploys share the server), registered with
  the Data API emulator under the cluster's ARN. With `ManageMasterUserPassword`, RDS keeps
  the master's password in a secret it creates (`MasterUserSecret.SecretArn`,
  `{"username", "password"}`, encrypted with `MasterUserSecret.KmsKeyId`): created here the
  same way, in moto's Secrets Manager.
* AWS::RDS::DBInstance of such a cluster (db.serverless): nothing more to create; the
  cluster's writer is the server.

After deploy, `provision` gives the application's user in the Aurora secret a name unique
on the server (the template's fixed `cp_app` would collide between stacks); the stack's
Aurora migrations function then creates that user over the Data API, as the custom
resource does in AWS. `LocalAurora.close` drops the databases and users.
"""

import contextlib
import json
import secrets
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import pymysql
from moto.core.models import DEFAULT_ACCOUNT_ID

from local_stack.services import mysql
from local_stack.services.data_api.cluster import LocalCluster, register, unregister

if TYPE_CHECKING:
    from local_stack.assembly.cloud import LocalCloud

APP_SECRET = "AuroraAppSecret"  # noqa: S105 - logical ids in template.yaml
MIGRATIONS_FUNCTION = "AuroraMigrationsFunction"
CLUSTER_TYPE = "AWS::RDS::DBCluster"
Created = tuple[str, dict[str, str]]  # physical id, GetAtt attributes


class Cloud(Protocol):
    stack_name: str
    region: str

    def client(self, service: str) -> Any: ...


@dataclass
class ClusterRecord:
    """What a deployed cluster made on the server, to drop it again."""

    arn: str
    databases: list[str]
    users: list[str] = field(default_factory=list)


RECORDS: dict[str, ClusterRecord] = {}  # cluster ARN -> its server objects


def _unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:9]}"


def cluster(logical_id: str, props: dict[str, Any], cloud: Cloud) -> Created:
    """AWS::RDS::DBCluster (aurora-mysql) with its master user and its database."""
    server = mysql.server()
    identifier = f"{cloud.stack_name}-{logical_id}-{uuid.uuid4().hex[:8]}".lower()
    arn = f"arn:aws:rds:{cloud.region}:{DEFAULT_ACCOUNT_ID}:cluster:{identifier}"
    logical_database = str(props.get("DatabaseName") or "")
    database = _unique("aurora_")
    master, password = _unique("m"), secrets.token_urlsafe(24)
    with server.connect() as admin, admin.cursor() as cursor:
        quoted = mysql.quote_identifier(database)
        cursor.execute(f"CREATE DATABASE {quoted} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        cursor.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (master, password))
        cursor.execute(
            f"GRANT ALL PRIVILEGES ON {quoted}.* TO %s@'%%' WITH GRANT OPTION", (master,)
        )
        cursor.execute("GRANT CREATE USER ON *.* TO %s@'%%'", (master,))
    RECORDS[arn] = ClusterRecord(arn, [database], [master])
    attributes = {
        "DBClusterArn": arn,
        "Endpoint.Address": server.host,
        "Endpoint.Port": str(server.port),
        "ReadEndpoint.Address": server.host,
        "DBClusterResourceId": f"cluster-{uuid.uuid4().hex[:26].upper()}",
    }
    if str(props.get("ManageMasterUserPassword", "")).lower() == "true":
        request: dict[str, Any] = {
            "Name": f"rds!cluster-{uuid.uuid4()}",
            "SecretString": json.dumps({"username": master, "password": password}),
            "Description": f"Master user of {identifier}, managed by RDS",
        }
        key = (props.get("MasterUserSecret") or {}).get("KmsKeyId")
        if key:
            request["KmsKeyId"] = key
        attributes["MasterUserSecret.SecretArn"] = cloud.client("secretsmanager").create_secret(
            **request
        )["ARN"]
    register(
        LocalCluster(
            arn,
            identifier,
            server,
            {logical_database: database} if logical_database else {},
            http_endpoint=str(props.get("EnableHttpEndpoint", "")).lower() == "true",
        )
    )
    return identifier, attributes


def instance(logical_id: str, props: dict[str, Any], cloud: Cloud) -> Created:
    """AWS::RDS::DBInstance of an Aurora cluster: the cluster's server is its writer."""
    identifier = f"{cloud.stack_name}-{logical_id}".lower()
    return identifier, {"Endpoint.Address": mysql.server().host}


@dataclass
class LocalAurora:
    """The Aurora clusters of one deployed stack."""

    arns: list[str]
    app_user: str | None = None

    def close(self) -> None:
        for arn in self.arns:
            unregister(arn)
            record = RECORDS.pop(arn, None)
            if record is None:
                continue
            users = record.users + ([self.app_user] if self.app_user else [])
            with (
                contextlib.suppress(pymysql.MySQLError),
                mysql.server().connect() as admin,
                admin.cursor() as cursor,
            ):
                for database in record.databases:
                    cursor.execute(f"DROP DATABASE IF EXISTS {mysql.quote_identifier(database)}")
                for user in users:
                    cursor.execute("DROP USER IF EXISTS %s@'%%'", (user,))


def provision(cloud: "LocalCloud") -> LocalAurora:
    """The stack's clusters; the application's user renamed unique in its secret."""
    arns = [
        str(cloud.resolve({"Fn::GetAtt": [logical_id, "DBClusterArn"]}))
        for logical_id, resource in cloud.template.transformed["Resources"].items()
        if resource["Type"] == CLUSTER_TYPE and cloud.deployed(logical_id)
    ]
    aurora = LocalAurora(arns)
    if cloud.deployed(APP_SECRET):
        client = cloud.client("secretsmanager")
        arn = cloud.physical_id(APP_SECRET)
        document = json.loads(client.get_secret_value(SecretId=arn)["SecretString"])
        aurora.app_user = _unique("b")  # ten characters, as for the RDS application user
        document["username"] = aurora.app_user
        client.put_secret_value(SecretId=arn, SecretString=json.dumps(document))
    return aurora
