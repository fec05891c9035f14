"""`make redrive DLQ=<output name>`: move a dead-letter queue's messages back to its source.

In AWS this is `aws sqs start-message-move-task --source-arn <dlq arn>` (or "Start DLQ
redrive" in the console). moto does not implement message move tasks, so locally the same
move is done by hand: receive from the DLQ, send to the queue whose redrive policy names
it, delete from the DLQ. A message that fails again simply returns to the DLQ. With several
stacks running, PORT=... names the one (local_stack.running).
"""

import argparse
import sys
from typing import Any

import boto3

from local_stack.endpoint import ADMIN_CREDENTIALS, REGION
from local_stack.running import NoRunningStack, require_running_outputs


def source_queue(sqs: Any, dlq_url: str) -> str:
    sources: list[str] = sqs.list_dead_letter_source_queues(QueueUrl=dlq_url)["queueUrls"]
    if len(sources) != 1:
        raise SystemExit(f"expected one source queue for {dlq_url}, found {sources}")
    return sources[0]


def redrive(sqs: Any, dlq_url: str) -> int:
    """Move every message from `dlq_url` to its source queue; the number moved."""
    target = source_queue(sqs, dlq_url)
    moved = 0
    while messages := sqs.receive_message(
        QueueUrl=dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages", []):
        for message in messages:
            request: dict[str, Any] = {"QueueUrl": target, "MessageBody": message["Body"]}
            if message.get("MessageAttributes"):
                request["MessageAttributes"] = message["MessageAttributes"]
            sqs.send_message(**request)
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
    return moved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("dlq", help="output naming the DLQ, e.g. AuditDeadLetterQueueUrl")
    args = parser.parse_args(argv)
    try:
        outputs = require_running_outputs()
    except NoRunningStack as error:
        print(f"make redrive: {error}", file=sys.stderr)
        return 1
    if args.dlq not in outputs:
        queues = ", ".join(k for k in outputs if k.endswith("DeadLetterQueueUrl"))
        parser.error(f"unknown output {args.dlq!r}; DLQs: {queues}")
    sqs = boto3.client(
        "sqs",
        endpoint_url=outputs["AwsEndpointUrl"],
        region_name=REGION,
        aws_access_key_id=ADMIN_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=ADMIN_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    moved = redrive(sqs, outputs[args.dlq])
    print(
        f"moved {moved} message(s) from {args.dlq} back to {source_queue(sqs, outputs[args.dlq])}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
