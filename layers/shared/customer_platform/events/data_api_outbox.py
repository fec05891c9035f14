"""The Aurora backend's transactional outbox, over the RDS Data API.

The same table and the same events as the MySQL outbox (`events.outbox`): `record` writes a
change's event in the change's own Data API transaction, so the event exists exactly when
the change does. What differs is how events leave it. The RDS relay polls every minute; on
Aurora Serverless v2 that would be a connection every minute, and the cluster would never
pause at 0 ACU. So:

* each write publishes its own events right after COMMIT and stamps them (`EagerPublisher`,
  one PublishBatch and one statement, in the request). A publish that fails leaves the
  events in the outbox, counts `OutboxPublishDeferred`, and the execution environment
  drains the backlog after its next successful publish;
* a scheduled sweep (`relay`, the aurora-outbox-relay function) publishes what is still
  left, e.g. when the environment died between COMMIT and publish. It runs rarely
  (AuroraOutboxSweepSchedule), since each run resumes a paused cluster.

Delivery is at least once (a writer and a sweep may both publish an event; a stamp may be
lost): consumers drop a repeat by its event id, as for the RDS relay.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from customer_platform.data_api import DataApi, SqlError, Transaction
from customer_platform.errors import Unavailable
from customer_platform.events.models import CustomerEvent
from customer_platform.events.outbox import KEEP_PUBLISHED, RELAY_BATCH, RelayResult, publish

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient

logger = Logger(child=True)
metrics = Metrics()

_INSERT = (
    "INSERT INTO customer_events_outbox (event_id, event_type, customer_id, payload, created_at)"
    " VALUES (:event_id, :event_type, :customer_id, :payload, :created_at)"
)
_STAMP_ONE = (
    "UPDATE customer_events_outbox SET published_at = UTC_TIMESTAMP(3)"
    " WHERE event_id = :event_id AND published_at IS NULL"
)
_STAMP_ROW = "UPDATE customer_events_outbox SET published_at = UTC_TIMESTAMP(3) WHERE id = :id"


def record(transaction: Transaction, event: CustomerEvent) -> None:
    """Write `event` into the outbox, in the change's transaction."""
    transaction.execute(
        _INSERT,
        {
            "event_id": event.event_id,
            "event_type": event.event_type,
            "customer_id": event.customer_id,
            "payload": event.to_json(),
            "created_at": event.occurred_at,
        },
    )


def is_recorded(api: DataApi, event_id: str) -> bool:
    """Whether the event is in the outbox: whether the transaction that wrote it committed."""
    rows = api.query(
        "SELECT 1 AS recorded FROM customer_events_outbox WHERE event_id = :event_id",
        {"event_id": event_id},
    )
    return bool(rows)


def relay(api: DataApi, sns: "SNSClient", topic_arn: str) -> RelayResult:
    """Publish up to RELAY_BATCH unpublished events, oldest first, in one transaction: rows
    locked with SKIP LOCKED, stamped with one BatchExecuteStatement, old ones pruned."""

    def work(transaction: Transaction) -> RelayResult:
        rows = transaction.query(
            "SELECT id, payload FROM customer_events_outbox WHERE published_at IS NULL "
            "ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED",
            {"limit": RELAY_BATCH},
        )
        events = [
            (int(row["id"]), CustomerEvent.model_validate_json(row["payload"])) for row in rows
        ]
        published = publish(sns, topic_arn, events)
        transaction.batch(_STAMP_ROW, [{"id": row_id} for row_id in published])
        pruned = transaction.execute(
            "DELETE FROM customer_events_outbox WHERE published_at < :cutoff LIMIT 1000",
            {"cutoff": datetime.now(UTC) - KEEP_PUBLISHED},
        )
        return RelayResult(
            published=len(published), failed=len(events) - len(published), pruned=pruned
        )

    return api.transaction(work)


@dataclass
class EagerPublisher:
    """Publishes a write's events right after its COMMIT (see the module docstring).

    Never raises: the change is committed, and its events are safe in the outbox."""

    api: DataApi
    sns: "Callable[[], SNSClient]"
    topic_arn: str
    backlog: bool = field(default=False, init=False)  # this environment left events behind

    def __call__(self, events: list[CustomerEvent]) -> None:
        try:
            published = publish(self.sns(), self.topic_arn, list(enumerate(events)))
            for index in published:
                self.api.execute(_STAMP_ONE, {"event_id": events[index].event_id})
            if len(published) < len(events):
                self._deferred(len(events) - len(published), "SNS refused some events")
                return
            if self.backlog:
                self.backlog = relay(self.api, self.sns(), self.topic_arn).failed > 0
        except (ClientError, BotoCoreError, SqlError, Unavailable) as error:
            self._deferred(len(events), type(error).__name__)

    def _deferred(self, count: int, reason: str) -> None:
        self.backlog = True
        metrics.add_metric(name="OutboxPublishDeferred", unit=MetricUnit.Count, value=count)
        logger.warning(
            "events left in the outbox for the next publish or sweep",
            extra={"count": count, "reason": reason},
        )
