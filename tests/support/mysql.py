"""Test helpers for the MySQL side: scratch databases, the server's view of connections,
a count of Secrets Manager calls, and a TCP proxy that can cut the database off.

The server itself comes from `local_stack.mysql` (the `mysql_server` fixture), found the
same way for the tests as for `make api`.
"""

import contextlib
import json
import socket
import threading
import uuid
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from customer_platform.database import Credentials, Database, Timeouts
from local_stack.mysql import ServerAddress, quote_identifier
from local_stack.stack import LocalStack

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


def database_for(credentials: Credentials, timeouts: Timeouts = Timeouts()) -> Database:  # noqa: B008
    return Database(lambda _force: credentials, timeouts)


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


def function_module(stack: LocalStack, logical_id: str, module: str) -> ModuleType:
    """A module as loaded inside a function's execution environment (after an invocation)."""
    return stack.function(logical_id)._modules[module]


class SecretReads:
    """Counts GetSecretValue calls the function's Secrets Manager client makes, by secret."""

    def __init__(self, stack: LocalStack, logical_id: str = RDS_FUNCTION) -> None:
        client = function_module(stack, logical_id, "customer_platform.aws").secretsmanager()
        self.calls: list[str] = []
        client.meta.events.register(
            "before-parameter-build.secrets-manager.GetSecretValue",
            self._record,
            unique_id=str(id(self)),
        )

    def _record(self, params: dict[str, Any], **_: Any) -> None:
        self.calls.append(params["SecretId"])

    def of(self, secret_arn: str) -> int:
        return self.calls.count(secret_arn)


# -- a network path that can be cut -----------------------------------------------------


class TcpProxy:
    """127.0.0.1:<port> forwarded to the database; `cut()` makes the database unreachable
    (refuses new connections and resets open ones), `restore()` brings it back."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port: int = probe.getsockname()[1]
        probe.close()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._sockets.clear()

    close = cut

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
