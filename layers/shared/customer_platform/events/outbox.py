"""The transactional outbox of the MySQL backend, and its relay to SNS.

The repository calls `record()` inside the transaction of each change, the partner writer
calls `record_all()` inside the transaction of each batch it upserts, and the Django backend
writes `new_event(...)` through its ORM inside its `transaction.atomic()`, so the event
exists exactly when the change does (no dual write), whichever path made the change.
`relay()` publishes what is not yet published, oldest first, and stamps it in the same
transaction:

* `FOR UPDATE SKIP LOCKED`: two relays never claim the same rows, nor wait on each other;
* a failed publish (SNS down, throttled) leaves its row unpublished for the next run;
* a crash after publishing and before COMMIT republishes on the next run; the event id is
  the row's own, so consumers drop the repeat (delivery is at least once, effect once).
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from customer_platform.customers.models import Customer
from customer_platform.database import Database
from customer_platform.events.models import (
    Backend,
    CustomerData,
    CustomerEvent,
    EventType,
    at_least,
)

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sns.type_defs import PublishBatchRequestEntryTypeDef

logger = Logger(child=True)
metrics = Metrics()

RELAY_BATCH = 100
SNS_BATCH = 10  # PublishBatch takes at most ten entries
KEEP_PUBLISHED = timedelta(days=7)
DRAIN_TIME_RESERVE_MS = 5000  # a relay function stops starting batches this close to its timeout


def _db_time(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)


_INSERT = (
    "INSERT INTO customer_events_outbox "
    "(event_id, event_type, customer_id, payload, created_at) VALUES (%s, %s, %s, %s, %s)"
)


def record(
    cursor: Any, event_type: EventType, customer: Customer, backend: Backend = "rds"
) -> CustomerEvent:
    """Write the event of a change into the outbox, in the caller's transaction."""
    event = new_event(event_type, customer, backend)
    cursor.execute(_INSERT, _row(event))
    return event


def record_all(cursor: Any, changes: list[tuple[EventType, Customer]]) -> list[CustomerEvent]:
    """Write the events of several changes with one `executemany`, in the caller's
    transaction (the partner writer's batches)."""
    events = [new_event(event_type, customer) for event_type, customer in changes]
    if events:
        cursor.executemany(_INSERT, [_row(event) for event in events])
    return events


def new_event(event_type: EventType, customer: Customer, backend: Backend = "rds") -> CustomerEvent:
    """The event of a change to `customer` made through the `backend` API, with a new id (the
    Django backend writes it to this same table through its ORM; the Data API outbox too)."""
    if event_type == "CustomerDeleted":
        now = datetime.now(UTC)
        occurred_at = at_least(
            now.replace(microsecond=now.microsecond // 1000 * 1000),
            customer.updated_at + timedelta(milliseconds=1),
        )
    elif event_type == "CustomerCreated":
        occurred_at = customer.created_at
    else:
        occurred_at = customer.updated_at
    return CustomerEvent(
        event_type=event_type,
        event_id=str(uuid.uuid4()),
        occurred_at=occurred_at,
        customer_id=customer.id,
        backend=backend,
        customer=CustomerData.model_validate(customer.model_dump()),
    )


def _row(event: CustomerEvent) -> tuple[str, str, str, str, datetime]:
    return (
        event.event_id,
        event.event_type,
        event.customer_id,
        event.to_json(),
        _db_time(event.occurred_at),
    )


@dataclass
class RelayResult:
    published: int
    failed: int
    pruned: int


def sns_entry(row_id: int, event: CustomerEvent) -> "PublishBatchRequestEntryTypeDef":
    """A PublishBatch entry; `eventType` and `backend` attributes for subscription filters."""
    return {
        "Id": str(row_id),
        "Message": event.to_json(),
        "MessageAttributes": {
            "eventType": {"DataType": "String", "StringValue": event.event_type},
            "backend": {"DataType": "String", "StringValue": event.backend},
        },
    }


def publish(sns: "SNSClient", topic_arn: str, rows: list[tuple[int, CustomerEvent]]) -> list[int]:
    """Publish (row id, event) pairs, ten per PublishBatch; the ids SNS accepted."""
    published: list[int] = []
    for start in range(0, len(rows), SNS_BATCH):
        chunk = rows[start : start + SNS_BATCH]
        response = sns.publish_batch(
            TopicArn=topic_arn, PublishBatchRequestEntries=[sns_entry(i, e) for i, e in chunk]
        )
        published.extend(int(ok["Id"]) for ok in response.get("Successful", []))
    return published


def relay(database: Database, sns: "SNSClient", topic_arn: str) -> RelayResult:
    """Publish up to RELAY_BATCH unpublished events, oldest first; one transaction."""

    def work(cursor: Any) -> RelayResult:
        cursor.execute(
            "SELECT id, payload FROM customer_events_outbox WHERE published_at IS NULL "
            "ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
            (RELAY_BATCH,),
        )
        rows = [
            (row_id, CustomerEvent.model_validate_json(payload))
            for row_id, payload in cursor.fetchall()
        ]
        published = publish(sns, topic_arn, rows)
        if published:
            ids = ", ".join(["%s"] * len(published))  # placeholders; the ids go as parameters
            stamp = "UPDATE customer_events_outbox SET published_at = UTC_TIMESTAMP(3)"
            cursor.execute(f"{stamp} WHERE id IN ({ids})", published)
        cursor.execute(
            "DELETE FROM customer_events_outbox WHERE published_at < %s LIMIT 1000",
            (_db_time(datetime.now(UTC) - KEEP_PUBLISHED),),
        )
        return RelayResult(
            published=len(published), failed=len(rows) - len(published), pruned=cursor.rowcount
        )

    return database.run(work)


def drain(relay_once: Callable[[], RelayResult], remaining_ms: Callable[[], int]) -> RelayResult:
    """A relay function's run: batches until the outbox is empty, SNS refuses some, or the
    function's time is nearly up (`remaining_ms`, Lambda's context). Anything left waits for
    the next run. Counts OutboxEventsPublished (and OutboxPublishFailures). The RDS relay's
    loop and the Aurora sweep's."""
    published = failed = pruned = 0
    while remaining_ms() > DRAIN_TIME_RESERVE_MS:
        result = relay_once()
        published, failed, pruned = (
            published + result.published,
            failed + result.failed,
            pruned + result.pruned,
        )
        if result.failed or result.published < RELAY_BATCH:
            break  # drained, or SNS is refusing: the next run tries again
    metrics.add_metric(name="OutboxEventsPublished", unit=MetricUnit.Count, value=published)
    if failed:
        metrics.add_metric(name="OutboxPublishFailures", unit=MetricUnit.Count, value=failed)
        logger.warning(
            "some events were not published; they stay in the outbox", extra={"failed": failed}
        )
    logger.info("outbox relayed", extra={"published": published})
    return RelayResult(published=published, failed=failed, pruned=pruned)
