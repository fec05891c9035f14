"""The partner writer's pace: ScalingConfig.MaximumConcurrency, not reserved concurrency.

The writer reserves 2 concurrent executions (its most database connections). Its SQS
event source mapping does not know that: Lambda's pollers start with five batches at
once and add more while the queue stays full, a batch past the reservation is throttled
and goes back to the queue, and that receive counts toward the queue's maxReceiveCount
(5) like a failure ("services-sqs-scaling" in the Lambda developer guide; the Knowledge
Center's "lambda-sqs-scaling"). A big enough sync then dead-letters rows nothing was
wrong with. The template's `ScalingConfig: MaximumConcurrency` (= the reservation) keeps
the mapping within it.

Both halves run the template's writer, queue and DLQ locally, where the SQS poller
emulates Lambda's scaling and the pool throttles past the reservation.
"""

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from local_stack.assembly.stack import LocalStack
from local_stack.services.endpoint import AwsEndpoint
from local_stack.services.event_sources import SqsMapping
from local_stack.services.mysql import ServerAddress
from local_stack.template.transform import load_yaml
from tests.conftest import deploy
from tests.support.polling import poll_until_idle
from tools.local_concurrency import dead_lettered, queue_rows, written

WRITER = "PartnerWriterFunction"
MESSAGES = 300  # one row each: 30 batches of 10, far more than 2 writers take at once


def writer_mapping(stack: LocalStack) -> SqsMapping:
    (mapping,) = [m for m in stack.event_sources.for_function(WRITER) if isinstance(m, SqsMapping)]
    return mapping


def writer_complained(stack: LocalStack) -> list[str]:
    """Lines of the writer's log above INFO: a record it failed, an error it raised."""
    lines = stack.runtime.logs.path(WRITER).read_text().splitlines()
    return [line for line in lines if '"level":"WARNING"' in line or '"level":"ERROR"' in line]


@pytest.fixture
def unpaced_stack(
    endpoint: AwsEndpoint,
    mysql_server: ServerAddress,
    function_logs: Path,
    tmp_path: Path,
) -> Any:
    """The template with the writer's ScalingConfig removed: reserved concurrency only."""
    source = copy.deepcopy(load_yaml())
    event = source["Resources"][WRITER]["Properties"]["Events"]["IngestQueue"]["Properties"]
    del event["ScalingConfig"]
    path = tmp_path / "template.json"
    path.write_text(json.dumps(source))
    stack = deploy(endpoint, function_logs, f"t-unpaced-{uuid.uuid4().hex[:8]}", template=path)
    yield stack
    stack.close()


def test_reserved_concurrency_without_maximum_concurrency_dead_letters_healthy_rows(
    unpaced_stack: LocalStack,
):
    """The trap, shown. Catches: a local poller that never runs more batches than the
    function has room for (the old one ran one batch at a time, so the trap could not
    show), or throttled batches deleted or kept in flight instead of returned."""
    # Given a sync's worth of valid rows on the ingest queue
    ids = queue_rows(unpaced_stack, MESSAGES)
    mapping = writer_mapping(unpaced_stack)

    # When the mapping drains it
    poll_until_idle(mapping, "the ingest queue to drain")

    # Then Lambda throttled batches, and rows the writer never refused are in the DLQ
    lost = dead_lettered(unpaced_stack)
    assert mapping.throttled > 0
    assert lost, "throttled receives pushed rows past maxReceiveCount"
    assert writer_complained(unpaced_stack) == [], "the writer failed nothing itself"
    assert written(unpaced_stack) | lost == ids
    assert not written(unpaced_stack) & lost


def test_maximum_concurrency_paces_the_mapping_and_nothing_reaches_the_dlq(
    fresh_stack: LocalStack,
):
    """The template as deployed. Catches: ScalingConfig not read by the local poller, or
    set above the reserved concurrency (batches would be throttled)."""
    ids = queue_rows(fresh_stack, MESSAGES)
    mapping = writer_mapping(fresh_stack)

    poll_until_idle(mapping, "the ingest queue to drain")

    assert mapping.maximum_concurrency == 2
    assert mapping.concurrency <= 2
    assert mapping.throttled == 0
    assert dead_lettered(fresh_stack) == set()
    assert written(fresh_stack) == ids
    assert writer_complained(fresh_stack) == []
