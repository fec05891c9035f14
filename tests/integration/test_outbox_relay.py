"""The MySQL outbox relay against what SNS and a second relay can do to it.

SNS can accept part of a PublishBatch (`Failed` entries beside `Successful` ones), and two
relay runs can overlap (a slow run and the next minute's; or more relays on purpose). The
relay runs as deployed (its own environment, its role, the real MariaDB); the partial
failure is SNS's answer at the local endpoint, the overlapping relay a transaction held on
the same outbox table.
"""

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from local_stack.assembly.stack import LocalStack
from local_stack.services.event_sources import ScheduleMapping
from tests.integration.test_fanout import RELAY, metric_records, peek
from tests.support.customers import CustomersClient
from tests.support.faults import sns_batch_entries_failing
from tests.support.polling import rounds


@pytest.fixture
def relay(fresh_stack: LocalStack) -> ScheduleMapping:
    (mapping,) = fresh_stack.event_sources.for_function(RELAY)
    assert isinstance(mapping, ScheduleMapping)
    return mapping


def audit_events(stack: LocalStack) -> list[dict[str, Any]]:
    return [json.loads(message["Body"]) for message in peek(stack, "AuditQueueUrl")]


def unpublished(stack: LocalStack) -> list[str]:
    """Customer ids of the outbox rows not yet stamped published, oldest first."""
    assert stack.database is not None
    with stack.database.admin() as cursor:
        cursor.execute(
            f"SELECT customer_id FROM `{stack.database.name}`.customer_events_outbox "  # noqa: S608
            "WHERE published_at IS NULL ORDER BY id"
        )
        return [row[0] for row in cursor.fetchall()]


def test_entries_sns_refuses_in_a_batch_stay_unpublished_and_are_counted(
    fresh_stack: LocalStack, relay: ScheduleMapping
):
    """Given three changes, when SNS accepts two entries of the batch and refuses the
    third, then the two are stamped published, the third stays in the outbox, the relay
    reports it as OutboxPublishFailures (the metric, namespace and dimensions its alarm
    watches), and the next run publishes it once.

    Mutation caught: stamping every row of the batch instead of the `Successful` ids
    (customer_platform/events/outbox.py `relay`): the refused event is marked published
    and never sent. Also the metric renamed or dropped (`drain` in the same module), or
    OutboxPublishFailuresAlarm watching another namespace or dimension set."""
    api = CustomersClient(fresh_stack.api, "rds")
    ids = [api.create(name=f"Customer {n}")["id"] for n in range(3)]
    refused_customer = ids[1]
    topic = fresh_stack.cloud.physical_id("CustomerEventsTopic")

    with sns_batch_entries_failing(
        topic, lambda entry: json.loads(entry["Message"])["customerId"] == refused_customer
    ) as refused:
        relay.poll()
    during = [e["customerId"] for e in audit_events(fresh_stack)]
    left = unpublished(fresh_stack)
    relay.poll()

    assert len(refused) == 1
    assert sorted(during) == sorted([ids[0], ids[2]])
    assert left == [refused_customer]
    assert unpublished(fresh_stack) == []
    assert sorted(e["customerId"] for e in audit_events(fresh_stack)) == sorted(ids)
    alarm = fresh_stack.template.transformed["Resources"]["OutboxPublishFailuresAlarm"]
    watched = alarm["Properties"]
    emitted = [r for r in metric_records(fresh_stack, RELAY) if watched["MetricName"] in r]
    assert [r[watched["MetricName"]] for r in emitted] == [[1.0]]  # EMF: a list of values
    (record,) = emitted
    (meta,) = record["_aws"]["CloudWatchMetrics"]
    assert meta["Namespace"] == watched["Namespace"]
    (dimension_set,) = meta["Dimensions"]
    assert {name: record[name] for name in dimension_set} == {
        d["Name"]: d["Value"] for d in watched["Dimensions"]
    }


@contextmanager
def another_relay_holding_the_oldest_row(stack: LocalStack) -> Iterator[list[str]]:
    """A second relay's transaction holding the oldest unpublished row, claimed as the
    relay claims rows (`FOR UPDATE SKIP LOCKED`), until the block ends (it rolls back).
    Yields the customer id of the row."""
    assert stack.database is not None
    connection = stack.database.server.connect(database=stack.database.name)
    try:
        with connection.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute(
                "SELECT customer_id FROM customer_events_outbox WHERE published_at IS NULL "
                "ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"
            )
            yield [row[0] for row in cursor.fetchall()]
            cursor.execute("ROLLBACK")
    finally:
        connection.close()


def lock_waits(stack: LocalStack) -> int:
    """Transactions of the stack's database waiting for a row lock, as InnoDB reports them."""
    assert stack.database is not None
    with stack.database.admin() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT'"
        )
        (count,) = cursor.fetchone()
        return int(count)


def test_a_relay_skips_the_rows_another_relay_holds_and_never_publishes_them_twice(
    fresh_stack: LocalStack, relay: ScheduleMapping
):
    """Given three changes and another relay's transaction holding the oldest, when this
    relay runs it publishes the other two at once, neither waiting for the held row nor
    publishing it; when the other relay gives the row back, the next run publishes it.
    Every event reaches the topic once.

    Mutation caught: `SKIP LOCKED` removed from the claim (customer_platform/events/
    outbox.py): the run waits on the held row (seen as an InnoDB LOCK WAIT); `FOR UPDATE`
    removed too: the run publishes the held row while the other relay owns it."""
    api = CustomersClient(fresh_stack.api, "rds")
    ids = [api.create(name=f"Customer {n}")["id"] for n in range(3)]
    run = threading.Thread(target=relay.poll, name="relay-run")
    waited = False
    with another_relay_holding_the_oldest_row(fresh_stack) as held:
        run.start()
        for _ in rounds("the relay run to finish or wait on the held row"):
            if not run.is_alive():
                break
            if lock_waits(fresh_stack):
                waited = True
                break
            run.join(0.05)
        during = [e["customerId"] for e in audit_events(fresh_stack)]
    run.join()  # (a run that waited goes on once the row is free)
    relay.poll()

    assert held == [ids[0]]
    assert not waited, "the run waited for the row another relay holds"
    assert sorted(during) == sorted(ids[1:]), "only the rows nobody else holds"
    published = [e["customerId"] for e in audit_events(fresh_stack)]
    assert sorted(published) == sorted(ids), "each event once"
