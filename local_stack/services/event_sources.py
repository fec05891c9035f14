"""Event source mappings, run in process: SQS queues and DynamoDB streams -> functions.

Lambda's pollers are not something moto runs, so this module does what they do, from the
`SQS` and `DynamoDB` events of template.yaml:

* SQS: receive up to BatchSize messages, invoke with the Lambda SQS event, delete what
  succeeded; with `ReportBatchItemFailures` only the reported messages stay on the queue
  (a raised error fails the whole batch). A message that keeps failing is moved to the
  DLQ by the queue's own redrive policy after maxReceiveCount receives. Batches run side
  by side as Lambda's pollers run them (five at first, more while the queue stays full,
  never more than ScalingConfig.MaximumConcurrency); one past the function's reserved
  concurrency is throttled and its receive counts like a failure's. One deviation, for
  speed: a failed or throttled message becomes visible again at once, not after the
  visibility timeout.
* DynamoDB streams: read each shard from the trim horizon in order, invoke with the
  Lambda stream event; a reported failure retries the batch from that record, up to
  MaximumRetryAttempts, then the batch's coordinates go to the on-failure destination
  (`make replay` publishes them again). Retries follow at once; moto never trims a
  stream, so the 24-hour limit on a replay is not emulated.

Tests call `drain()` to run the mappings until nothing moves; `make api` runs them in a
background thread.
"""

from __future__ import annotations  # LocalCloud is a type here only (no import circle)

import json
import os
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError
from moto.events.models import EventPattern

from local_stack.iam import Deliveries
from local_stack.runtime.functions import Admission, FunctionError, LocalFunction, Throttled
from local_stack.services import s3

if TYPE_CHECKING:
    from local_stack.assembly.cloud import LocalCloud


def _filters(props: dict[str, Any]) -> list[EventPattern]:
    """An event source mapping's FilterCriteria, as EventBridge-style patterns (moto's)."""
    criteria = props.get("FilterCriteria") or {}
    return [EventPattern.load(item["Pattern"]) for item in criteria.get("Filters", [])]


def _matches(filters: list[EventPattern], record: dict[str, Any]) -> bool:
    return not filters or any(pattern.matches_event(cast(Any, record)) for pattern in filters)


def _failed_ids(result: Any) -> set[str]:
    """Item identifiers a handler reported as failed."""
    if not isinstance(result, dict):
        return set()
    failures = result.get("batchItemFailures") or []
    return {str(failure["itemIdentifier"]) for failure in failures}


# Lambda's SQS poller ("Configuring scaling behavior for SQS event source mappings", Lambda
# developer guide): five batches at once at first, more while messages remain (up to 300 a
# minute, 1,000 at most), or never more than the mapping's ScalingConfig.MaximumConcurrency.
INITIAL_SQS_BATCHES = 5
SQS_SCALE_STEP = 5  # batches added per round that found the queue still full (time compressed)
MAX_SQS_BATCHES = 1000


@dataclass
class SqsMapping:
    """An SQS event source mapping. Each `poll()` is one round of Lambda's pollers: up to
    `concurrency` batches received, each invoked at once on a thread of its own. A mapping
    does not know the function's reserved concurrency (the Knowledge Center's
    "lambda-sqs-scaling"): a batch past it is throttled and goes back to the queue, and its
    receive counts toward the queue's maxReceiveCount like a failed one. MaximumConcurrency
    is what paces a mapping: its rounds never run more batches than that."""

    function: LocalFunction
    queue_arn: str
    queue_url: str
    batch_size: int
    report_failures: bool
    cloud: LocalCloud
    maximum_concurrency: int | None = None  # ScalingConfig.MaximumConcurrency
    throttled: int = 0  # batches Lambda refused to invoke, so far (its Throttles metric)
    _batches: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self._batches = self._initial

    @property
    def _initial(self) -> int:
        return min(INITIAL_SQS_BATCHES, self.maximum_concurrency or MAX_SQS_BATCHES)

    @property
    def concurrency(self) -> int:
        """How many batches the next round may run at once."""
        return self._batches

    def poll(self) -> int:
        """One round: receive up to `concurrency` batches, invoke them side by side, delete
        what succeeded; the number of messages received."""
        sqs = self.cloud.client("sqs", self.function.credentials)  # Lambda polls as the role
        batches: list[list[dict[str, Any]]] = []
        while len(batches) < self._batches:
            received = sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(self.batch_size, 10),
                WaitTimeSeconds=0,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not received:
                break
            batches.append(received)
        full = len(batches) == self._batches
        ceiling = self.maximum_concurrency or MAX_SQS_BATCHES
        self._batches = min(self._batches + SQS_SCALE_STEP, ceiling) if full else self._initial
        # Every poller invokes at the same moment: each batch takes its place in the
        # reserved concurrency before any runs, so which are throttled does not depend on
        # how fast the threads start.
        admitted: list[tuple[list[dict[str, Any]], Admission]] = []
        for batch in batches:
            try:
                admitted.append((batch, self.function.admit()))
            except Throttled:
                self.throttled += 1
                self._retry_later(batch)
        if admitted:
            with ThreadPoolExecutor(len(admitted)) as pool:
                list(pool.map(lambda job: self._deliver(*job), admitted))
        return sum(len(batch) for batch in batches)

    def _deliver(self, received: list[dict[str, Any]], admission: Admission) -> None:
        """Invoke with one batch; delete what succeeded, leave the rest for redelivery."""
        sqs = self.cloud.client("sqs", self.function.credentials)
        event = {"Records": [self._record(message) for message in received]}
        try:
            failed = _failed_ids(self.function.invoke(event, admission=admission).result)
            if not self.report_failures:
                failed = set()
        except Exception:  # noqa: BLE001 - a raised error fails the whole batch, as in Lambda
            failed = {message["MessageId"] for message in received}
        done = [m for m in received if m["MessageId"] not in failed]
        if done:
            sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
                ],
            )
        self._retry_later([m for m in received if m["MessageId"] in failed])

    def _retry_later(self, messages: list[dict[str, Any]]) -> None:
        """Messages of a failed or throttled batch, visible again for the next receive
        (which counts toward maxReceiveCount). A local shortcut Lambda does not take (it
        waits out the visibility timeout), so it is made as the administrator, not with
        the role."""
        for message in messages:
            self.cloud.client("sqs").change_message_visibility(
                QueueUrl=self.queue_url,
                ReceiptHandle=message["ReceiptHandle"],
                VisibilityTimeout=0,
            )

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        attributes = {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value["DataType"],
            }
            for name, value in message.get("MessageAttributes", {}).items()
        }
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": attributes,
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": self.cloud.region,
        }


@dataclass
class StreamMapping:
    function: LocalFunction
    stream_arn: str
    batch_size: int
    max_retries: int
    on_failure_url: str | None
    cloud: LocalCloud
    filters: list[EventPattern] = field(default_factory=list)  # FilterCriteria: any matches
    _checkpoints: dict[str, str] = field(default_factory=dict)  # shard -> last sequence read
    _pending: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _attempts: dict[str, int] = field(default_factory=dict)

    def poll(self) -> int:
        streams = self.cloud.client("dynamodbstreams", self.function.credentials)
        shards = streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
        handled = 0
        for shard in shards:
            shard_id = shard["ShardId"]
            pending = self._pending.setdefault(shard_id, [])
            if len(pending) < self.batch_size:
                # A fresh iterator after the last record read, every time, as a checkpointing
                # poller does (moto also swaps a table's shard object when it rolls back a
                # cancelled transaction, which strands long-lived iterators).
                last = self._checkpoints.get(shard_id)
                position: dict[str, str] = (
                    {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": last}
                    if last
                    else {"ShardIteratorType": "TRIM_HORIZON"}
                )
                iterator = streams.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=shard_id, **position
                )["ShardIterator"]
                records = streams.get_records(ShardIterator=iterator, Limit=self.batch_size)
                fresh = [self._record(r) for r in records.get("Records", [])]
                if fresh:
                    self._checkpoints[shard_id] = fresh[-1]["dynamodb"]["SequenceNumber"]
                # Lambda's event filtering: records no filter matches never reach the function.
                kept = [record for record in fresh if _matches(self.filters, record)]
                handled += len(fresh) - len(kept)
                pending.extend(kept)
            if pending:
                handled += self._deliver(shard_id, pending)
        return handled

    def _deliver(self, shard_id: str, pending: list[dict[str, Any]]) -> int:
        batch = pending[: self.batch_size]
        try:
            failed = _failed_ids(self.function.invoke({"Records": batch}).result)
        except Exception:  # noqa: BLE001 - a raised error fails the whole batch
            failed = {batch[0]["dynamodb"]["SequenceNumber"]}
        sequence_numbers = [r["dynamodb"]["SequenceNumber"] for r in batch]
        first_failure = next(
            (i for i, s in enumerate(sequence_numbers) if s in (failed or ())), None
        )
        if first_failure is None:
            del pending[: len(batch)]
            self._attempts.pop(shard_id, None)
            return len(batch)
        del pending[:first_failure]  # everything before the failed record is done
        attempts = self._attempts.get(shard_id, 0) + 1
        self._attempts[shard_id] = attempts
        if attempts > self.max_retries:
            self._give_up(shard_id, pending[: self.batch_size])
            del pending[: self.batch_size]
            self._attempts.pop(shard_id, None)
        return first_failure

    def _give_up(self, shard_id: str, batch: list[dict[str, Any]]) -> None:
        if self.on_failure_url is None or not batch:
            return
        try:
            self._send_failure_record(shard_id, batch)
        except ClientError as error:
            # What Lambda does too: the record is lost (its logs say so), the shard moves on.
            name = self.function.source.logical_id
            print(f"{name}: on-failure destination refused the record: {error}", file=sys.stderr)

    def _send_failure_record(self, shard_id: str, batch: list[dict[str, Any]]) -> None:
        """Lambda's on-failure record for a stream batch (the "Retaining records" example
        of its DynamoDB streams guide): where the batch is, never the records themselves,
        which `make replay` reads back from the stream."""

        def arrival(record: dict[str, Any]) -> str:
            seconds = float(record["dynamodb"].get("ApproximateCreationDateTime", 0))
            return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

        self.cloud.client("sqs", self.function.credentials).send_message(
            QueueUrl=self.on_failure_url,
            MessageBody=json.dumps(
                {
                    "requestContext": {
                        "requestId": str(uuid.uuid4()),
                        "functionArn": self.function.arn,
                        "condition": "RetryAttemptsExhausted",
                        "approximateInvokeCount": self.max_retries + 1,
                    },
                    "responseContext": {
                        "statusCode": 200,
                        "executedVersion": "$LATEST",
                        "functionError": "Unhandled",
                    },
                    "version": "1.0",
                    "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
                    "DDBStreamBatchInfo": {
                        "shardId": shard_id,
                        "startSequenceNumber": batch[0]["dynamodb"]["SequenceNumber"],
                        "endSequenceNumber": batch[-1]["dynamodb"]["SequenceNumber"],
                        "approximateArrivalOfFirstRecord": arrival(batch[0]),
                        "approximateArrivalOfLastRecord": arrival(batch[-1]),
                        "batchSize": len(batch),
                        "streamArn": self.stream_arn,
                    },
                }
            ),
        )

    def _record(self, raw: dict[str, Any]) -> dict[str, Any]:
        change = dict(raw["dynamodb"])
        created = change.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            change["ApproximateCreationDateTime"] = created.timestamp()
        return {**raw, "dynamodb": change, "eventSourceARN": self.stream_arn}


def scheduled_event(schedule: str, run_id: str | None = None) -> dict[str, Any]:
    """What the scheduler sends a function for one run of `schedule`."""
    return {
        "id": run_id or str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.scheduler",
        "time": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "resources": [schedule],
        "detail": {},
    }


@dataclass
class ScheduleMapping:
    """A schedule of the template (EventBridge Scheduler or rule) and its target function.

    Locally, time is compressed: a `rate(...)` schedule (the outbox relay) runs on every
    polling round (tests that drain), or every LOCAL_RATE_SECONDS (1 s by default) under
    `make api`, where a tick that finds nothing to do and logs nothing above INFO stays in
    the function's log file and off the terminal; a `cron(...)` schedule (the daily partner
    sync) runs only when asked (`run()`, which `make sync` uses).

    The scheduler invokes asynchronously (`deliver()`): a failed run is Lambda's to retry
    (the function's EventInvokeConfig, twice by default) and then to send to its on-failure
    destination, with the function's role, as Lambda does; retries follow at once locally,
    where Lambda waits a minute or two."""

    function: LocalFunction
    name: str
    expression: str
    schedule_id: str | None = None  # the AWS::Scheduler::Schedule in the transformed template
    deliveries: Deliveries | None = None
    retries: int = 2  # EventInvokeConfig.MaximumRetryAttempts
    on_failure_url: str | None = None  # EventInvokeConfig's OnFailure destination (SQS)
    cloud: LocalCloud | None = None
    stopping: threading.Event = field(default_factory=threading.Event)  # EventSources' stop

    @property
    def continuous(self) -> bool:
        return self.expression.startswith("rate(")

    def run(self, *, quiet: bool = False) -> Any:
        """One scheduled run: the scheduler assumes the schedule's role and invokes the
        function with it, so the role must allow lambda:InvokeFunction on the function.
        With `quiet`, a run that moved nothing and logged nothing above INFO keeps its log
        off the terminal (a warning, say SNS refusing the relay's publishes, is shown)."""
        event = self._event()
        if self.deliveries is not None and self.schedule_id is not None:
            decision = self.deliveries.schedule_to_function(self.schedule_id)
            if not decision.allowed:
                print(f"schedule {self.name} did not run: {decision.reason}", file=sys.stderr)
                self._dead_letter(event, decision.reason)
                raise PermissionError(decision.reason)
        # asynchronous: past the reserved concurrency, Lambda's queue holds the event
        invocation = self.function.invoke(event, quiet=quiet, wait=True)
        if quiet and (_moved(invocation.result) or _noteworthy(invocation.logs)):
            self.function.show(invocation)
        return invocation.result

    def _event(self) -> dict[str, Any]:
        return scheduled_event(self.name)

    def _dead_letter(self, event: dict[str, Any], reason: str) -> None:
        """A run the scheduler could not make goes to the schedule's DeadLetterConfig queue,
        sent as the scheduler's role (which must allow sqs:SendMessage there, and the KMS
        use of an encrypted queue). A refused invoke is a permanent error, which the
        Scheduler does not retry (its RetryPolicy covers retryable ones), so it goes there
        at once, RETRY_ATTEMPTS 0 and no EXHAUSTED_RETRY_CONDITION. The body is the payload
        the target would have had; the attributes are those of the Scheduler's documented
        dead-letter event (configuring-schedule-dlq in its user guide). Not checked
        against a real schedule: the exact ERROR_MESSAGE text, and EXECUTION_ID's form."""
        if self.deliveries is None or self.schedule_id is None or self.cloud is None:
            return
        schedule = self.deliveries.policies.schedules[self.schedule_id]
        if schedule.dead_letter_arn is None:
            print(f"schedule {self.name}: no dead-letter queue; the run is lost", file=sys.stderr)
            return
        decision = self.deliveries.schedule_dead_letter(self.schedule_id)
        if not decision.allowed:
            print(
                f"schedule {self.name}: its dead-letter queue refused the run too: "
                f"{decision.reason}",
                file=sys.stderr,
            )
            return
        sqs = self.cloud.client("sqs")  # the scheduler's delivery, allowed above
        url = sqs.get_queue_url(QueueName=schedule.dead_letter_arn.rsplit(":", 1)[1])["QueueUrl"]
        region, account = self.deliveries.policies.region, self.deliveries.policies.account
        schedule_arn = f"arn:aws:scheduler:{region}:{account}:schedule/default/{schedule.name}"
        attributes = {
            "ERROR_CODE": "AccessDeniedException",
            "ERROR_MESSAGE": reason,
            "EXECUTION_ID": uuid.uuid4().hex[:16],
            "IS_PAYLOAD_TRUNCATED": "false",
            "RETRY_ATTEMPTS": "0",
            "SCHEDULED_TIME": event["time"],
            "SCHEDULE_ARN": schedule_arn,
            "TARGET_ARN": schedule.target_arn,
        }
        sqs.send_message(
            QueueUrl=url,
            MessageBody=json.dumps(event),
            MessageAttributes={
                key: {"DataType": "String", "StringValue": value}
                for key, value in attributes.items()
            },
        )

    def deliver(self, *, quiet: bool = False) -> Any:
        """One run as the scheduler makes it: an asynchronous invoke, retried by Lambda and
        then recorded in the on-failure destination. The result, or None if every try
        failed."""
        failure: FunctionError | None = None
        for _ in range(1 + self.retries):
            try:
                return self.run(quiet=quiet)
            except FunctionError as error:
                if self.stopping.is_set():
                    raise  # the stack stopped the environment under the run: not a failure
                failure = error
            except PermissionError:
                return None  # the scheduler could not invoke: its own retries and DLQ
        if failure is not None:
            self._record_failure(failure)
        return None

    def _record_failure(self, failure: FunctionError) -> None:
        name = self.function.source.logical_id
        print(
            f"{name}: a scheduled run failed {1 + self.retries} times: {failure}", file=sys.stderr
        )
        if self.on_failure_url is None:
            return
        record = {
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": f"{self.function.arn}:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": 1 + self.retries,
            },
            "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
            "responsePayload": failure.error,
        }
        if self.cloud is None:
            return
        sqs = self.cloud.client("sqs", self.function.credentials)  # Lambda uses the role
        try:
            sqs.send_message(QueueUrl=self.on_failure_url, MessageBody=json.dumps(record))
        except ClientError as error:
            print(f"{name}: on-failure destination refused the record: {error}", file=sys.stderr)

    def poll(self, *, quiet: bool = False) -> int:
        if not self.continuous:
            return 0
        return _moved(self.deliver(quiet=quiet))


PLATFORM_LINES = ("START RequestId:", "END RequestId:", "REPORT RequestId:", "INIT_")
ROUTINE_LEVELS = {"DEBUG", "INFO"}


def _noteworthy(logs: str) -> bool:
    """Whether a quiet run logged more than routine: anything but the platform's lines,
    embedded metrics and DEBUG/INFO JSON lines (a warning, an error, a bare print)."""
    for line in logs.splitlines():
        if not line.strip() or line.startswith(PLATFORM_LINES):
            continue
        try:
            record = json.loads(line)
        except ValueError:
            return True
        if not isinstance(record, dict):
            return True
        if "_aws" in record and "level" not in record:
            continue  # an embedded metric
        if str(record.get("level", "")).upper() not in ROUTINE_LEVELS:
            return True
    return False


def _moved(result: Any) -> int:
    """What a scheduled relay run moved (its `published` count), 0 for anything else."""
    return int(result.get("published", 0)) if isinstance(result, dict) else 0


Mapping = ScheduleMapping | SqsMapping | StreamMapping | s3.S3NotificationMapping


@dataclass
class EventSources:
    mappings: list[Mapping]
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def __post_init__(self) -> None:
        for mapping in self.mappings:
            if isinstance(mapping, ScheduleMapping):
                mapping.stopping = self._stop

    @classmethod
    def from_stack(
        cls, cloud: LocalCloud, functions: dict[str, LocalFunction], deliveries: Deliveries
    ) -> EventSources:
        mappings: list[Mapping] = []
        for logical_id, source in cloud.template.functions.items():
            if logical_id not in functions:
                continue  # not deployed: its Condition is false
            for name, event in source.events.items():
                props = event.get("Properties", {})
                if event.get("Type") == "SQS":
                    arn = cloud.resolve(props["Queue"])
                    mappings.append(
                        SqsMapping(
                            function=functions[logical_id],
                            queue_arn=arn,
                            queue_url=_queue_url(cloud, arn),
                            batch_size=int(props.get("BatchSize", 10)),
                            report_failures="ReportBatchItemFailures"
                            in props.get("FunctionResponseTypes", []),
                            cloud=cloud,
                            maximum_concurrency=_maximum_concurrency(cloud, props),
                        )
                    )
                elif event.get("Type") == "DynamoDB":
                    destination = props.get("DestinationConfig", {}).get("OnFailure", {})
                    failure_arn = cloud.resolve(destination["Destination"]) if destination else None
                    mappings.append(
                        StreamMapping(
                            function=functions[logical_id],
                            stream_arn=cloud.resolve(props["Stream"]),
                            batch_size=int(props.get("BatchSize", 100)),
                            max_retries=int(props.get("MaximumRetryAttempts", 0)),
                            on_failure_url=_queue_url(cloud, failure_arn) if failure_arn else None,
                            cloud=cloud,
                            filters=_filters(props),
                        )
                    )
                elif event.get("Type") in ("ScheduleV2", "Schedule"):
                    mappings.append(
                        ScheduleMapping(
                            function=functions[logical_id],
                            name=f"{logical_id}.{name}",
                            expression=str(
                                cloud.resolve(
                                    props[
                                        "Schedule"
                                        if event["Type"] == "Schedule"
                                        else "ScheduleExpression"
                                    ]
                                )
                            ),
                            schedule_id=f"{logical_id}{name}"
                            if f"{logical_id}{name}" in deliveries.policies.schedules
                            else None,
                            deliveries=deliveries,
                            cloud=cloud,
                            **_async_config(cloud, logical_id),
                        )
                    )
                elif event.get("Type") == "S3":
                    mappings.append(
                        _s3_notifications(
                            cloud, logical_id, functions[logical_id], deliveries, props["Bucket"]
                        )
                    )
        # Schedules first in each round: what they publish is consumed in the same round.
        mappings.sort(key=lambda m: not isinstance(m, ScheduleMapping))
        return cls(mappings)

    def for_function(self, logical_id: str) -> list[Mapping]:
        return [m for m in self.mappings if m.function.source.logical_id == logical_id]

    @property
    def polling(self) -> bool:
        """True while `start()`'s threads poll (under `make api`), False when tests drain."""
        return bool(self._threads) and not self._stop.is_set()

    def drain(self, max_rounds: int = 100) -> int:
        """Run every mapping until a whole round moves nothing; the records handled."""
        total = 0
        for _ in range(max_rounds):
            moved = sum(mapping.poll() for mapping in self.mappings)
            total += moved
            if moved == 0:
                return total
        raise RuntimeError(f"event sources still busy after {max_rounds} rounds")

    def start(self, interval: float = 0.25, rate_seconds: float | None = None) -> None:
        """Poll continuously, one thread per mapping, so that a slow function never holds
        up another's events (the local API uses this; tests call `drain()`). A `rate()`
        schedule ticks every `rate_seconds` (LOCAL_RATE_SECONDS, 1 s by default: minutes
        compressed to seconds), its idle ticks kept off the terminal."""
        every = rate_seconds or float(os.environ.get("LOCAL_RATE_SECONDS") or 1.0)

        def run(mapping: Mapping) -> None:
            scheduled = isinstance(mapping, ScheduleMapping)
            while not self._stop.is_set():
                try:
                    moved = (
                        mapping.poll(quiet=True)
                        if isinstance(mapping, ScheduleMapping)
                        else mapping.poll()
                    )
                except Exception as error:  # noqa: BLE001 - keep polling; say what happened
                    if self._stop.is_set():
                        return  # the stack is stopping: environments go away mid-call
                    name = mapping.function.source.logical_id
                    print(f"event source of {name}: {error!r}", file=sys.stderr, flush=True)
                    moved = 0
                if scheduled:
                    self._stop.wait(every)
                elif not moved:
                    self._stop.wait(interval)

        for mapping in self.mappings:
            thread = threading.Thread(
                target=run,
                args=(mapping,),
                name=f"poller-{mapping.function.source.logical_id}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    def request_stop(self) -> None:
        """Pollers finish the round they are in and stop (an invocation in flight ends when
        its environment is stopped)."""
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)


def _s3_notifications(
    cloud: LocalCloud,
    logical_id: str,
    function: LocalFunction,
    deliveries: Deliveries,
    bucket: Any,
) -> s3.S3NotificationMapping:
    """S3 invokes the function asynchronously; failed events go to its DeadLetterConfig."""
    resources = cloud.template.transformed["Resources"]
    props = resources[logical_id]["Properties"]
    dead_letter = props.get("DeadLetterConfig", {}).get("TargetArn")
    return s3.S3NotificationMapping(
        function=function,
        function_arn=_notified_arn(cloud, logical_id, resources[bucket["Ref"]]),
        dead_letter_queue_url=_queue_url(cloud, cloud.resolve(dead_letter))
        if dead_letter
        else None,
        cloud=cloud,
        deliveries=deliveries,
    )


def _notified_arn(cloud: LocalCloud, logical_id: str, bucket: dict[str, Any]) -> str:
    """The ARN the bucket's notification configuration invokes for the function, as SAM
    wrote it: its alias (AutoPublishAlias), arn:...:function:<name>:live, or the function."""
    function_arn = str(cloud.resolve({"Fn::GetAtt": [logical_id, "Arn"]}))
    config = bucket.get("Properties", {}).get("NotificationConfiguration", {})
    for target in config.get("LambdaConfigurations", []):
        arn = str(cloud.resolve(target["Function"]))
        if arn == function_arn or arn.startswith(f"{function_arn}:"):
            return arn
    raise ValueError(f"{logical_id}: its bucket's notification configuration does not name it")


def _async_config(cloud: LocalCloud, logical_id: str) -> dict[str, Any]:
    """The function's EventInvokeConfig: retries and on-failure destination of async runs."""
    for resource in cloud.template.transformed["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Lambda::EventInvokeConfig" and props.get("FunctionName") == {
            "Ref": logical_id
        }:
            destination = (props.get("DestinationConfig") or {}).get("OnFailure", {})
            arn = cloud.resolve(destination["Destination"]) if destination else None
            return {
                "retries": int(props.get("MaximumRetryAttempts", 2)),
                "on_failure_url": _queue_url(cloud, arn) if arn else None,
            }
    return {}


def _maximum_concurrency(cloud: LocalCloud, props: dict[str, Any]) -> int | None:
    """An SQS event's ScalingConfig.MaximumConcurrency, resolved (it may be a !Ref)."""
    maximum = (props.get("ScalingConfig") or {}).get("MaximumConcurrency")
    return None if maximum is None else int(cloud.resolve(maximum))


def _queue_url(cloud: LocalCloud, arn: str) -> str:
    name = arn.rsplit(":", 1)[-1]
    url: str = cloud.client("sqs").get_queue_url(QueueName=name)["QueueUrl"]
    return url


def wait_until(predicate: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False
