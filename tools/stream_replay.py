"""`make replay`: publish again the stream records Lambda gave up on.

The customers table's stream mapping retries a failing batch MaximumRetryAttempts times
(bisecting it), then sends Lambda's on-failure record to PublisherFailureQueue and moves
on: the record holds only the batch's coordinates (stream, shard, first and last sequence
number), not the changes. The changes stay in the stream for 24 hours. This reads each
record of the queue, reads its batch back from the stream (GetShardIterator at the first
sequence number, GetRecords up to the last), invokes the publisher with the event Lambda
would have sent, and deletes the queue message only once every record of the batch was
published. A batch that fails again, or whose records the stream no longer has, stays in
the queue (and its alarm stays on) and is reported.

Replaying is idempotent: the publisher derives each event id from the stream record id,
so an event that was in fact published before (a batch that failed half-way) reaches the
consumers again with the same id, and they drop it (the audit trail's conditional put,
the welcome email's idempotency record).

    make replay                    # the running local stack (`make api`)
    make replay STACK=<name>       # a deployed stack, with your AWS credentials

Deployed, the caller needs: sqs:ReceiveMessage, DeleteMessage and ChangeMessageVisibility
on PublisherFailureQueue; dynamodb:GetShardIterator and GetRecords on the
table's stream; kms:Decrypt on the stack key (both are encrypted); lambda:InvokeFunction
on the publisher's `live` alias; cloudformation:DescribeStacks and DescribeStackResource.
"""

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import boto3
from botocore.exceptions import ClientError

PUBLISHER = "CustomerEventsPublisherFunction"
FAILURE_QUEUE_OUTPUT = "PublisherFailureQueueUrl"
HIDE_SECONDS = 300  # a message being replayed is hidden from a second replay meanwhile
MAX_MESSAGES = 10_000  # one run's bound; the queue holds one message per given-up batch
EMPTY_PAGES = 10  # GetRecords may answer empty pages on an open shard before the records
# The stream no longer has the records (older than 24 hours, or the stream was replaced).
GONE = {"TrimmedDataAccessException", "ExpiredIteratorException", "ResourceNotFoundException"}

Invoke = Callable[[dict[str, Any]], Any]


class ReplayFailed(RuntimeError):
    """The publisher failed again on a replayed batch."""


class RecordsGone(RuntimeError):
    """The stream no longer holds the batch's records."""


@dataclass(frozen=True)
class Batch:
    """The coordinates in Lambda's on-failure record for a DynamoDB stream batch."""

    stream_arn: str
    shard_id: str
    first: str  # sequence numbers: decimal strings, compared as numbers
    last: str

    @classmethod
    def of(cls, body: str) -> "Batch | None":
        try:
            info = json.loads(body)["DDBStreamBatchInfo"]
            return cls(
                info["streamArn"],
                info["shardId"],
                info["startSequenceNumber"],
                info["endSequenceNumber"],
            )
        except (ValueError, KeyError, TypeError):
            return None


@dataclass
class Report:
    replayed: list[tuple[Batch, int]] = field(default_factory=list)  # batch, records
    failed: list[tuple[Batch, str]] = field(default_factory=list)
    gone: list[Batch] = field(default_factory=list)
    unreadable: int = 0

    @property
    def ok(self) -> bool:
        return not (self.failed or self.gone or self.unreadable)


def lambda_record(raw: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A GetRecords record as the stream's Lambda event carries it: the creation time in
    epoch seconds (boto3 parses it into a datetime), and the stream's ARN."""
    change = dict(raw["dynamodb"])
    created = change.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        change["ApproximateCreationDateTime"] = created.timestamp()
    return {**raw, "dynamodb": change, "eventSourceARN": stream_arn}


def read_batch(streams: Any, batch: Batch) -> list[dict[str, Any]]:
    """The batch's records, first to last sequence number, in the Lambda event's shape."""
    try:
        iterator = streams.get_shard_iterator(
            StreamArn=batch.stream_arn,
            ShardId=batch.shard_id,
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            SequenceNumber=batch.first,
        )["ShardIterator"]
        records: list[dict[str, Any]] = []
        empty = 0
        while iterator and empty < EMPTY_PAGES:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            fresh = page.get("Records", [])
            empty = 0 if fresh else empty + 1
            for raw in fresh:
                if int(raw["dynamodb"]["SequenceNumber"]) > int(batch.last):
                    return records
                records.append(lambda_record(raw, batch.stream_arn))
                if raw["dynamodb"]["SequenceNumber"] == batch.last:
                    return records
            iterator = page.get("NextShardIterator")
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in GONE:
            raise RecordsGone(str(error)) from error
        raise
    if not records:
        raise RecordsGone(f"no record from {batch.first} on in {batch.shard_id}")
    return records


def replay_batch(streams: Any, invoke: Invoke, batch: Batch) -> int:
    """Invoke the publisher with the batch as Lambda would; the records published."""
    records = read_batch(streams, batch)
    result = invoke({"Records": records})
    failures = (result or {}).get("batchItemFailures") if isinstance(result, dict) else None
    if failures:
        raise ReplayFailed(f"{len(failures)} record(s) failed again: {failures}")
    return len(records)


def replay(sqs: Any, streams: Any, invoke: Invoke, queue_url: str) -> Report:
    """Replay every batch recorded in the failure queue; delete each one replayed."""
    report = Report()
    kept: list[str] = []  # receipt handles to make visible again at the end
    for _ in range(MAX_MESSAGES):
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=HIDE_SECONDS
        ).get("Messages", [])
        if not messages:
            break
        for message in messages:
            batch = Batch.of(message["Body"])
            if batch is None:
                report.unreadable += 1
                kept.append(message["ReceiptHandle"])
                continue
            try:
                count = replay_batch(streams, invoke, batch)
            except RecordsGone:
                report.gone.append(batch)
                kept.append(message["ReceiptHandle"])
                continue
            except ReplayFailed as failed:
                report.failed.append((batch, str(failed)))
                kept.append(message["ReceiptHandle"])
                continue
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            report.replayed.append((batch, count))
    for handle in kept:  # for the next replay, and the alarm
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=handle, VisibilityTimeout=0)
    return report


def lambda_invoker(client: Any, function_name: str, qualifier: str | None = None) -> Invoke:
    """Invoke `function_name` synchronously; a function error is ReplayFailed."""

    def invoke(event: dict[str, Any]) -> Any:
        request: dict[str, Any] = {
            "FunctionName": function_name,
            "Payload": json.dumps(event).encode(),
        }
        if qualifier:
            request["Qualifier"] = qualifier
        response = client.invoke(**request)
        payload = json.loads(response["Payload"].read() or b"null")
        if response.get("FunctionError"):
            raise ReplayFailed(f"{function_name} failed: {payload}")
        return payload

    return invoke


def _print(report: Report) -> None:
    for batch, count in report.replayed:
        print(f"replayed {count} record(s) of {batch.shard_id} {batch.first}..{batch.last}")
    for batch, why in report.failed:
        print(f"FAILED again, kept in the queue: {batch.first}..{batch.last}: {why}")
    for batch in report.gone:
        print(
            f"LOST: the stream no longer holds {batch.shard_id} {batch.first}..{batch.last} "
            "(records live 24 hours); kept in the queue for the record"
        )
    if report.unreadable:
        print(f"{report.unreadable} message(s) are not stream batch records; kept")
    if not (report.replayed or report.failed or report.gone or report.unreadable):
        print("nothing to replay: the failure queue is empty")


def _local() -> tuple[Any, Any, Invoke, str]:
    from local_stack.commands.running import require_running_outputs  # noqa: PLC0415
    from local_stack.services.endpoint import ADMIN_CREDENTIALS, REGION  # noqa: PLC0415 - local only

    outputs = require_running_outputs()
    session = boto3.session.Session(
        region_name=REGION,
        aws_access_key_id=ADMIN_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=ADMIN_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    aws = outputs["AwsEndpointUrl"]
    return (
        session.client("sqs", endpoint_url=aws),
        session.client("dynamodbstreams", endpoint_url=aws),
        lambda_invoker(
            session.client("lambda", endpoint_url=outputs["LambdaEndpointUrl"]), PUBLISHER
        ),
        outputs[FAILURE_QUEUE_OUTPUT],
    )


def _deployed(stack: str, region: str | None) -> tuple[Any, Any, Invoke, str]:
    session = boto3.session.Session(region_name=region)
    cloudformation = session.client("cloudformation")
    described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    function = cloudformation.describe_stack_resource(StackName=stack, LogicalResourceId=PUBLISHER)
    name = function["StackResourceDetail"]["PhysicalResourceId"]
    return (
        session.client("sqs"),
        session.client("dynamodbstreams"),
        lambda_invoker(session.client("lambda"), name, qualifier="live"),
        outputs[FAILURE_QUEUE_OUTPUT],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stack", help="a deployed stack (default: the running local stack)")
    parser.add_argument("--region")
    args = parser.parse_args(argv)
    if args.stack:
        sqs, streams, invoke, queue = _deployed(args.stack, args.region)
    else:
        from local_stack.commands.running import NoRunningStack  # noqa: PLC0415 - local only

        try:
            sqs, streams, invoke, queue = _local()
        except NoRunningStack as error:
            print(f"make replay: {error} (or STACK=<name> for a deployed stack)", file=sys.stderr)
            return 1
    report = replay(sqs, streams, invoke, queue)
    _print(report)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
