"""Django's MySQL backend on PyMySQL, connecting the way every function of this stack does.

Django's backend imports `MySQLdb` (mysqlclient, a C extension that needs the MySQL client
library in the deployment package). PyMySQL is pure Python, already in the shared layer,
and registers itself under that name with `install_as_MySQLdb()` (this package's
__init__, which runs before Django's backend is imported). Django 5.2 refuses a
driver older than mysqlclient 1.4.3, and PyMySQL answers the check as mysqlclient 2.2.8
(`pymysql.version_info`, kept for exactly this): nothing to patch.

What this subclass adds to Django's backend, from customer_platform.database:

* the login (host, port, user, password, database) comes from the Secrets Manager secret,
  cached for SECRET_MAX_AGE, when a connection opens; settings.py holds none of it;
* access denied (1045, a rotated password) reads the secret again once and reconnects
  (`connect_rotation_safe`, the same code as the RDS backend's); a database that cannot be
  reached is `Unavailable` (503 with Retry-After), not a 500;
* TLS verified against the layer's CA bundle (`tls_context`), the same session settings
  (UTC, strict SQL mode) and the same connect/read/write timeouts.

Django sets the rest itself: CLIENT.FOUND_ROWS (an UPDATE's row count is the rows it
matched, which the optimistic concurrency check reads), utf8mb4, autocommit with
transaction.atomic for writes, and READ COMMITTED.
"""

from typing import Any

from django.db import connections
from django.db.backends.mysql import base as mysql
from snapshot_restore_py import register_after_restore, register_before_snapshot

from customer_platform.database import (
    SECRET_MAX_AGE,
    SESSION_INIT,
    Credentials,
    CredentialSource,
    Timeouts,
    connect_rotation_safe,
    secret_credentials,
    tls_context,
)

# OPTIONS that this backend reads itself (settings.py), as Django's own reads
# `isolation_level`: they are not arguments of pymysql.connect().
_OWN_OPTIONS = ("secret_arn", "endpoint")


def _login(credentials: Credentials) -> dict[str, Any]:
    return {
        "host": credentials.host,
        "port": credentials.port,
        "user": credentials.username,
        "password": credentials.password,
        "database": credentials.dbname,
    }


class DatabaseWrapper(mysql.DatabaseWrapper):
    def __init__(self, settings_dict: dict[str, Any], alias: str = "default") -> None:
        super().__init__(settings_dict, alias)
        options = settings_dict["OPTIONS"]
        # Reads nothing yet: the secret is fetched when the first connection opens.
        self._credentials: CredentialSource = secret_credentials(
            options["secret_arn"], max_age=SECRET_MAX_AGE, endpoint=options.get("endpoint", "")
        )

    def get_connection_params(self) -> dict[str, Any]:
        params: dict[str, Any] = super().get_connection_params()
        for name in _OWN_OPTIONS:
            params.pop(name, None)
        timeouts = Timeouts()
        return params | {
            "ssl": tls_context(),
            "init_command": SESSION_INIT,
            "connect_timeout": timeouts.connect,
            "read_timeout": timeouts.read,
            "write_timeout": timeouts.write,
        }

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        def open_with(credentials: Credentials) -> Any:
            return mysql.DatabaseWrapper.get_new_connection(self, conn_params | _login(credentials))

        return connect_rotation_safe(self._credentials, open_with)


# SnapStart (template parameter EnableSnapStart): no connection may be in the snapshot, or
# every restored environment would share its session. Django opens connections on the
# first query, so there is none at snapshot time unless something queried during init;
# these hooks make that a guarantee, as customer_platform.snapstart does for the others.
@register_before_snapshot
def _close_before_snapshot() -> None:
    connections.close_all()


@register_after_restore
def _close_after_restore() -> None:
    connections.close_all()
