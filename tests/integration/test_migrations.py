"""The one migration entry point, on a scratch database: ordered, idempotent, guarded
against edited history, and safe when several runs race."""

import threading
from collections.abc import Iterator

import pymysql
import pytest

from customer_platform import migrations
from customer_platform.database import Credentials, Database
from customer_platform.migrations import Migration, MigrationError, split_statements
from local_stack.services.mysql import ServerAddress
from tests.support.mysql import database_for, local_tls, scratch_credentials


@pytest.fixture
def credentials(mysql_server: ServerAddress) -> Iterator[Credentials]:
    with scratch_credentials(mysql_server) as created:
        yield created


@pytest.fixture
def db(credentials: Credentials) -> Iterator[Database]:
    database = database_for(credentials)
    yield database
    database.close()


def tables(db: Database) -> set[str]:
    def show(cursor) -> set[str]:
        cursor.execute("SHOW TABLES")
        return {row[0] for row in cursor.fetchall()}

    return db.run(show)


def test_the_shipped_migrations_are_numbered_and_start_with_the_customers_table():
    shipped = migrations.available()

    assert [m.version for m in shipped] == sorted(m.version for m in shipped)
    assert shipped[0].version == "0001"
    assert "CREATE TABLE IF NOT EXISTS customers" in shipped[0].sql


def test_a_fresh_database_gets_every_migration_once(db: Database):
    applied = migrations.migrate(db)

    assert applied == [m.version for m in migrations.available()]
    assert {"customers", "schema_migrations"} <= tables(db)
    assert migrations.applied_versions(db) == applied


def test_running_again_applies_nothing_and_changes_nothing(db: Database):
    migrations.migrate(db)

    assert migrations.migrate(db) == []
    assert migrations.applied_versions(db) == [m.version for m in migrations.available()]


def test_only_the_new_migration_is_applied_on_top_of_the_shipped_ones(db: Database):
    migrations.migrate(db)
    extra = Migration("9001", "add_notes", "CREATE TABLE notes (id INT PRIMARY KEY);\n")

    applied = migrations.migrate(db, [*migrations.available(), extra])

    assert applied == ["9001"]
    assert "notes" in tables(db)


def test_an_edited_applied_migration_is_refused(db: Database):
    first = Migration("9001", "a", "CREATE TABLE a (id INT PRIMARY KEY);")
    migrations.migrate(db, [first])
    edited = Migration("9001", "a", "CREATE TABLE a (id BIGINT PRIMARY KEY);")

    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrations.migrate(db, [edited])


def test_a_failing_migration_is_not_recorded_and_runs_again_next_time(db: Database):
    good = Migration("9001", "good", "CREATE TABLE good (id INT PRIMARY KEY);")
    bad = Migration(
        "9002", "bad", "CREATE TABLE IF NOT EXISTS half (id INT PRIMARY KEY);\nNOT SQL;"
    )

    with pytest.raises(pymysql.ProgrammingError):
        migrations.migrate(db, [good, bad])

    assert migrations.applied_versions(db) == ["9001"]
    fixed = Migration(
        "9002", "bad", "CREATE TABLE IF NOT EXISTS half (id INT PRIMARY KEY);\nSELECT 1;"
    )
    assert migrations.migrate(db, [good, fixed]) == ["9002"]


def test_concurrent_runs_apply_each_migration_exactly_once(credentials: Credentials):
    # A slow migration widens the window in which the racers overlap.
    slow = Migration("9001", "slow", "DO SLEEP(0.5);\nCREATE TABLE slow (id INT PRIMARY KEY);")
    todo = [*migrations.available(), slow]
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def racer() -> None:
        db = database_for(credentials)
        try:
            results.append(migrations.migrate(db, todo))
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)
        finally:
            db.close()

    threads = [threading.Thread(target=racer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(len(r) for r in results) == [0, 0, 0, len(todo)]


def test_a_run_that_cannot_get_the_lock_in_time_fails_clearly(
    db: Database, credentials: Credentials
):
    holder = pymysql.connect(
        host=credentials.host,
        port=credentials.port,
        user=credentials.username,
        password=credentials.password,
        database=credentials.dbname,
        ssl=local_tls(),
    )
    with holder.cursor() as cursor:
        cursor.execute("SELECT GET_LOCK(CONCAT('schema_migrations:', MD5(DATABASE())), 0)")
        assert cursor.fetchone() == (1,)

        with pytest.raises(MigrationError, match="held the lock"):
            migrations.migrate(db, lock_timeout=1)
    holder.close()


def test_statements_split_at_line_end_semicolons_and_skip_comments():
    sql = (
        "-- a comment\nCREATE TABLE a (\n  id INT -- inline\n);\n\n"
        "INSERT INTO a VALUES (1);\nSELECT 1"
    )

    assert split_statements(sql) == [
        "CREATE TABLE a (\n  id INT -- inline\n)",
        "INSERT INTO a VALUES (1)",
        "SELECT 1",
    ]
