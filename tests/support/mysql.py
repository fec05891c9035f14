"""Test helpers for the MySQL side: scratch databases, the server's view of connections
and a count of Secrets Manager calls. (A network path that can fail is
`local_stack.network.tcp_proxy.TcpProxy`.)

The server itself comes from `local_stack.services.mysql` (the `mysql_server` fixture), found the
same way for the tests as for `make api`.
"""

import contextlib
import json
import ssl
import uuid
from collections.abc import Iterator
from typing import Any

from customer_platform.database import Credentials, Database, Timeouts
from local_stack.assembly.stack import LocalStack
from local_stack.services.mysql import ServerAddress, quote_identifier, server

RDS_FUNCTION = "CustomersRdsFunction"


@contextlib.contextmanager
def admin(server: ServerAddress) -> Iterator[Any]:
    """A cursor on an administrative, autocommit connection."""
    connection = server.connect()
    try:
        with connection.cursor() as cursor:
            yield cursor
    finally:
        connection.close()


@contextlib.contextmanager
def scratch_credentials(server: ServerAddress) -> Iterator[Credentials]:
    """A database and a user of its own, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    password = uuid.uuid4().hex
    with admin(server) as cursor:
        cursor.execute(f"CREATE DATABASE {quote_identifier(name)} CHARACTER SET utf8mb4")
        cursor.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (name, password))
        cursor.execute(f"GRANT ALL PRIVILEGES ON {quote_identifier(name)}.* TO %s@'%%'", (name,))
    try:
        yield Credentials(
            host=server.host, port=server.port, username=name, password=password, dbname=name
        )
    finally:
        with admin(server) as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {quote_identifier(name)}")
            cursor.execute("DROP USER IF EXISTS %s@'%%'", (name,))


def local_tls() -> ssl.SSLContext:
    """TLS to the local MySQL server, verified against the CA it made at start-up."""
    return server().tls_context()


def database_for(credentials: Credentials, timeouts: Timeouts = Timeouts()) -> Database:  # noqa: B008
    return Database(lambda _force: credentials, timeouts, tls=local_tls())


def connection_ids(server: ServerAddress, user: str) -> set[int]:
    """Ids of the server sessions that `user` holds open."""
    with admin(server) as cursor:
        cursor.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = %s", (user,))
        return {row[0] for row in cursor.fetchall()}


def kill_connections(server: ServerAddress, user: str) -> set[int]:
    """`KILL CONNECTION` every session of `user`, as a restart or wait_timeout would."""
    killed = connection_ids(server, user)
    with admin(server) as cursor:
        for connection_id in killed:
            cursor.execute("KILL CONNECTION %s", (connection_id,))
    return killed


def change_password(server: ServerAddress, user: str, password: str) -> None:
    with admin(server) as cursor:
        cursor.execute("ALTER USER %s@'%%' IDENTIFIED BY %s", (user, password))


# -- the deployed stack ------------------------------------------------------------------


# The secret the functions connect with (the application's least-privilege user), and
# the master's, which only the migrations use (DDL, DROP and user management need it).
APPLICATION_SECRET = "DatabaseAppSecret"  # logical ids in template.yaml
MASTER_SECRET = "DatabaseSecret"


def secret_document(stack: LocalStack, logical_id: str = APPLICATION_SECRET) -> dict[str, Any]:
    client = stack.cloud.client("secretsmanager")
    arn = stack.cloud.physical_id(logical_id)
    document: dict[str, Any] = json.loads(client.get_secret_value(SecretId=arn)["SecretString"])
    return document


def put_secret_document(
    stack: LocalStack, document: dict[str, Any], logical_id: str = APPLICATION_SECRET
) -> None:
    client = stack.cloud.client("secretsmanager")
    arn = stack.cloud.physical_id(logical_id)
    client.put_secret_value(SecretId=arn, SecretString=json.dumps(document))


def secret_reads(stack: LocalStack, secret_arn: str, logical_id: str = RDS_FUNCTION) -> int:
    """GetSecretValue calls of `secret_arn` the function has made so far, as the local AWS
    endpoint recorded them (observed at the AWS boundary, not inside the function)."""
    return sum(
        1
        for record in stack.calls(logical_id, "secretsmanager:GetSecretValue")
        if record.resource == secret_arn
    )
