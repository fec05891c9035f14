"""Versioned SQL migrations, applied idempotently by one entry point: `migrate()`.

Files in this package are named `NNNN_description.sql` and applied in version order, each
at most once per database. The `schema_migrations` table records what was applied, with
a checksum, so editing a migration that already ran is an error instead of a silent
no-op. A server-side named lock (`GET_LOCK`, scoped to the database) serialises concurrent
runs: two deploys, or a deploy and a developer, cannot apply the same migration twice.

MySQL commits DDL implicitly, so a migration of several statements is not atomic. A
migration is recorded only after all of its statements ran, and a failed one runs again
from its first statement next time. So either keep one DDL statement per file (MySQL 8
makes a single DDL statement atomic) or make every statement safe to repeat (`CREATE
TABLE IF NOT EXISTS`; note that MySQL 8, unlike MariaDB, has no `ADD COLUMN IF NOT
EXISTS`). Statements are separated by a `;` at the end of a line; `--` comment lines are
ignored. Keep migrations backward compatible with the code still running (expand now,
contract in a later release): the custom resource runs before the functions update.

The same function runs everywhere: in the deployed stack through the `db_migrations`
function (a CloudFormation custom resource), in the local stack, and in the tests.
"""

import hashlib
import importlib.resources
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pymysql
from aws_lambda_powertools import Logger
from pymysql.cursors import Cursor

from customer_platform.database import Database

logger = Logger(child=True)

LOCK_TIMEOUT_S = 60
_FILE_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")
# One lock per database (a server may host several), named within MySQL's 64 characters.
_LOCK_NAME = "CONCAT('schema_migrations:', MD5(DATABASE()))"

SCHEMA_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
  version CHAR(4) CHARACTER SET ascii NOT NULL,
  name VARCHAR(200) CHARACTER SET ascii NOT NULL,
  checksum CHAR(64) CHARACTER SET ascii NOT NULL,
  applied_at DATETIME(3) NOT NULL,
  PRIMARY KEY (version)
) ENGINE = InnoDB
"""


class MigrationError(RuntimeError):
    """The schema cannot be brought up to date; the message says why."""


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    def statements(self) -> list[str]:
        return split_statements(self.sql)


def split_statements(sql: str) -> list[str]:
    statements: list[str] = []
    current: list[str] = []
    for line in sql.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("--"):
            continue
        current.append(line.rstrip())
        if stripped.endswith(";"):
            statements.append("\n".join(current)[:-1].strip())
            current = []
    if current:
        statements.append("\n".join(current).strip())
    return statements


def available() -> list[Migration]:
    """The migrations shipped with this package, in version order."""
    found: list[Migration] = []
    for entry in importlib.resources.files(__package__).iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _FILE_NAME.match(entry.name)
        if match is None:
            raise MigrationError(f"{entry.name}: migrations are named NNNN_description.sql")
        found.append(Migration(match["version"], match["name"], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda migration: migration.version)
    versions = [migration.version for migration in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migrations share a version: {versions}")
    return found


def migrate(
    database: Database,
    migrations: Sequence[Migration] | None = None,
    *,
    lock_timeout: int = LOCK_TIMEOUT_S,
) -> list[str]:
    """Apply every migration not yet applied; return the versions applied by this run."""
    todo = list(available() if migrations is None else migrations)
    return database.run(lambda cursor: _apply(cursor, todo, lock_timeout))


def applied_versions(database: Database) -> list[str]:
    def read(cursor: Cursor) -> list[str]:
        cursor.execute(SCHEMA_MIGRATIONS_TABLE)
        cursor.execute("SELECT version FROM schema_migrations ORDER BY version")
        return [row[0] for row in cursor.fetchall()]

    return database.run(read)


def pending(todo: Sequence[Migration], applied: Mapping[str, str]) -> list[Migration]:
    """The migrations of `todo` not yet applied (`applied`: version -> checksum), in order.
    One that was applied and has changed since is an error, before anything runs."""
    for migration in todo:
        if migration.version in applied and applied[migration.version] != migration.checksum:
            raise MigrationError(
                f"migration {migration.version}_{migration.name} changed after it was "
                "applied; add a new migration instead of editing an applied one"
            )
    return [migration for migration in todo if migration.version not in applied]


def _apply(cursor: Cursor, todo: list[Migration], lock_timeout: int) -> list[str]:
    cursor.execute(f"SELECT GET_LOCK({_LOCK_NAME}, %s)", (lock_timeout,))
    (locked,) = cursor.fetchone()
    if locked != 1:
        raise MigrationError(f"another migration run held the lock for {lock_timeout} s")
    try:
        cursor.execute(SCHEMA_MIGRATIONS_TABLE)
        cursor.execute("SELECT version, checksum FROM schema_migrations")
        applied: dict[str, str] = dict(cursor.fetchall())
        done: list[str] = []
        for migration in pending(todo, applied):
            logger.info("applying migration", extra={"version": migration.version})
            for statement in migration.statements():
                cursor.execute(statement)
            cursor.execute(
                "INSERT INTO schema_migrations (version, name, checksum, applied_at) "
                "VALUES (%s, %s, %s, UTC_TIMESTAMP(3))",
                (migration.version, migration.name, migration.checksum),
            )
            cursor.connection.commit()
            done.append(migration.version)
        unknown = sorted(set(applied) - {migration.version for migration in todo})
        if unknown:
            # A newer release migrated this database (e.g. this code is a rollback).
            logger.warning("database has migrations this code does not know", extra={"v": unknown})
        return done
    finally:
        try:
            cursor.execute(f"SELECT RELEASE_LOCK({_LOCK_NAME})")
            cursor.fetchall()
        except pymysql.MySQLError:
            pass  # the connection is gone, and the server released the lock with it
