"""MySQL access for Lambda: one connection per execution environment, reused, self-healing.

The naive handler (open a connection and fetch the secret on every invocation) pays a TCP
and authentication round trip per request and turns every hiccup into a 500. Here:

* The connection is opened lazily on the first request and kept in the execution
  environment; a warm invocation opens no connection and makes no Secrets Manager call.
* A dead connection (server restart, `KILL`, `wait_timeout`, a dropped idle flow) is not
  probed with a ping on every request, which would cost a round trip each time. The unit
  of work just runs; if the connection turns out to be gone before COMMIT was sent, the
  server has rolled the transaction back, so the work runs once more on a new connection
  and the client never sees the failure.
* Access denied (MySQL error 1045) means the password was rotated since the secret was
  cached: the secret is read again once, bypassing the cache, and the connection retried.
* Every unit of work is one explicit transaction (autocommit off), committed at its end or
  rolled back on error, so a change that spans statements is all or nothing and no read
  keeps an old snapshot open across invocations.
* Connect, read and write timeouts are bounded well below the function timeout, and
  anything that means "the database cannot serve this now" becomes `Unavailable` (503 with
  Retry-After) instead of a 500 or a hung request.
"""

import contextlib
import dataclasses
import json
import ssl
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from typing import TypeVar

import pymysql
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from pymysql.connections import Connection
from pymysql.constants import CLIENT
from pymysql.cursors import Cursor

from customer_platform import secrets
from customer_platform.errors import Unavailable

T = TypeVar("T")

logger = Logger(child=True)

# How long a cached copy of the database secret may be used to open a connection.
# The secret is read only to open a connection (cold start, or replacing a dead one), never
# per request, so this age costs nothing on the warm path; and a rotated password does not
# wait for it, because access denied (1045) forces one fresh read. What the age bounds is
# how long an environment keeps connecting with a superseded host, port or user (changes
# that cause no 1045, e.g. a restore behind a new endpoint): 5 minutes. Within it, the
# reconnects after a failover, which drop every environment's connection at once, need no
# Secrets Manager call, so recovering the database never waits on a second service.
SECRET_MAX_AGE = 300

ER_ACCESS_DENIED = 1045
# The connection is gone (and with it any open transaction, which the server rolls back).
CONNECTION_LOST = frozenset(
    {
        1053,  # ER_SERVER_SHUTDOWN
        1927,  # ER_CONNECTION_KILLED (MariaDB)
        2006,  # CR_SERVER_GONE_ERROR
        2013,  # CR_SERVER_LOST
        2055,  # CR_SERVER_LOST_EXTENDED
        4031,  # ER_CLIENT_INTERACTION_TIMEOUT (MySQL 8 closes idle sessions with it)
    }
)
# The server is there but cannot take this work right now; the client may retry.
BUSY = frozenset(
    {
        1040,  # ER_CON_COUNT_ERROR: too many connections
        1203,  # ER_TOO_MANY_USER_CONNECTIONS
        1205,  # ER_LOCK_WAIT_TIMEOUT
        1213,  # ER_LOCK_DEADLOCK
    }
)

DEADLOCK = 1213  # ER_LOCK_DEADLOCK: the transaction was rolled back; run it again
DEADLOCK_RUNS = 3  # a deadlock victim's transaction runs at most this many times

# Session settings applied on every new connection: UTC timestamps, strict SQL (an
# over-long value is an error, never silently truncated).
SESSION_INIT = (
    "SET time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE,"
    "ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'"
)


@dataclass(frozen=True)
class Credentials:
    """Where and how to connect, as an RDS-format secret holds it."""

    host: str
    port: int
    username: str
    password: str = field(repr=False)
    dbname: str

    @classmethod
    def from_secret(cls, text: str) -> "Credentials":
        """Parse `{"username", "password", "host", "port", "dbname", "engine"}`."""
        document = json.loads(text)
        missing = sorted({"username", "password", "host", "dbname"} - set(document))
        if missing:
            raise ValueError(f"database secret lacks {', '.join(missing)}")  # names, not values
        return cls(
            host=str(document["host"]),
            port=int(document.get("port", 3306)),
            username=str(document["username"]),
            password=str(document["password"]),
            dbname=str(document["dbname"]),
        )

    def via(self, endpoint: str) -> "Credentials":
        """The same user and database, reached at `endpoint` ("host" or "host:port")."""
        host, _, port = endpoint.partition(":")
        return dataclasses.replace(self, host=host, port=int(port) if port else self.port)


# Called with force=False for the cached value, force=True to bypass the cache.
CredentialSource = Callable[[bool], Credentials]


def secret_credentials(secret_id: str, *, max_age: int, endpoint: str = "") -> CredentialSource:
    """Credentials from a Secrets Manager secret, cached for `max_age` seconds.

    `endpoint` ("host" or "host:port"), when set, replaces where the secret says to
    connect: an RDS Proxy in front of the same database, which accepts the same user and
    password (the template's DATABASE_PROXY_ENDPOINT, empty without a proxy)."""

    def read(force: bool) -> Credentials:
        try:
            text = secrets.get_secret(secret_id, max_age=max_age, force_fetch=force)
        except GetParameterError as error:
            logger.exception("cannot read the database secret")
            raise Unavailable("the database is unavailable, retry shortly") from error
        credentials = Credentials.from_secret(text)
        return credentials.via(endpoint) if endpoint else credentials

    return read


@dataclass(frozen=True)
class Timeouts:
    """Seconds. The function has 10 s and API Gateway 29 s; a reconnect-and-retry must fit.

    Connecting inside a VPC takes milliseconds, so 2 s only ever fires for an unreachable
    server. A point query takes milliseconds too; 5 s bounds a stuck query or a silently
    dropped connection (no FIN ever arrives) without failing slow-but-working requests.
    """

    connect: float = 2.0
    read: float = 5.0
    write: float = 5.0


def error_code(error: BaseException) -> int | None:
    args = getattr(error, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def _timed_out(error: BaseException) -> bool:
    return isinstance(error.__context__, TimeoutError) or "timed out" in str(error)


def _is_lost(error: pymysql.MySQLError) -> bool:
    return isinstance(error, pymysql.InterfaceError) or error_code(error) in CONNECTION_LOST


C = TypeVar("C")


def connect_rotation_safe(
    credentials: CredentialSource, open_with: Callable[[Credentials], C]
) -> C:
    """`open_with(credentials)`, surviving a password rotation; any failure is Unavailable.

    `open_with` opens a connection with the given credentials (pymysql's `connect`, or a
    framework's own connect around it: the Django backend's). On access denied (1045) the
    secret is read again once, bypassing the cache, and the connection retried."""
    cached = credentials(False)
    try:
        return open_with(cached)
    except pymysql.OperationalError as error:
        if error_code(error) != ER_ACCESS_DENIED:
            logger.warning("cannot connect to the database", extra={"code": error_code(error)})
            raise Unavailable("the database is unavailable, retry shortly") from error
        # The password was most likely rotated after we cached the secret: read it again
        # once, bypassing the cache. An unchanged secret means there is nothing newer to
        # try (e.g. the seconds between a rotation's setSecret and finishSecret steps), so
        # the client gets a 503 and retries.
        logger.info("database refused the cached credentials; re-reading the secret")
        fresh = credentials(True)
        if fresh == cached:
            raise Unavailable("the database is unavailable, retry shortly") from error
        try:
            return open_with(fresh)
        except pymysql.OperationalError as retry_error:
            logger.warning(
                "cannot connect with the re-read secret", extra={"code": error_code(retry_error)}
            )
            raise Unavailable("the database is unavailable, retry shortly") from retry_error


# Every Database of this execution environment, for the SnapStart hooks (snapstart.py).
OPEN: "weakref.WeakSet[Database]" = weakref.WeakSet()


@cache
def tls_context() -> ssl.SSLContext:
    """How every connection is secured: TLS 1.2 or later, the server's certificate verified
    against the RDS and Amazon root CAs (customer_platform/certs) and its name checked
    against the host connected to. One per execution environment, made on first use:
    loading a hundred roots costs tens of milliseconds, once, not per connection.

    TLS is not optional. MySQL 8.4 authenticates with caching_sha2_password, which sends
    the password only over TLS (or RSA-encrypted); the parameter group requires secure
    transport anyway (require_secure_transport), so a plaintext connection is refused."""
    bundle = files("customer_platform.certs").joinpath("database-ca-bundle.pem").read_text()
    context = ssl.create_default_context(cadata=bundle)  # CERT_REQUIRED, check_hostname
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class Database:
    """The execution environment's MySQL connection and the unit-of-work runner."""

    def __init__(
        self,
        credentials: CredentialSource,
        timeouts: Timeouts = Timeouts(),
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """`tls`: what the server's certificate is checked against (tests that connect
        from outside a function pass the local server's CA); by default `tls_context()`."""
        self._credentials = credentials
        self._timeouts = timeouts
        self._tls = tls
        self._connection: Connection | None = None
        self.connections_opened = 0  # for logs, tests and the benchmark
        OPEN.add(self)

    # -- connection ---------------------------------------------------------------------

    def _open_with(self, credentials: Credentials) -> Connection:
        return pymysql.connect(
            host=credentials.host,
            port=credentials.port,
            user=credentials.username,
            password=credentials.password,
            database=credentials.dbname,
            charset="utf8mb4",
            autocommit=False,
            connect_timeout=self._timeouts.connect,
            read_timeout=self._timeouts.read,
            write_timeout=self._timeouts.write,
            init_command=SESSION_INIT,
            # rowcount = rows matched, not rows changed: an UPDATE that finds its row is 1.
            client_flag=CLIENT.FOUND_ROWS,
            ssl=self._tls or tls_context(),
        )

    def _open(self) -> Connection:
        connection = connect_rotation_safe(self._credentials, self._open_with)
        self.connections_opened += 1
        logger.debug("database connection opened", extra={"opened": self.connections_opened})
        return connection

    def _connection_for_work(self) -> Connection:
        # `open` is a local flag (no round trip): pymysql clears it when a socket error or
        # a lost connection was seen; a connection that died silently is caught by run().
        if self._connection is None or not self._connection.open:
            self._connection = None
            self._connection = self._open()
        return self._connection

    def close(self) -> None:
        """Close the connection (if any); the next unit of work opens a new one."""
        connection, self._connection = self._connection, None
        if connection is not None and connection.open:
            # closing a half-dead connection may fail; there is nothing left to release
            with contextlib.suppress(pymysql.MySQLError):
                connection.close()

    # -- units of work ------------------------------------------------------------------

    def run(self, work: Callable[[Cursor], T]) -> T:
        """Run `work(cursor)` as one transaction and commit it.

        Driver errors that are about the data (a duplicate key, say) reach the caller
        unchanged, after a rollback, for the repository to translate. Errors that mean the
        database cannot serve the request become `Unavailable`.
        """
        for attempt in range(1, DEADLOCK_RUNS + 1):
            connection = self._connection_for_work()
            try:
                with connection.cursor() as cursor:
                    result = work(cursor)
            except pymysql.MySQLError as error:
                if _is_lost(error):
                    self.close()
                    if attempt == 1 and not _timed_out(error):
                        logger.warning(
                            "database connection was lost; retrying on a new connection",
                            extra={"code": error_code(error)},
                        )
                        continue
                    raise Unavailable("the database is unavailable, retry shortly") from error
                self._rollback(connection)
                if error_code(error) == DEADLOCK and attempt < DEADLOCK_RUNS:
                    # InnoDB rolled this transaction back whole to break a deadlock, and
                    # says to run it again (MySQL 8.0 Reference Manual, "How to Minimize
                    # and Handle Deadlocks"); nothing of it was written. Two paced partner
                    # writers inserting into the same index gaps can meet twice in a row;
                    # past DEADLOCK_RUNS it is contention a client should back off from.
                    logger.info("deadlock: running the transaction once more")
                    continue
                if error_code(error) in BUSY:
                    logger.warning("database busy", extra={"code": error_code(error)})
                    raise Unavailable("the database is busy, retry shortly") from error
                raise
            except BaseException:
                self._rollback(connection)
                raise
            try:
                connection.commit()
            except pymysql.MySQLError as error:
                # COMMIT was sent but not confirmed: the change may or may not be durable,
                # so it must not be retried blindly. The client decides (503 = retry).
                self.close()
                logger.warning("commit not confirmed", extra={"code": error_code(error)})
                raise Unavailable("the database did not confirm the change, retry") from error
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    def _rollback(self, connection: Connection) -> None:
        try:
            connection.rollback()
        except pymysql.MySQLError:
            self.close()


def secret_database(secret_id: str, endpoint: str = "") -> "Database":
    """The usual execution-environment database: credentials from `secret_id`, cached for
    SECRET_MAX_AGE, default timeouts, reached at `endpoint` when set (an RDS Proxy).
    Functions hold it in a cached getter."""
    return Database(secret_credentials(secret_id, max_age=SECRET_MAX_AGE, endpoint=endpoint))
