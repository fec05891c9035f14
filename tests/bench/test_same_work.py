"""The benchmark's RDS floors send exactly the statements our repository sends.

The comparison "ours against its floor" is fair only if the floor does the same work:
each operation's statements (SQL text, in order, COMMIT included) are recorded for one
call of the customers-rds function's handler and one call of the floor, both in a bench
worker (the function's interpreter, folder and environment), and must be the same.
"""

import uuid
from pathlib import Path

import pytest

from bench.harness import Counters, EndpointCalls, ServerStatus
from bench.warm import OPS, Comparison, Network, RdsWorkload
from bench.workers import Worker
from local_stack.assembly.stack import LocalStack
from local_stack.services.endpoint import AwsEndpoint
from local_stack.services.mysql import ServerAddress


@pytest.fixture(scope="module")
def own_stack(endpoint: AwsEndpoint, mysql_server: ServerAddress, function_logs: Path):
    """A stack of its own: the workload seeds customers that a shared stack's list tests
    would see."""
    name = f"bench-same-work-{uuid.uuid4().hex[:8]}"
    deployed = LocalStack(endpoint=endpoint, stack_name=name, log_dir=function_logs / name)
    yield deployed.deploy()
    deployed.close()


@pytest.fixture(scope="module")
def workload(own_stack: LocalStack, mysql_server: ServerAddress):
    stack = own_stack
    admin = mysql_server.connect()
    network = Network(stack, aws_proxy=None, endpoint_url=stack.endpoint.url)  # type: ignore[arg-type]
    rds = RdsWorkload(stack, network, Counters(EndpointCalls(), ServerStatus(admin)))
    rds.seed()
    with Worker(rds.function) as worker:
        rds.workers["function"] = worker
        # the cold call: the connection (and its session set-up) is opened once, untimed
        worker.run("ours", [rds.events.make("get", customer_id=rds.seed_id)])
        yield rds
    rds.close()
    network.mysql_proxy.close()
    admin.close()


@pytest.mark.parametrize("op", OPS)
def test_the_rds_floor_sends_the_statements_ours_sends(workload: RdsWorkload, op: str):
    """Catches: a floor that skips the COMMIT Database.run sends (the old "floor" did), the
    read before an update or delete, or the outbox INSERT; ours changing its statements
    without the floor following."""
    comparison = Comparison("rds", op, 0.0, {}, rounds=None)  # type: ignore[arg-type]
    workload.verify(comparison)
    assert comparison.sql["ours"], f"no statement recorded for ours' {op}"
    assert comparison.sql["floor"] == comparison.sql["ours"]
    assert comparison.sql["ours"][-1] == "COMMIT"
    assert len(comparison.sql["floor_one"]) == 1
    assert comparison.same_work is True


def test_same_work_needs_both_the_counted_work_and_the_statements():
    """What results.json records as `same_work` and what the run's errors say: one
    judgement, from the counts and the statements together. Catches: either one ignored,
    or a floor that is other work by design (Django's) judged as a mismatch."""

    def comparison(floor_work: int, floor_sql: list[str], checked: bool = True) -> Comparison:
        return Comparison(
            "rds",
            "get",
            0.0,
            {},
            rounds=None,  # type: ignore[arg-type]
            work={"ours": {"select": 1}, "floor": {"select": floor_work}},
            sql={"ours": ["SELECT", "COMMIT"], "floor": floor_sql},
            same_work_checked=checked,
        )

    assert comparison(1, ["SELECT", "COMMIT"]).same_work is True
    assert comparison(2, ["SELECT", "COMMIT"]).same_work is False
    assert comparison(1, ["SELECT"]).same_work is False
    assert comparison(2, ["SELECT"], checked=False).same_work is None
