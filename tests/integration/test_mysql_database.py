"""customer_platform.database against a real MySQL server: one reused connection,
transactions, retry on a lost connection, re-reading rotated credentials, timeouts.

Each test gets a scratch database and user of its own (tests.support.mysql)."""

import threading
import uuid
from collections.abc import Iterator
from functools import partial

import pymysql
import pytest

from customer_platform.database import Credentials, Database, Timeouts
from customer_platform.errors import Unavailable
from local_stack.network.tcp_proxy import TcpProxy
from local_stack.services.mysql import ServerAddress
from tests.support.mysql import (
    change_password,
    connection_ids,
    database_for,
    kill_connections,
    local_tls,
    scratch_credentials,
)


@pytest.fixture
def credentials(mysql_server: ServerAddress) -> Iterator[Credentials]:
    with scratch_credentials(mysql_server) as created:
        yield created


@pytest.fixture
def db(credentials: Credentials) -> Iterator[Database]:
    database = database_for(credentials)
    database.run(lambda c: c.execute("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))"))
    yield database
    database.close()


def insert(row_id: int, cursor) -> None:
    cursor.execute("INSERT INTO t VALUES (%s, 'x')", (row_id,))


def count_rows(db: Database) -> int:
    def count(cursor) -> int:
        cursor.execute("SELECT COUNT(*) FROM t")
        return int(cursor.fetchone()[0])

    return db.run(count)


class CountingSource:
    """A credential source that counts reads; `latest` is what a forced read returns."""

    def __init__(self, cached: Credentials) -> None:
        self.cached = cached
        self.latest = cached
        self.reads: list[bool] = []

    def __call__(self, force: bool) -> Credentials:
        self.reads.append(force)
        if force:
            self.cached = self.latest
        return self.cached


def test_one_connection_serves_every_unit_of_work(
    db: Database, mysql_server: ServerAddress, credentials: Credentials
):
    sessions = connection_ids(mysql_server, credentials.username)

    for i in range(5):
        db.run(partial(insert, i))

    assert db.connections_opened == 1
    assert connection_ids(mysql_server, credentials.username) == sessions


def test_the_session_is_utf8mb4_utc_and_strict(db: Database):
    def settings(cursor) -> tuple[str, ...]:
        cursor.execute("SELECT @@character_set_client, @@time_zone, @@sql_mode, @@autocommit")
        return tuple(str(v) for v in cursor.fetchone())

    charset, time_zone, sql_mode, autocommit = db.run(settings)

    assert charset == "utf8mb4"
    assert time_zone == "+00:00"
    assert "STRICT_ALL_TABLES" in sql_mode
    assert autocommit == "0"


def test_a_failed_unit_of_work_is_rolled_back_entirely(db: Database):
    def two_inserts_then_a_duplicate(cursor) -> None:
        cursor.execute("INSERT INTO t VALUES (1, 'a')")
        cursor.execute("INSERT INTO t VALUES (2, 'b')")
        cursor.execute("INSERT INTO t VALUES (1, 'again')")

    with pytest.raises(pymysql.IntegrityError):
        db.run(two_inserts_then_a_duplicate)

    assert count_rows(db) == 0


def test_an_over_long_value_is_an_error_not_a_truncation(db: Database):
    with pytest.raises(pymysql.MySQLError):
        db.run(lambda c: c.execute("INSERT INTO t VALUES (1, %s)", ("x" * 21,)))


def test_reads_see_other_sessions_commits_between_units_of_work(
    db: Database, credentials: Credentials
):
    # Each unit of work ends its transaction, so no snapshot outlives a request.
    assert count_rows(db) == 0
    other = database_for(credentials)
    other.run(lambda c: c.execute("INSERT INTO t VALUES (1, 'x')"))

    assert count_rows(db) == 1
    other.close()


def test_a_killed_connection_is_replaced_and_the_work_runs_once(
    db: Database, mysql_server: ServerAddress, credentials: Credentials
):
    count_rows(db)
    kill_connections(mysql_server, credentials.username)

    db.run(lambda c: c.execute("INSERT INTO t VALUES (7, 'after kill')"))

    assert count_rows(db) == 1
    assert db.connections_opened == 2


def test_a_connection_lost_twice_in_a_row_is_unavailable(
    db: Database, mysql_server: ServerAddress, credentials: Credentials
):
    attempts = []

    def doomed(cursor) -> None:
        attempts.append(1)
        kill_connections(mysql_server, credentials.username)
        cursor.execute("SELECT 1")

    with pytest.raises(Unavailable):
        db.run(doomed)

    assert len(attempts) == 2
    assert count_rows(db) == 0  # and the next unit of work simply reconnects


def test_access_denied_rereads_the_secret_once_and_reconnects(
    mysql_server: ServerAddress, credentials: Credentials
):
    source = CountingSource(credentials)
    db = Database(source, tls=local_tls())
    db.run(lambda c: c.execute("SELECT 1"))
    new_password = uuid.uuid4().hex
    change_password(mysql_server, credentials.username, new_password)
    source.latest = Credentials(**{**credentials.__dict__, "password": new_password})
    kill_connections(mysql_server, credentials.username)

    db.run(lambda c: c.execute("SELECT 1"))

    assert source.reads == [False, False, True]
    assert db.connections_opened == 2
    db.close()


def test_access_denied_with_an_unchanged_secret_is_unavailable_without_a_second_attempt(
    mysql_server: ServerAddress, credentials: Credentials
):
    source = CountingSource(credentials)
    change_password(mysql_server, credentials.username, uuid.uuid4().hex)

    with pytest.raises(Unavailable):
        Database(source, tls=local_tls()).run(lambda c: c.execute("SELECT 1"))

    assert source.reads == [False, True]


def test_an_unreachable_server_is_unavailable_and_the_next_call_reconnects(
    mysql_server: ServerAddress, credentials: Credentials
):
    proxy = TcpProxy((mysql_server.host, mysql_server.port))
    db = database_for(Credentials(**{**credentials.__dict__, "port": proxy.port}))
    try:
        db.run(lambda c: c.execute("SELECT 1"))
        proxy.cut()
        with pytest.raises(Unavailable):
            db.run(lambda c: c.execute("SELECT 1"))
        proxy.restore()

        db.run(lambda c: c.execute("SELECT 1"))

        assert db.connections_opened == 2
    finally:
        proxy.close()
        db.close()


def test_a_query_that_outlives_the_read_timeout_is_unavailable_and_not_retried(
    credentials: Credentials,
):
    db = database_for(credentials, Timeouts(connect=2, read=0.5, write=2))
    attempts = []

    def slow(cursor) -> None:
        attempts.append(1)
        cursor.execute("SELECT SLEEP(3)")

    with pytest.raises(Unavailable):
        db.run(slow)

    assert len(attempts) == 1


def test_a_lock_wait_timeout_is_unavailable(db: Database, credentials: Credentials):
    db.run(lambda c: c.execute("INSERT INTO t VALUES (1, 'x')"))
    holder = pymysql.connect(
        host=credentials.host,
        port=credentials.port,
        user=credentials.username,
        password=credentials.password,
        database=credentials.dbname,
        ssl=local_tls(),
    )
    locked = threading.Event()
    with holder.cursor() as cursor:
        cursor.execute("SELECT * FROM t WHERE id = 1 FOR UPDATE")
        locked.set()

        def update(cursor) -> None:
            cursor.execute("SET SESSION innodb_lock_wait_timeout = 1")
            cursor.execute("UPDATE t SET v = 'y' WHERE id = 1")

        with pytest.raises(Unavailable, match="busy"):
            db.run(update)
    holder.rollback()
    holder.close()
    assert locked.is_set()


def test_a_commit_whose_answer_is_lost_is_unavailable_and_never_run_again(
    db: Database, mysql_server: ServerAddress, credentials: Credentials
):
    """Given a unit of work whose COMMIT goes out but whose answer never comes back (the
    path to MySQL swallows traffic from then on, a TCP proxy's blackhole), when the read
    timeout ends the wait, then the caller gets Unavailable (a 503: the change may or may
    not be durable) and the work is not run a second time.

    Mutation caught: retrying the work after a failed COMMIT, like a connection lost
    before it (customer_platform/database.py `Database.run`, `continue` instead of the
    Unavailable after `connection.commit()`): the work runs twice, the insert could be
    stored twice, and the caller is told it succeeded."""
    proxy = TcpProxy((mysql_server.host, mysql_server.port))
    proxied = database_for(
        Credentials(**{**credentials.__dict__, "port": proxy.port}),
        Timeouts(connect=2, read=1, write=1),
    )
    runs = []

    def insert_then_lose_the_answer(cursor) -> None:
        runs.append(1)
        cursor.execute("INSERT INTO t VALUES (%s, 'once')", (len(runs),))
        if len(runs) == 1:
            proxy.blackhole()  # the COMMIT that follows gets no answer

    try:
        with pytest.raises(Unavailable, match="did not confirm"):
            proxied.run(insert_then_lose_the_answer)
    finally:
        proxy.restore()
        proxy.close()
        proxied.close()

    assert len(runs) == 1
    assert count_rows(db) <= 1  # durable or not, never twice


def connect_as(credentials: Credentials) -> pymysql.Connection:
    return pymysql.connect(
        host=credentials.host,
        port=credentials.port,
        user=credentials.username,
        password=credentials.password,
        database=credentials.dbname,
        ssl=local_tls(),
    )


def _wait_until_a_session_waits_for_a_lock(mysql_server: ServerAddress) -> None:
    """Until InnoDB lists a transaction in LOCK WAIT (as the server's administrator, who
    may read information_schema.innodb_trx)."""
    admin = mysql_server.connect()
    try:
        for _ in range(400):
            with admin.cursor() as cursor:
                cursor.execute(
                    "SELECT COUNT(*) FROM information_schema.innodb_trx"
                    " WHERE trx_state = 'LOCK WAIT'"
                )
                (waiting,) = cursor.fetchone()
            if waiting:
                return
            threading.Event().wait(0.05)
        raise AssertionError("no session came to wait for the lock")
    finally:
        admin.close()


def run_through_deadlocks(
    db: Database, credentials: Credentials, mysql_server: ServerAddress, times: int
) -> tuple[list[object], int]:
    """Real InnoDB deadlocks, `times` in a row: each run of the work locks row 1 and then
    asks for row 2, which another session has just changed and holds; that session then
    asks for row 1. InnoDB rolls back the work (it changed nothing, the other changed a
    row) and the other session commits. A run after the last deadlock reads row 2 freely.
    Returns what `db.run` gave (its value or the exception) and how many runs it made."""
    db.run(lambda c: c.executemany("INSERT INTO t VALUES (%s, %s)", [(1, "a"), (2, "b")]))
    runs: list[int] = []
    outcome: list[object] = []
    locked = [threading.Event() for _ in range(times)]
    held = [threading.Event() for _ in range(times)]

    def work(cursor) -> str:
        run = len(runs)
        runs.append(run)
        cursor.execute("SELECT v FROM t WHERE id = 1 FOR UPDATE")
        if run < times:
            locked[run].set()
            assert held[run].wait(10)
        cursor.execute("SELECT v FROM t WHERE id = 2 FOR UPDATE")
        (value,) = cursor.fetchone()
        return str(value)

    def run() -> None:
        try:
            outcome.append(db.run(work))
        except Exception as error:  # noqa: BLE001 - the test reads it
            outcome.append(error)

    worker = threading.Thread(target=run)
    worker.start()
    for number in range(times):
        if not locked[number].wait(10):
            break  # db.run gave up before this run
        holder = connect_as(credentials)
        with holder.cursor() as cursor:
            cursor.execute("UPDATE t SET v = %s WHERE id = 2", (f"held {number}",))
        held[number].set()
        _wait_until_a_session_waits_for_a_lock(mysql_server)
        with holder.cursor() as cursor:
            cursor.execute("UPDATE t SET v = 'both' WHERE id = 1")  # the deadlock
        holder.commit()
        holder.close()
    worker.join(30)
    return outcome, len(runs)


def test_a_deadlock_victim_runs_its_transaction_once_more(
    db: Database, credentials: Credentials, mysql_server: ServerAddress
):
    """Mutation caught: the deadlock retry in Database.run removed (the victim's request
    would be a 503 that nothing needed; the partner writer's batch went back to its queue
    and counted toward the DLQ)."""
    outcome, runs = run_through_deadlocks(db, credentials, mysql_server, times=1)

    # the work ran twice and its second run read what the other session committed
    assert outcome == ["held 0"]
    assert runs == 2


def test_two_deadlocks_in_a_row_still_end_in_the_work_done(
    db: Database, credentials: Credentials, mysql_server: ServerAddress
):
    """Two paced partner writers inserting into the same index gaps met twice in a row in
    a CI run. Mutation caught: DEADLOCK_RUNS back to 2 (the third run never happens and the
    request is a 503)."""
    outcome, runs = run_through_deadlocks(db, credentials, mysql_server, times=2)

    assert outcome == ["held 1"]
    assert runs == 3


def test_a_third_deadlock_in_a_row_is_a_503_not_another_run(
    db: Database, credentials: Credentials, mysql_server: ServerAddress
):
    """The retry is bounded: past DEADLOCK_RUNS, contention is the client's to back off
    from (503, Retry-After). Mutation caught: DEADLOCK_RUNS raised, or the retry unbounded
    (a fourth run reads row 2 and returns)."""
    outcome, runs = run_through_deadlocks(db, credentials, mysql_server, times=3)

    assert runs == 3
    assert len(outcome) == 1
    assert isinstance(outcome[0], Unavailable)
