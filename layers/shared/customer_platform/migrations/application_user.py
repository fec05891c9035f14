"""The application's database user, created and granted by the migrations (as the master).

The functions connect as this user, never as the master. It may run the statements the
application runs and nothing else: data changes on the application's tables, but no DDL,
no other table (not even `schema_migrations`), no user management. A compromised function
or an injected statement can then read and change customers, and that is all.

The secret (DatabaseAppSecret) names the user and holds its password. Rotation alternates
between two users, `<name>` and `<name>_clone` (Secrets Manager's MySQLMultiUser template:
each rotation sets a new password on the user the secret does not name, then points the
secret at it). Both are created and granted here, so both always hold exactly the
privileges of this release, whichever the secret names. A password is set only when its
user is created; after that, passwords belong to the rotation. The clone starts with a
random password nobody knows until the first rotation sets one.

Privileges are only ever added here (GRANT is idempotent). Taking one away is a migration
of its own: `REVOKE ... FROM` both users, once no running code needs it.
"""

import re
import secrets

from aws_lambda_powertools import Logger
from pymysql.cursors import Cursor

from customer_platform.database import Credentials, Database

logger = Logger(child=True)

# table -> what the application's statements need on it
PRIVILEGES: dict[str, tuple[str, ...]] = {
    # the API's CRUD; the partner writer's locked reads (FOR UPDATE needs UPDATE) and upserts
    "customers": ("SELECT", "INSERT", "UPDATE", "DELETE"),
    # every change writes its event; the relay reads, stamps and prunes them
    "customer_events_outbox": ("SELECT", "INSERT", "UPDATE", "DELETE"),
}
CLONE_SUFFIX = "_clone"
# Secrets Manager's MySQLMultiUser rotation refuses a clone name over 16 characters.
MAX_CLONE_NAME = 16
_NAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")


class ApplicationUserError(RuntimeError):
    """The application's user cannot be set up as asked; the message says why."""


def alternating_users(username: str) -> tuple[str, str]:
    """The two users the rotation alternates between, whichever of them `username` is."""
    base = username.removesuffix(CLONE_SUFFIX)
    clone = base + CLONE_SUFFIX
    if len(clone) > MAX_CLONE_NAME or not _NAME.match(base):
        raise ApplicationUserError(
            f"database user {username!r}: the rotation needs a name of at most "
            f"{MAX_CLONE_NAME - len(CLONE_SUFFIX)} letters, digits or underscores"
        )
    return base, clone


def identifier(name: str) -> str:
    """`name` backquoted, once checked to be a plain identifier (for GRANT and CREATE USER)."""
    if not _NAME.match(name):
        raise ApplicationUserError(f"not a plain identifier: {name!r}")
    return f"`{name}`"


def ensure(database: Database, user: Credentials) -> tuple[str, str]:
    """Create the application's two alternating users if missing and grant them
    PRIVILEGES on the database `database` is connected to; return the two names."""
    users = alternating_users(user.username)

    def work(cursor: Cursor) -> None:
        cursor.execute("SELECT DATABASE()")
        (schema,) = cursor.fetchone()
        if schema != user.dbname:
            raise ApplicationUserError(
                f"the application's secret names database {user.dbname!r}, the migrations "
                f"run on {schema!r}"
            )
        for name in users:
            password = user.password if name == user.username else secrets.token_urlsafe(32)
            cursor.execute("CREATE USER IF NOT EXISTS %s@'%%' IDENTIFIED BY %s", (name, password))
            for table, privileges in PRIVILEGES.items():
                cursor.execute(
                    # constants and checked identifiers; the user name goes as a parameter
                    f"GRANT {', '.join(privileges)} "
                    f"ON {identifier(schema)}.{identifier(table)} TO %s@'%%'",
                    (name,),
                )

    database.run(work)
    logger.info("application database users granted", extra={"users": list(users)})
    return users
