"""SQS consumers: messages per second on batches of 10, one warm execution environment.

Each consumer runs in a bench worker (bench/workers.py: its interpreter, folder and
environment, the handler called directly).

Each consumer's `lambda_handler` gets Lambda SQS events of 10 records (the shape
local_stack.services.event_sources builds from a real receive), every message new, so every one is
real work: the audit consumer's conditional put, the welcome consumer's idempotency
record and notification, the partner writer's transaction. Receiving and deleting are
Lambda's poller's work, not the function's, and are not timed. The first batches warm the
environment (clients, connection) and are not timed.

Messages per second = messages / the sum of the timed batches' handler durations: one
execution environment working through a backlog. Lambda runs up to the event source's
maximum concurrency of such environments at once.
"""

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bench.harness import Series, progress
from bench.workers import Worker
from local_stack.assembly.stack import LocalStack

BATCH_SIZE = 10
WARMUP_BATCHES = 2
CONSUMERS = {
    "audit": "CustomerAuditFunction",
    "welcome_email": "WelcomeEmailFunction",
    "partner_writer": "PartnerWriterFunction",
}


@dataclass
class ConsumerResult:
    name: str
    function: str
    batches: Series
    messages: int
    rows: int = 0  # partner rows carried by the messages (partner writer)

    @property
    def seconds(self) -> float:
        return sum(self.batches.values_ns) / 1e9

    @property
    def messages_per_s(self) -> float:
        return self.messages / self.seconds

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.rows else 0.0


def sqs_event(bodies: list[str]) -> dict[str, Any]:
    """A Lambda SQS event, as local_stack.services.event_sources builds it from received
    messages."""
    now = str(int(datetime.now(UTC).timestamp() * 1000))
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": uuid.uuid4().hex,
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": now,
                    "SenderId": "AIDAEXAMPLE",
                    "ApproximateFirstReceiveTimestamp": now,
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:bench",
                "awsRegion": "us-east-1",
            }
            for body in bodies
        ]
    }


def customer_created(tag: str, i: int) -> str:
    """A CustomerCreated event as the publisher sends it (customer_platform.events.models)."""
    moment = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    customer_id = str(uuid.uuid4())
    return json.dumps(
        {
            "version": 1,
            "eventType": "CustomerCreated",
            "eventId": str(uuid.uuid4()),
            "occurredAt": moment,
            "customerId": customer_id,
            "backend": "dynamodb",
            "customer": {
                "id": customer_id,
                "name": f"Consumer {i}",
                "email": f"consumer-{tag}-{i}@example.com",
                "createdAt": moment,
                "updatedAt": moment,
            },
        }
    )


def partner_messages(tag: str, batches: int) -> tuple[list[str], int]:
    """Ingest messages as the fetcher queues them (customer_platform.partners.queueing):
    enough 250-row messages for `batches` batches of 10."""
    from customer_platform.partners.models import PartnerCustomer  # noqa: PLC0415
    from customer_platform.partners.queueing import ROWS_PER_MESSAGE, messages  # noqa: PLC0415

    count = batches * BATCH_SIZE * ROWS_PER_MESSAGE
    rows = [
        PartnerCustomer(id=f"q-{tag}-{i}", name=f"Queued {i}", email=f"q-{tag}-{i}@example.com")
        for i in range(count)
    ]
    return list(messages(f"bench-{tag}", rows)), count


def run_consumer(stack: LocalStack, name: str, bodies: list[str], rows: int = 0) -> ConsumerResult:
    batches = [bodies[i : i + BATCH_SIZE] for i in range(0, len(bodies), BATCH_SIZE)]
    series = Series(f"sqs.{name}", f"{CONSUMERS[name]}, one batch of {BATCH_SIZE} messages")
    timed_messages = 0
    with Worker(stack.function(CONSUMERS[name])) as worker:
        durations, responses = worker.run("ours", [sqs_event(batch) for batch in batches])
        for number, (duration, response, batch) in enumerate(
            zip(durations, responses, batches, strict=True)
        ):
            if not isinstance(response, dict) or response.get("batchItemFailures"):
                raise RuntimeError(
                    f"{name}: a batch failed: {response!r:.500}\n"
                    f"the worker's log ends:\n{worker.log_tail()}"
                )
            if number >= WARMUP_BATCHES:
                series.add_ns(duration)
                timed_messages += len(batch)
    timed_rows = rows * timed_messages // len(bodies) if rows else 0
    return ConsumerResult(name, CONSUMERS[name], series, timed_messages, timed_rows)


def run(stack: LocalStack, messages: int, partner_batches: int) -> list[ConsumerResult]:
    tag = uuid.uuid4().hex[:8]
    total = messages + WARMUP_BATCHES * BATCH_SIZE
    results = []
    for name in ("audit", "welcome_email"):
        progress(f"sqs {name}: {messages} messages in batches of {BATCH_SIZE}")
        bodies = [customer_created(f"{name}-{tag}", i) for i in range(total)]
        results.append(run_consumer(stack, name, bodies))
    bodies, rows = partner_messages(tag, partner_batches + WARMUP_BATCHES)
    progress(f"sqs partner_writer: {len(bodies)} messages of up to 250 rows ({rows} rows)")
    results.append(run_consumer(stack, "partner_writer", bodies, rows))
    return results
