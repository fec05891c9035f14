"""A local Aurora cluster behind the Data API: its databases on the local MySQL server.

What AWS keeps behind the HTTPS endpoint, kept here: connections to the writer (pooled per
user and database, TLS verified, UTC, MySQL 8's default sql_mode), transactions by id,
their time limits, the statement timeout, and the writer's pause. The SQL runs for real on
the MariaDB (or MYSQL_HOST) server the rest of the local stack uses.

Transactions (RDS Data API Reference, BeginTransaction): an id times out after 3 minutes
without a call that uses it, and after 24 hours in any case; either way it is rolled back.
A call that fails inside a transaction ends it, rolled back ("The transaction was aborted
because of an error in a previous call", Aurora User Guide, "Troubleshooting RDS Data
API"); so does COMMIT or ROLLBACK. Any later use of the id is TransactionNotFoundException.

Switches for tests (the attributes and methods below `# -- switches`): shorter time limits,
a paused writer that answers DatabaseResumingException for N seconds, statements that fail
with an error of choice, and COMMITs whose answer is lost after they committed.
"""

import contextlib
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pymysql
from pymysql.constants import CLIENT

from local_stack.services.data_api.errors import DataApiError
from local_stack.services.mysql import ServerAddress

# Aurora MySQL 3's default session (the cluster parameter group's defaults): UTC, and the
# sql_mode of MySQL 8.0. Set explicitly because the local server is MariaDB.
SESSION_INIT = (
    "SET time_zone = '+00:00', sql_mode = 'ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,"
    "NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'"
)
ER_QUERY_INTERRUPTED = 1317
CONNECTION_LOST = frozenset({1053, 1927, 2006, 2013, 2055})
IDLE_CONNECTIONS = 8  # kept per user and database


@dataclass(frozen=True)
class Login:
    """Who the Data API connects as (from the request's secret), and to which database."""

    username: str
    password: str = field(repr=False)
    database: str | None


@dataclass(eq=False)
class Transaction:
    id: str
    secret_arn: str
    login: Login
    connection: Any
    started: float
    last_used: float
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class StatementFault:
    pattern: re.Pattern[str]
    code: str
    message: str
    remaining: int


@dataclass
class Outcome:
    """What a statement produced: its column descriptors and rows, or a row count."""

    fields: list[Any] | None
    rows: list[tuple[Any, ...]]
    rowcount: int
    lastrowid: int
    connection_id: int


class LocalCluster:
    """One cluster: `arn`, its databases (name in the cluster -> name on the server)."""

    def __init__(
        self,
        arn: str,
        identifier: str,
        server: ServerAddress,
        databases: dict[str, str],
        *,
        http_endpoint: bool = True,
    ) -> None:
        self.arn = arn
        self.identifier = identifier
        self.server = server
        self.databases = databases
        self.http_endpoint = http_endpoint
        # The Data API's limits (AWS's values); tests shorten them.
        self.transaction_idle_s = 180.0
        self.transaction_max_s = 24 * 3600.0
        self.statement_timeout_s = 45.0
        self._lock = threading.Lock()
        self._idle: dict[Login, list[Any]] = {}
        self._transactions: dict[str, Transaction] = {}
        self._resume_s: float | None = None  # paused: how long a resume takes
        self._resume_at: float | None = None  # resuming: when it is done
        self._statement_faults: list[StatementFault] = []
        self._lost_commits = 0

    # -- switches ---------------------------------------------------------------------------

    def pause(self, resume_seconds: float) -> None:
        """The writer pauses at 0 ACU, as auto-pause does: its connections and transactions
        end, and the next request starts a resume that takes `resume_seconds`, answering
        DatabaseResumingException until then."""
        with self._lock:
            transactions = list(self._transactions.values())
            self._transactions.clear()
            idle = [c for pool in self._idle.values() for c in pool]
            self._idle.clear()
            self._resume_s, self._resume_at = resume_seconds, None
        for transaction in transactions:
            _close(transaction.connection)
        for connection in idle:
            _close(connection)

    def resume(self) -> None:
        """End a pause now (the writer is back)."""
        with self._lock:
            self._resume_s = self._resume_at = None

    def fail_statements(
        self,
        pattern: str,
        *,
        code: str = "DatabaseErrorException",
        message: str = "Database error code: 1205. Message: Lock wait timeout exceeded",
        count: int = 1,
    ) -> None:
        """The next `count` statements whose SQL matches `pattern` (a regular expression)
        fail with `code` before they run."""
        with self._lock:
            self._statement_faults.append(
                StatementFault(re.compile(pattern, re.IGNORECASE), code, message, count)
            )

    def lose_commit_answers(self, count: int = 1) -> None:
        """The next `count` COMMITs commit, then answer InternalServerErrorException (HTTP
        500), as if the answer was lost on the way back."""
        with self._lock:
            self._lost_commits += count

    def open_transactions(self) -> int:
        with self._lock:
            return len(self._transactions)

    # -- availability -----------------------------------------------------------------------

    def check_available(self) -> None:
        if not self.http_endpoint:
            raise DataApiError(
                "HttpEndpointNotEnabledException",
                f"HttpEndpoint is not enabled for cluster {self.identifier}.",
            )
        with self._lock:
            if self._resume_s is None:
                return
            now = time.monotonic()
            if self._resume_at is None:
                self._resume_at = now + self._resume_s
            if now < self._resume_at:
                raise DataApiError(
                    "DatabaseResumingException",
                    f"The Aurora DB instance {self.identifier}-writer is resuming after "
                    "being auto-paused. Please wait a few seconds and try again.",
                )
            self._resume_s = self._resume_at = None

    def statement_fault(self, sql: str) -> None:
        with self._lock:
            for fault in self._statement_faults:
                if fault.remaining > 0 and fault.pattern.search(sql):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._statement_faults.remove(fault)
                    raise DataApiError(fault.code, fault.message)

    # -- connections ------------------------------------------------------------------------

    def physical(self, database: str | None) -> str | None:
        return self.databases.get(database, database) if database else None

    def _connect(self, login: Login) -> Any:
        try:
            return pymysql.connect(
                host=self.server.host,
                port=self.server.port,
                user=login.username,
                password=login.password,
                database=self.physical(login.database),
                charset="utf8mb4",
                autocommit=True,
                connect_timeout=5,
                init_command=SESSION_INIT,
                # numberOfRecordsUpdated counts the rows a statement matched, as JDBC does
                client_flag=CLIENT.FOUND_ROWS,
                ssl=self.server.tls_context(),
            )
        except pymysql.MySQLError as error:
            raise database_error(error) from None

    @contextlib.contextmanager
    def connection(self, login: Login) -> Iterator[Any]:
        """A pooled autocommit connection as `login`, returned to the pool afterwards."""
        connection = self._take(login)
        healthy = False
        try:
            yield connection
            healthy = True
        finally:
            if healthy and connection.open:
                self._give(login, connection)
            else:
                _close(connection)

    def _take(self, login: Login) -> Any:
        with self._lock:
            pool = self._idle.get(login, [])
            while pool:
                connection = pool.pop()
                if connection.open:
                    return connection
        return self._connect(login)

    def _give(self, login: Login, connection: Any) -> None:
        with self._lock:
            pool = self._idle.setdefault(login, [])
            if len(pool) < IDLE_CONNECTIONS:
                pool.append(connection)
                return
        _close(connection)

    # -- transactions -----------------------------------------------------------------------

    def begin(self, login: Login, secret_arn: str) -> str:
        connection = self._take(login)
        connection.autocommit(False)
        transaction_id = secrets.token_urlsafe(48)
        now = time.monotonic()
        with self._lock:
            self._transactions[transaction_id] = Transaction(
                transaction_id, secret_arn, login, connection, now, now
            )
        return transaction_id

    def transaction(self, transaction_id: str) -> Transaction:
        """The open transaction with this id (its idle clock restarts), or
        TransactionNotFoundException."""
        self.expire()
        with self._lock:
            transaction = self._transactions.get(transaction_id)
            if transaction is None:
                raise DataApiError(
                    "TransactionNotFoundException", f"Transaction {transaction_id} is not found"
                )
            transaction.last_used = time.monotonic()
            return transaction

    def end(self, transaction: Transaction, *, commit: bool) -> None:
        """Commit or roll back, and forget the id (rolled back when COMMIT fails)."""
        with self._lock:
            self._transactions.pop(transaction.id, None)
        connection = transaction.connection
        try:
            if commit:
                connection.commit()
            else:
                connection.rollback()
        except pymysql.MySQLError as error:
            _close(connection)
            raise database_error(error) from None
        connection.autocommit(True)
        self._give(transaction.login, connection)

    def abort(self, transaction: Transaction) -> None:
        """An error ended the transaction: roll it back, forget the id."""
        with self._lock:
            self._transactions.pop(transaction.id, None)
        try:
            transaction.connection.rollback()
            transaction.connection.autocommit(True)
        except pymysql.MySQLError:
            _close(transaction.connection)
            return
        self._give(transaction.login, transaction.connection)

    def take_lost_commit(self) -> bool:
        with self._lock:
            if self._lost_commits > 0:
                self._lost_commits -= 1
                return True
            return False

    def expire(self) -> None:
        """Roll back transactions idle for `transaction_idle_s` or older than
        `transaction_max_s`, releasing their locks."""
        now = time.monotonic()
        with self._lock:
            expired = [
                t
                for t in self._transactions.values()
                if now - t.last_used > self.transaction_idle_s
                or now - t.started > self.transaction_max_s
            ]
            for transaction in expired:
                del self._transactions[transaction.id]
        for transaction in expired:
            with transaction.lock:
                _close(transaction.connection)  # the server rolls back what it did not commit

    # -- statements -------------------------------------------------------------------------

    def run(
        self,
        connection: Any,
        sql: str,
        args: dict[str, Any] | None,
        *,
        continue_after_timeout: bool = False,
    ) -> Outcome:
        """Run one statement; past `statement_timeout_s` it is StatementTimeoutException,
        and the statement is stopped (KILL QUERY) unless `continue_after_timeout`."""
        if continue_after_timeout:
            return self._run_continuing(connection, sql, args)
        connection_id = connection.thread_id()
        stopped = threading.Event()
        timer = threading.Timer(self.statement_timeout_s, self._stop, (connection_id, stopped))
        timer.daemon = True
        timer.start()
        try:
            return _execute(connection, sql, args)
        except pymysql.MySQLError as error:
            if _code(error) == ER_QUERY_INTERRUPTED and stopped.is_set():
                raise statement_timeout(connection_id) from None
            raise database_error(error) from None
        finally:
            timer.cancel()

    def _run_continuing(self, connection: Any, sql: str, args: dict[str, Any] | None) -> Outcome:
        done: dict[str, Any] = {}

        def work() -> None:
            try:
                done["outcome"] = _execute(connection, sql, args)
            except pymysql.MySQLError as error:
                done["error"] = error

        worker = threading.Thread(target=work, name="data-api-statement", daemon=True)
        worker.start()
        worker.join(self.statement_timeout_s)
        if worker.is_alive():
            # The statement runs on; its connection is not reused until it ends.
            threading.Thread(target=_close_after, args=(worker, connection), daemon=True).start()
            raise statement_timeout(connection.thread_id())
        if "error" in done:
            raise database_error(done["error"])
        outcome: Outcome = done["outcome"]
        return outcome

    def _stop(self, connection_id: int, stopped: threading.Event) -> None:
        stopped.set()
        with contextlib.suppress(pymysql.MySQLError), self.server.connect() as admin:
            admin.cursor().execute("KILL QUERY %s", (connection_id,))

    def close(self) -> None:
        with self._lock:
            connections = [t.connection for t in self._transactions.values()]
            connections += [c for pool in self._idle.values() for c in pool]
            self._transactions.clear()
            self._idle.clear()
        for connection in connections:
            _close(connection)


def _execute(connection: Any, sql: str, args: dict[str, Any] | None) -> Outcome:
    with connection.cursor() as cursor:
        cursor.execute(sql, args)
        result = getattr(cursor, "_result", None)  # pymysql keeps the field descriptors here
        fields = list(result.fields) if cursor.description is not None and result else None
        rows = list(cursor.fetchall()) if fields is not None else []
        return Outcome(fields, rows, cursor.rowcount, cursor.lastrowid or 0, connection.thread_id())


def _code(error: BaseException) -> int | None:
    args = getattr(error, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def database_error(error: pymysql.MySQLError) -> DataApiError:
    """A MySQL error as the Data API reports it."""
    code = _code(error)
    if code in CONNECTION_LOST:
        return DataApiError("DatabaseUnavailableException", "The writer is not available")
    message = error.args[1] if len(error.args) > 1 else str(error)
    return DataApiError(
        "DatabaseErrorException", f"Database error code: {code}. Message: {message}"
    )


def statement_timeout(connection_id: int) -> DataApiError:
    return DataApiError(
        "StatementTimeoutException",
        "The execution of the SQL statement timed out.",
        {"dbConnectionId": connection_id},
    )


def _close(connection: Any) -> None:
    with contextlib.suppress(Exception):
        connection.close()


def _close_after(worker: threading.Thread, connection: Any) -> None:
    worker.join()
    _close(connection)


# -- the clusters this process serves ---------------------------------------------------------

_CLUSTERS: dict[str, LocalCluster] = {}
_REGISTRY_LOCK = threading.Lock()
_REAPER: threading.Thread | None = None
REAPER_INTERVAL_S = 0.5


def register(cluster: LocalCluster) -> LocalCluster:
    global _REAPER  # noqa: PLW0603 - one reaper per process
    with _REGISTRY_LOCK:
        _CLUSTERS[cluster.arn] = cluster
        if _REAPER is None:
            _REAPER = threading.Thread(target=_reap, name="data-api-reaper", daemon=True)
            _REAPER.start()
    return cluster


def unregister(arn: str) -> None:
    with _REGISTRY_LOCK:
        cluster = _CLUSTERS.pop(arn, None)
    if cluster is not None:
        cluster.close()


def find(arn: str) -> LocalCluster | None:
    with _REGISTRY_LOCK:
        return _CLUSTERS.get(arn)


def cluster(arn: str) -> LocalCluster:
    """The local cluster with this ARN (a stack output: AuroraClusterArn), for tests."""
    found = find(arn)
    if found is None:
        raise KeyError(f"no local Aurora cluster {arn}")
    return found


def _reap(sleep: Callable[[float], None] = time.sleep) -> None:
    while True:
        sleep(REAPER_INTERVAL_S)
        with _REGISTRY_LOCK:
            clusters = list(_CLUSTERS.values())
        for each in clusters:
            with contextlib.suppress(Exception):
                each.expire()
