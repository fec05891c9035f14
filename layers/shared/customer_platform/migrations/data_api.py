"""The same versioned migrations, applied to an Aurora cluster over the RDS Data API.

`customer_platform.migrations` applies the `NNNN_description.sql` files over one pymysql
connection; this applies the same files, with the same `schema_migrations` table and
checksums, as the cluster's master through the Data API (the aurora-migrations custom
resource, outside the VPC). Two differences, both from the Data API having no session:

* Each DDL statement is its own ExecuteStatement with `continueAfterTimeout` (AWS's advice:
  a DDL statement stopped half way can leave a table damaged), outside any transaction (a
  DDL statement inside one commits it implicitly). A migration is recorded after its last
  statement, so a failed one starts again from its first, as on RDS.
* No `GET_LOCK`: a lock lives in a session, and Data API calls share pooled sessions. Runs
  are serialised by CloudFormation instead (one operation per stack at a time, and this
  only runs as the stack's custom resource or by hand); two runs that did overlap would
  fail on the second's DDL, not apply a migration twice (the version is the primary key).

The application's user is created and granted as on RDS (`application_user.PRIVILEGES`),
one user without a rotation clone (the Aurora secret is not rotated, see template.yaml).
"""

from collections.abc import Sequence

from aws_lambda_powertools import Logger

from customer_platform.data_api import DataApi
from customer_platform.migrations import (
    SCHEMA_MIGRATIONS_TABLE,
    Migration,
    available,
    pending,
)
from customer_platform.migrations.application_user import PRIVILEGES, identifier

logger = Logger(child=True)


def migrate(api: DataApi, migrations: Sequence[Migration] | None = None) -> list[str]:
    """Apply every migration not yet applied; return the versions applied by this run."""
    todo = list(available() if migrations is None else migrations)
    api.execute(SCHEMA_MIGRATIONS_TABLE, continue_after_timeout=True)
    applied = {
        row["version"]: row["checksum"]
        for row in api.query("SELECT version, checksum FROM schema_migrations")
    }
    done: list[str] = []
    for migration in pending(todo, applied):
        logger.info("applying migration", extra={"version": migration.version})
        for statement in migration.statements():
            api.execute(statement, continue_after_timeout=True)
        api.execute(
            "INSERT INTO schema_migrations (version, name, checksum, applied_at) "
            "VALUES (:version, :name, :checksum, UTC_TIMESTAMP(3))",
            {"version": migration.version, "name": migration.name, "checksum": migration.checksum},
        )
        done.append(migration.version)
    return done


def applied_versions(api: DataApi) -> list[str]:
    rows = api.query("SELECT version FROM schema_migrations ORDER BY version")
    return [str(row["version"]) for row in rows]


def ensure_application_user(api: DataApi, username: str, password: str) -> None:
    """Create the application's user if missing, and grant it PRIVILEGES on the database
    the Data API works in. The password goes as a typed parameter, never into the SQL."""
    user = identifier(username)
    # The database the Data API calls run in, as the server names it.
    (current,) = api.query("SELECT DATABASE() AS name")
    schema = identifier(str(current["name"]))
    api.execute(
        f"CREATE USER IF NOT EXISTS {user}@'%' IDENTIFIED BY :password", {"password": password}
    )
    for table, privileges in PRIVILEGES.items():
        api.execute(
            # constants and checked identifiers
            f"GRANT {', '.join(privileges)} ON {schema}.{identifier(table)} TO {user}@'%'"
        )
    logger.info("application database user granted", extra={"user": username})
