"""Stopping the stack while its pollers are mid-invocation is not an error; a poller's
failure while the stack runs still is (`make api` and `make demo` print both to stderr)."""

import time

import pytest

from local_stack.assembly.stack import LocalStack
from local_stack.services.event_sources import wait_until

RELAY = "OutboxRelayFunction"
AUDIT = "CustomerAuditFunction"


def test_a_poller_cut_off_by_the_stack_stopping_is_not_reported(
    fresh_stack: LocalStack, capsys: pytest.CaptureFixture[str]
):
    """Given the pollers running, the audit queue's receive failing once, and the relay's
    first run held at the endpoint (its secret read answers late)
    When the stack stops while that run is in flight
    Then the receive failure is reported and the relay's cut-off run is not.

    Catches: the shutdown's broken connection printed as an error
    ("event source of OutboxRelayFunction: RemoteDisconnected(...)" at the end of `make
    demo`), or taken for a failed scheduled run (reported, and recorded in the relay's
    on-failure queue); real failures silenced along with it."""
    stalled = fresh_stack.stall(RELAY, "secretsmanager:GetSecretValue")
    refused = fresh_stack.inject_fault(AUDIT, "sqs:ReceiveMessage", "AccessDenied", status=403)
    assert stalled.hold is not None
    try:
        fresh_stack.event_sources.start(rate_seconds=0.2)
        assert wait_until(lambda: stalled.held >= 1 and refused.remaining == 0, timeout=60)
        time.sleep(0.5)  # the audit poller reports its failure
        fresh_stack.close()  # the relay's environment stops under its invocation
    finally:
        stalled.hold.set()

    said = capsys.readouterr().err
    assert f"event source of {AUDIT}: ClientError" in said, said
    assert f"event source of {RELAY}" not in said, said
    assert "a scheduled run failed" not in said, said
