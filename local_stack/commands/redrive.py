"""`make redrive DLQ=<output name>`: move a dead-letter queue's messages back to its source.

In AWS this is `aws sqs start-message-move-task --source-arn <dlq arn>` (or "Start DLQ
redrive" in the console). moto does not implement message move tasks, so locally the same
move is done by hand: receive from the DLQ, send to the queue whose redrive policy names
it, delete from the DLQ. A message that fails again simply returns to the DLQ. With several
stacks running, PORT=... names the one (local_stack.commands.running).

The dead-letter queue of an SNS subscription has no source queue (SNS put the message
there, not a queue's redrive policy): its messages go to the queue the subscription
delivers to, as that queue would have received them. In AWS, name it:
`aws sqs start-message-move-task --source-arn <dlq arn> --destination-arn <queue arn>`.
"""

import argparse
import json
import sys
from typing import Any

import boto3

from local_stack.commands.running import NoRunningStack, require_running_outputs
from local_stack.services.endpoint import ADMIN_CREDENTIALS, REGION


def subscribed_queues(sqs: Any, sns: Any, dlq_url: str) -> list[str]:
    """The queues whose SNS subscriptions dead-letter into `dlq_url` (their RedrivePolicy)."""
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])
    arn = dlq_arn["Attributes"]["QueueArn"]
    queues = []
    for page in sns.get_paginator("list_subscriptions").paginate():
        for subscription in page["Subscriptions"]:
            if subscription["Protocol"] != "sqs":
                continue
            attributes = sns.get_subscription_attributes(
                SubscriptionArn=subscription["SubscriptionArn"]
            )["Attributes"]
            policy = json.loads(attributes.get("RedrivePolicy") or "{}")
            if policy.get("deadLetterTargetArn") == arn:
                name = subscription["Endpoint"].rsplit(":", 1)[1]
                queues.append(sqs.get_queue_url(QueueName=name)["QueueUrl"])
    return queues


def source_queue(sqs: Any, dlq_url: str, sns: Any = None) -> str:
    """The queue whose redrive policy names `dlq_url`, else (with `sns`) the queue whose
    SNS subscription dead-letters into it."""
    sources: list[str] = sqs.list_dead_letter_source_queues(QueueUrl=dlq_url)["queueUrls"]
    if not sources and sns is not None:
        sources = subscribed_queues(sqs, sns, dlq_url)
    if len(sources) != 1:
        raise SystemExit(f"expected one source queue for {dlq_url}, found {sources}")
    return sources[0]


def redrive(sqs: Any, dlq_url: str, sns: Any = None) -> int:
    """Move every message from `dlq_url` to its source queue; the number moved."""
    target = source_queue(sqs, dlq_url, sns)
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
    sqs, sns = (
        boto3.client(
            service,
            endpoint_url=outputs["AwsEndpointUrl"],
            region_name=REGION,
            aws_access_key_id=ADMIN_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=ADMIN_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )
        for service in ("sqs", "sns")
    )
    moved = redrive(sqs, outputs[args.dlq], sns)
    target = source_queue(sqs, outputs[args.dlq], sns)
    print(f"moved {moved} message(s) from {args.dlq} back to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
