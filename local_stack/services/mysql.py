"""MySQL for the local stack and the tests: find a server, give each stack its own database.

moto fakes the RDS API but cannot run SQL, so the local stack points the database secret
at a real server, found in this order (the same for `make api`, `make demo` and pytest):

1. `MYSQL_HOST` (with `MYSQL_PORT`, `MYSQL_USER`, `MYSQL_PASSWORD`) when set: an existing
   server, e.g. a CI service container. The account must be able to create databases and
   users.
2. Otherwise a throwaway `mariadbd`, started in a temporary directory on a free port and
   stopped (directory removed) when the process exits.
3. Otherwise an error that says which package to install. Never a silent skip.

Each deployed stack then gets its own database and master user on that server
(`provision`), named uniquely so that parallel test workers and repeated deploys never
share rows, as RDS creates an instance's master user. The master's password is the one
generated into the stack's master secret; the secrets are completed with host, port,
dbname and username in the RDS format. The schema is then migrated by invoking the stack's
migration function, the code the deployed custom resource runs, which also creates the
application's least-privilege user from its own secret, as it does in AWS.
"""

import atexit
import contextlib
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pymysql

from local_stack.network.tls import issue

if TYPE_CHECKING:
    from local_stack.assembly.cloud import LocalCloud
    from local_stack.runtime.functions import LocalFunction

INSTALL_HINT = (
    "No MySQL server for the RDS parts of the stack. Either point the tests at one with "
    "MYSQL_HOST, MYSQL_PORT, MYSQL_USER and MYSQL_PASSWORD, or install MariaDB so that a "
    "throwaway server can be started: `sudo apt-get install mariadb-server` on Debian or "
    "Ubuntu (package mariadb-server, which provides mariadbd and mariadb-install-db), "
    "`brew install mariadb` on macOS."
)
DATABASE_SECRET = "DatabaseSecret"  # noqa: S105 - logical ids in template.yaml
APPLICATION_SECRET = "DatabaseAppSecret"  # noqa: S105
MIGRATIONS_FUNCTION = "DatabaseMigrationsFunction"
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_SEARCH_PATH = ("/usr/sbin", "/usr/local/sbin", "/usr/libexec", "/usr/local/bin", "/usr/bin")


class MySQLUnavailable(RuntimeError):
    """No MySQL server could be found or started."""


@dataclass(frozen=True)
class ServerAddress:
    """An administrative account on a MySQL server, and the CA its certificate chains to."""

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    ca_pem: str = field(default="", repr=False)

    def tls_context(self) -> ssl.SSLContext:
        """TLS to this server, its certificate verified (every connection uses it)."""
        context = ssl.create_default_context(cadata=self.ca_pem)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    def connect(self, **options: Any) -> Any:
        settings: dict[str, Any] = {
            "charset": "utf8mb4",
            "autocommit": True,
            "connect_timeout": 5,
            "ssl": self.tls_context(),
        }
        return pymysql.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            **(settings | options),
        )


# -- finding a server -------------------------------------------------------------------


def _executable(*names: str) -> str | None:
    search = os.pathsep.join([os.environ.get("PATH", ""), *_SEARCH_PATH])
    for name in names:
        found = shutil.which(name, path=search)
        if found:
            return found
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# Runs beside a throwaway server: if the process that started it dies without stopping it
# (SIGKILL, a crash), stop the server and remove its directory, so nothing is left behind.
_WATCHDOG = """
import os, shutil, signal, sys, time
owner, server, directory = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
while alive(owner):
    if not alive(server):
        sys.exit(0)
    time.sleep(1)
os.kill(server, signal.SIGTERM)
for _ in range(300):
    if not alive(server):
        break
    time.sleep(0.1)
else:
    os.kill(server, signal.SIGKILL)
shutil.rmtree(directory, ignore_errors=True)
"""


class ThrowawayMariaDB:
    """A private `mariadbd` in a temporary directory, for one process's lifetime."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="mariadb-"))
        self.process: subprocess.Popen[bytes] | None = None
        self.watchdog: subprocess.Popen[bytes] | None = None
        self.address: ServerAddress | None = None

    @property
    def _log(self) -> Path:
        return self.directory / "error.log"

    def _log_tail(self) -> str:
        try:
            return "\n".join(self._log.read_text(errors="replace").splitlines()[-15:])
        except OSError:
            return "(no server log)"

    def start(self, timeout: float = 60) -> ServerAddress:
        server = _executable("mariadbd", "mysqld")
        install_db = _executable("mariadb-install-db", "mysql_install_db")
        if server is None or install_db is None:
            raise MySQLUnavailable(INSTALL_HINT)
        data = self.directory / "data"
        as_root = ["--user=root"] if os.geteuid() == 0 else []
        subprocess.run(  # noqa: S603 - fixed arguments, executables found on PATH
            [
                install_db,
                "--no-defaults",
                f"--datadir={data}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                *as_root,
            ],
            check=True,
            capture_output=True,
            timeout=timeout,
        )
        port = _free_port()
        tls = issue(self.directory / "tls")
        self.process = subprocess.Popen(  # noqa: S603 - fixed arguments
            [
                server,
                "--no-defaults",
                f"--datadir={data}",
                f"--socket={self.directory / 'mysqld.sock'}",
                f"--pid-file={self.directory / 'mysqld.pid'}",
                f"--log-error={self._log}",
                f"--tmpdir={self.directory}",
                "--skip-networking=0",
                "--bind-address=127.0.0.1",
                f"--port={port}",
                "--skip-name-resolve",
                "--skip-log-bin",
                # TLS, required, with a certificate of a CA made for this server (as the
                # template's parameter group requires secure transport on RDS)
                f"--ssl-ca={tls.ca_file}",
                f"--ssl-cert={tls.cert_file}",
                f"--ssl-key={tls.key_file}",
                "--require-secure-transport=ON",
                # A throwaway server for tests: small, and fast rather than durable.
                "--innodb-buffer-pool-size=32M",
                "--innodb-flush-log-at-trx-commit=2",
                "--innodb-use-native-aio=0",
                "--max-connections=300",
                "--character-set-server=utf8mb4",
                "--collation-server=utf8mb4_bin",
                *as_root,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C meant for us reaches us, and we stop it
        )
        self.watchdog = subprocess.Popen(  # noqa: S603 - this interpreter, fixed code
            [
                sys.executable,
                "-c",
                _WATCHDOG,
                str(os.getpid()),
                str(self.process.pid),
                str(data.parent),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.address = ServerAddress("127.0.0.1", port, "root", "", ca_pem=tls.ca_pem)
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise MySQLUnavailable(f"mariadbd exited during start-up:\n{self._log_tail()}")
            try:
                self.address.connect(connect_timeout=1).close()
            except pymysql.MySQLError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise MySQLUnavailable(
                        f"mariadbd did not accept connections:\n{self._log_tail()}"
                    ) from None
                time.sleep(0.1)
                continue
            return self.address

    def stop(self) -> None:
        if self.watchdog is not None:
            self.watchdog.terminate()
            self.watchdog.wait()
            self.watchdog = None
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        shutil.rmtree(self.directory, ignore_errors=True)


_lock = threading.Lock()
_server: ServerAddress | None = None
_throwaway: ThrowawayMariaDB | None = None


def _from_environment() -> ServerAddress | None:
    host = os.environ.get("MYSQL_HOST")
    if not host:
        return None
    ca_file = os.environ.get("MYSQL_CA")
    if not ca_file or not Path(ca_file).is_file():
        raise MySQLUnavailable(
            f"MYSQL_HOST={host} is set but MYSQL_CA is not a file: the functions connect "
            "over TLS and verify the server's certificate, so name the CA that signed it "
            "(MYSQL_CA=/path/to/ca.pem); the server must serve TLS for MYSQL_HOST's name."
        )
    address = ServerAddress(
        host=host,
        port=int(os.environ.get("MYSQL_PORT", "3306")),
        user=os.environ.get("MYSQL_USER", "root"),
        password=os.environ.get("MYSQL_PASSWORD", ""),
        ca_pem=Path(ca_file).read_text(),
    )
    try:
        address.connect().close()
    except pymysql.MySQLError as error:
        raise MySQLUnavailable(
            f"MYSQL_HOST={host} is set but {address.host}:{address.port} refused "
            f"user {address.user!r}: {error}"
        ) from None
    return address


def server() -> ServerAddress:
    """This process's MySQL server: from MYSQL_* variables, else a throwaway mariadbd."""
    global _server, _throwaway  # noqa: PLW0603 - one server per process, found once
    with _lock:
        if _server is None:
            found = _from_environment()
            if found is None:
                _throwaway = ThrowawayMariaDB()
                atexit.register(stop_server)
                try:
                    found = _throwaway.start()
                except (OSError, subprocess.SubprocessError) as error:
                    _throwaway.stop()
                    _throwaway = None
                    raise MySQLUnavailable(f"{INSTALL_HINT}\n({error})") from None
            _server = found
        return _server


def stop_server() -> None:
    """Stop the throwaway server, if this process started one."""
    global _server, _throwaway  # noqa: PLW0603
    with _lock:
        if _throwaway is not None:
            _throwaway.stop()
            _throwaway = None
            _server = None


# -- one database per stack -------------------------------------------------------------


@dataclass
class LocalDatabase:
    """A stack's database and users on the local server."""

    server: ServerAddress
    name: str  # the database and its master user share the name
    application_user: str | None = None  # the migrations create it, and its "_clone"

    @contextlib.contextmanager
    def admin(self) -> Iterator[Any]:
        connection = self.server.connect()
        try:
            with connection.cursor() as cursor:
                yield cursor
        finally:
            connection.close()

    def drop(self) -> None:
        users = [self.name]
        if self.application_user is not None:
            users += [self.application_user, f"{self.application_user}_clone"]
        with contextlib.suppress(pymysql.MySQLError), self.admin() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {quote_identifier(self.name)}")
            for user in users:
                cursor.execute("DROP USER IF EXISTS %s@'%%'", (user,))


def session_ids(user: str) -> set[int]:
    """The ids of `user`'s open sessions on this process's server."""
    with contextlib.closing(server().connect()) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = %s", (user,))
        return {row[0] for row in cursor.fetchall()}


def connect_with(document: dict[str, Any], tls: ssl.SSLContext, **options: Any) -> Any:
    """A connection as the RDS-format secret `document` says (its user, database, host),
    over TLS verified with `tls`: how tools and tests look at a stack's database."""
    return pymysql.connect(
        host=document["host"],
        port=int(document["port"]),
        user=document["username"],
        password=document["password"],
        database=document["dbname"],
        ssl=tls,
        **options,
    )


def kill_sessions(user: str) -> int:
    """End every session of `user` on this process's server, as a restart would."""
    sessions = session_ids(user)
    with contextlib.closing(server().connect()) as connection, connection.cursor() as cursor:
        for session in sessions:
            cursor.execute("KILL CONNECTION %s", (session,))
    return len(sessions)


def quote_identifier(name: str) -> str:
    """`name` as a backquoted identifier, for the few statements that cannot take %s."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a safe identifier: {name!r}")
    return f"`{name}`"


def _name_for(stack_name: str) -> str:
    readable = re.sub(r"[^a-z0-9]+", "_", stack_name.lower()).strip("_")[:12]
    return f"cp_{readable}_{uuid.uuid4().hex[:10]}".replace("__", "_")


def provision(cloud: "LocalCloud") -> LocalDatabase | None:
    """Create the stack's database and master user, as RDS does for an instance, and
    complete the stack's secrets in the RDS format.

    The master gets what the migrations need of RDS's master user: everything on its own
    database, with GRANT OPTION, and creating users; it sees no other stack's database on
    the shared server. The application's user is not created here but by the migrations,
    from the application's secret, which only gets its connection details and a name that
    is unique on the shared server (the template's fixed name would collide between
    stacks). None when the stack uses an existing database (its secrets are not the
    stack's to fill).
    """
    if not cloud.deployed(DATABASE_SECRET):
        return None
    secrets = cloud.client("secretsmanager")
    address = server()
    database = LocalDatabase(address, _name_for(cloud.stack_name))
    connection = {"engine": "mysql", "host": address.host, "port": address.port}
    master_arn = cloud.physical_id(DATABASE_SECRET)
    master = json.loads(secrets.get_secret_value(SecretId=master_arn)["SecretString"])
    with database.admin() as cursor:
        cursor.execute(
            f"CREATE DATABASE {quote_identifier(database.name)} "
            "CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
        )
        cursor.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (database.name, master["password"]))
        cursor.execute(
            f"GRANT ALL PRIVILEGES ON {quote_identifier(database.name)}.* TO %s@'%%' "
            "WITH GRANT OPTION",
            (database.name,),
        )
        cursor.execute("GRANT CREATE USER ON *.* TO %s@'%%'", (database.name,))
    master |= connection | {"dbname": database.name, "username": database.name}
    secrets.put_secret_value(SecretId=master_arn, SecretString=json.dumps(master))
    if cloud.deployed(APPLICATION_SECRET):
        application_arn = cloud.physical_id(APPLICATION_SECRET)
        application = json.loads(secrets.get_secret_value(SecretId=application_arn)["SecretString"])
        # ten characters: the rotation's clone name ("_clone" appended) stays within 16
        database.application_user = f"a{uuid.uuid4().hex[:9]}"
        application |= connection | {
            "dbname": database.name,
            "username": database.application_user,
        }
        secrets.put_secret_value(SecretId=application_arn, SecretString=json.dumps(application))
    return database


def migrate(function: "LocalFunction") -> Any:
    """Run the migration function as `aws lambda invoke` would: the deployed custom
    resource's code and entry point, minus the CloudFormation response."""
    return function.invoke({}).result
