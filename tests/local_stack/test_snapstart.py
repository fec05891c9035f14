"""SnapStart: a restored execution environment keeps nothing unique from the snapshot.

The customers-rds and customers-django functions run under the local runtime through the
local-only SnapStart entry point (local_stack/assembly/snapstart.py), which runs the
function's registered before-snapshot and after-restore hooks in its own process, with
awslambdaric's hook runner, when asked. Everything is observed at real boundaries:
MySQL's process list for connections, a TCP proxy for the database address, the HTTP
responses.
"""

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from local_stack.assembly.snapstart import snapstart_pool
from local_stack.assembly.stack import LocalStack
from local_stack.network.tcp_proxy import TcpProxy
from tests.support.mysql import (
    admin,
    change_password,
    connection_ids,
    put_secret_document,
    secret_document,
)

FUNCTIONS = {"rds": "CustomersRdsFunction", "django": "CustomersDjangoFunction"}


def _get_event(backend: str, customer_id: str) -> dict[str, Any]:
    with open(f"events/customers_{backend}/get.json") as file:
        event: dict[str, Any] = json.load(file)
    event["path"] = f"/{backend}/customers/{customer_id}"
    event["pathParameters"] = {"id": customer_id}
    return event


def _soon(condition: Callable[[], bool], within_s: float = 10.0) -> bool:
    """True once `condition` holds (the server drops a closed session asynchronously)."""
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.parametrize("backend", sorted(FUNCTIONS))
def test_a_restored_environment_connects_afresh_with_the_current_secret(
    fresh_stack: LocalStack, mysql_server: Any, backend: str
):
    """Given the function serving through a database address from its secret
    When the before-snapshot hooks run, the database then moves (new address, new
    password; the old address goes dark) and the after-restore hooks run
    Then the snapshot held no connection, and the restored environment answers from a
    new connection made with the secret as it is now.

    Catches: the before-snapshot hook not closing connections (the session outlives the
    snapshot in the process list); the after-restore hook not forgetting cached secrets
    (the restored environment dials the dark old address: 503); either hook missing
    from customer_platform/snapstart.py (or, for Django's connection, from
    django_customers/mysql/base.py).
    """
    secret = secret_document(fresh_stack)
    user = str(secret["username"])
    old_path = TcpProxy((mysql_server.host, mysql_server.port))
    new_path = TcpProxy((mysql_server.host, mysql_server.port))
    put_secret_document(fresh_stack, secret | {"host": "127.0.0.1", "port": old_path.port})
    customer_id = "0b7e4c1e-5a55-4f2b-9d55-2f6d3f0c5e11"
    with admin(mysql_server) as cursor:
        cursor.execute(
            f"INSERT INTO `{secret['dbname']}`.customers (id, name, email, created_at, updated_at)"  # noqa: S608
            " VALUES (%s, 'Snap', 'snap@example.com', NOW(3), NOW(3))",
            (customer_id,),
        )
    pool = snapstart_pool(fresh_stack, FUNCTIONS[backend])
    try:
        others = connection_ids(mysql_server, user)  # the migration function's, say
        served = pool.invoke(_get_event(backend, customer_id)).result
        assert served["statusCode"] == 200, served
        ours = connection_ids(mysql_server, user) - others
        assert len(ours) == 1, f"expected one new session, got {ours}"

        snapshot = pool.invoke({"localSnapStart": "before-snapshot"}).result
        assert snapshot == {"localSnapStart": "before-snapshot", "done": True}
        assert _soon(lambda: not connection_ids(mysql_server, user) & ours), (
            "a connection survived the snapshot"
        )

        change_password(mysql_server, user, "rotated-after-the-snapshot")
        put_secret_document(
            fresh_stack,
            secret
            | {
                "host": "127.0.0.1",
                "port": new_path.port,
                "password": "rotated-after-the-snapshot",
            },
        )
        old_path.cut()  # the address in the snapshot's cached secret no longer answers

        pool.invoke({"localSnapStart": "after-restore"})
        before_restored_request = connection_ids(mysql_server, user)
        restored = pool.invoke(_get_event(backend, customer_id)).result
        assert restored["statusCode"] == 200, restored
        assert json.loads(restored["body"])["id"] == customer_id
        fresh = connection_ids(mysql_server, user) - before_restored_request
        assert len(fresh) == 1
        assert not fresh & ours
        new_path.cut()  # and that connection came through the secret's current address
        assert _soon(lambda: not connection_ids(mysql_server, user) & fresh)
    finally:
        pool.close()
        old_path.close()
        new_path.close()
