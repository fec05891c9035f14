"""What a scheduled tick shows on the terminal under `make api` (the quiet ticks of rate()).

A private stack writes its function logs to a string, as `make api` writes them to the
terminal; the outbox relay's schedule runs as the pollers run it (`run(quiet=True)`).
"""

import io
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from customer_platform import aws
from local_stack.assembly.stack import LocalStack
from local_stack.runtime import LocalRuntime, new_credentials
from local_stack.runtime.functions import LocalFunction
from local_stack.services import mysql
from local_stack.services.endpoint import AwsEndpoint
from local_stack.services.event_sources import ScheduleMapping
from local_stack.template.transform import FunctionSource
from tests.local_stack.test_runtime import PROBE, TIMEOUT_S, add, config
from tests.support.customers import CustomersClient

RELAY = "OutboxRelayFunction"


@pytest.fixture
def echoed(
    endpoint: AwsEndpoint,
    mysql_server: mysql.ServerAddress,
    function_logs: Path,
    request: pytest.FixtureRequest,
) -> Iterator[tuple[LocalStack, io.StringIO]]:
    readable = re.sub(r"[^a-zA-Z0-9]+", "-", request.node.name)[:24].strip("-")
    name = f"t-{readable}-{uuid.uuid4().hex[:8]}"
    terminal = io.StringIO()
    deployed = LocalStack(
        endpoint=endpoint,
        stack_name=name,
        parameters={},
        log_dir=function_logs / name,
        echo=terminal,
    ).deploy()
    aws.reset_clients()
    yield deployed, terminal
    deployed.close()


def relay_lines(terminal: io.StringIO) -> list[str]:
    return [line for line in terminal.getvalue().splitlines() if line.startswith(RELAY)]


def test_a_quiet_tick_is_shown_only_when_it_relays(echoed: tuple[LocalStack, io.StringIO]):
    """Given the relay's rate() schedule ticking quietly, as under `make api`
    When a tick finds nothing, then a tick relays an RDS customer's event
    Then the idle tick is in the function's file only, the relaying one on the terminal.

    Catches: every tick echoed (12 lines a second of START/END/REPORT under `make api`
    before); a relaying tick hidden along with the idle ones."""
    stack, terminal = echoed
    (mapping,) = stack.event_sources.for_function(RELAY)
    assert isinstance(mapping, ScheduleMapping)
    assert mapping.continuous

    assert mapping.run(quiet=True) == {"published": 0, "failed": 0}
    assert relay_lines(terminal) == [], "an idle tick reached the terminal"
    filed = (stack.log_dir / f"{RELAY}.log").read_text()
    assert "START RequestId" in filed
    assert '"published":0' in filed

    CustomersClient(stack.api, "rds").create()
    assert mapping.run(quiet=True)["published"] == 1
    shown = relay_lines(terminal)
    assert sum("START RequestId" in line for line in shown) == 1
    assert any('"published":1' in line for line in shown), shown


def test_a_quiet_tick_that_says_something_is_shown(tmp_path: Path):
    """Given a scheduled function that moves nothing but prints a line of its own (the
    probe function; a warning of the relay, such as SNS refusing some of a batch, is the
    same case: the run returns normally with nothing published)
    When its rate() schedule ticks quietly
    Then the whole invocation is on the terminal, not only in its file.

    Catches: quiet ticks judged by what they moved alone (a relay that warns every
    second, publishing nothing, would never reach the terminal)."""
    terminal = io.StringIO()
    runtime = LocalRuntime(log_dir=tmp_path, echo=terminal)
    try:
        name = "scheduled-probe"
        function = LocalFunction(
            FunctionSource(name, PROBE, "app.handler", (), TIMEOUT_S),
            config(name),
            add(runtime, name),
            new_credentials(),
        )
        mapping = ScheduleMapping(function, f"{name}.Tick", "rate(1 minute)")

        mapping.run(quiet=True)
    finally:
        runtime.close()

    shown = [line for line in terminal.getvalue().splitlines() if line.startswith(name)]
    assert any("probe  in " in line for line in shown), shown
    assert any("REPORT RequestId" in line for line in shown), shown
    assert "probe  in " in (tmp_path / f"{name}.log").read_text()
