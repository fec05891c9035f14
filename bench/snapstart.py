"""SnapStart, verified locally: the hooks run in a function's own process, in order.

What Lambda does around a snapshot cannot run here (there is no microVM to snapshot); what
the project controls can: the template turns SnapStart on for every function
(EnableSnapStart, published versions behind the "live" alias), and the functions'
before-snapshot and after-restore hooks (customer_platform/snapstart.py) run under the
local runtime through the local-only SnapStart entry point (local_stack/assembly/snapstart.py), the
same way tests/local_stack/test_snapstart.py runs them. Observed at the boundaries:

* initialisation opens no database connection (MySQL's process list);
* the before-snapshot hooks close the connection a served request left open;
* after the after-restore hooks, the first request reads the secret again (one
  GetSecretValue by the function's credentials at the AWS endpoint) and opens a new
  connection.

And timed: the first request after a restore (secret read and connection, with every
import already done), beside a cold start's first request and a warm one.
"""

import json
import statistics
import time
from typing import Any

from bench.harness import Counters, progress
from local_stack.assembly.snapstart import snapstart_pool
from local_stack.assembly.stack import LocalStack
from local_stack.template.transform import load_template

FUNCTION = "CustomersRdsFunction"


def _sessions(counters: Counters, user: str) -> set[int]:
    with counters.mysql._admin.cursor() as cursor:
        cursor.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = %s", (user,))
        return {int(row[0]) for row in cursor.fetchall()}


def _settled(read: Any, condition: Any, within_s: float = 5.0) -> Any:
    deadline = time.monotonic() + within_s
    value = read()
    while not condition(value) and time.monotonic() < deadline:
        time.sleep(0.05)
        value = read()
    return value


def run(stack: LocalStack, counters: Counters) -> dict[str, Any]:
    progress("snapstart: the hooks in order, in the function's own process")
    secrets = stack.cloud.client("secretsmanager")
    function = stack.function(FUNCTION)
    # the user the function connects as: its own secret's (the application user), not the
    # master's, whose sessions are the bench's own
    secret_arn = function.environment["DATABASE_SECRET_ARN"]
    user = json.loads(secrets.get_secret_value(SecretId=secret_arn)["SecretString"])["username"]
    key = function.credentials.access_key_id
    customer = stack.api.request(
        "POST",
        "/rds/customers",
        body=json.dumps({"name": "Snap", "email": f"snap-{time.time_ns()}@example.com"}),
    ).json()["id"]
    event: dict[str, Any] = json.loads(
        (
            stack.template.functions[FUNCTION].code_dir.parents[1]
            / "events"
            / "customers_rds"
            / "get.json"
        ).read_text()
    )
    event["path"] = f"/rds/customers/{customer}"
    event["pathParameters"] = {"id": customer}
    checks: list[dict[str, Any]] = []
    timings: dict[str, float] = {}
    template = load_template(parameters={"EnableSnapStart": "true"}).transformed["Resources"]
    snap = sorted(
        name
        for name, resource in template.items()
        if resource["Type"] == "AWS::Lambda::Function"
        and (resource["Properties"].get("SnapStart") or {}).get("ApplyOn") == "PublishedVersions"
    )
    pool = snapstart_pool(stack, FUNCTION)
    try:
        before_init = _sessions(counters, user)
        pool.invoke({"localSnapStart": "before-snapshot"})  # init only, then the hooks
        opened = _sessions(counters, user) - before_init
        checks.append(
            {
                "check": "initialisation opens no database connection",
                "ok": not opened,
                "observed": f"{len(opened)} new sessions",
            }
        )
        pool.stop_idle(0)

        began = time.perf_counter()
        served = pool.invoke(event)
        timings["cold_start"] = (time.perf_counter() - began) * 1000
        warm = []
        for _ in range(20):
            began = time.perf_counter()
            pool.invoke(event)
            warm.append((time.perf_counter() - began) * 1000)
        timings["warm"] = statistics.median(warm)
        ours = _sessions(counters, user) - before_init
        pool.invoke({"localSnapStart": "before-snapshot"})
        left = _settled(lambda: _sessions(counters, user) & ours, lambda v: not v)
        checks.append(
            {
                "check": "before-snapshot: the open connection is closed",
                "ok": bool(ours) and not left,
                "observed": f"sessions {sorted(ours)} -> {sorted(left)} left",
            }
        )

        pool.invoke({"localSnapStart": "after-restore"})
        fetches = counters.aws.of(key)["GetSecretValue"]
        sessions = _sessions(counters, user)
        began = time.perf_counter()
        restored = pool.invoke(event)
        timings["after_restore"] = (time.perf_counter() - began) * 1000
        read = counters.aws.of(key)["GetSecretValue"] - fetches
        new = _sessions(counters, user) - sessions
        checks.append(
            {
                "check": "after-restore: the first request reads the secret again",
                "ok": read == 1 and restored.result["statusCode"] == 200,
                "observed": f"{read} GetSecretValue at the AWS endpoint",
            }
        )
        checks.append(
            {
                "check": "after-restore: the first request opens a new connection",
                "ok": len(new) == 1 and not new & ours,
                "observed": f"new session {sorted(new)}",
            }
        )
        if served.result["statusCode"] != 200:
            raise RuntimeError(f"the SnapStart-mode function answered {served.result!r:.300}")
    except (RuntimeError, KeyError) as error:
        return {"error": str(error), "checks": checks}
    finally:
        pool.close()
    return {
        "function": FUNCTION,
        "template": {
            "parameter": "EnableSnapStart",
            "alias": "live",
            "functions_with_snapstart_when_on": snap,
        },
        "checks": checks,
        "first_request_ms": {k: round(v, 1) for k, v in timings.items()},
        "entry_point": (
            "local_stack/assembly/snapstart.py (hooks run by awslambdaric's hook runner)"
        ),
    }
