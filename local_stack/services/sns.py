"""SNS -> SQS deliveries, checked as AWS checks them, and dead-lettered as AWS does.

moto delivers a published message to its SQS subscriptions itself, inside the Publish call.
In AWS that delivery is SNS (the service principal) calling sqs:SendMessage on the queue,
which only the queue's policy can allow (with `aws:SourceArn` = the topic), and, for an
encrypted queue, using the queue's KMS key, which only the key policy can allow. Here the
delivery is checked the same way, after the subscription's filter policy (a filtered-out
message is no failure).

A delivery that fails for a client-side reason (the queue policy or key policy refuses it,
the queue was deleted) is not retried by SNS: it goes to the subscription's dead-letter
queue (its `RedrivePolicy`), itself a delivery SNS makes under that queue's policy and key,
and is otherwise lost. AWS: "Amazon SNS doesn't retry the message delivery that fails as a
result of a client-side error ... Amazon SNS discards the message, unless a dead-letter
queue is attached to the subscription" (sns-dead-letter-queues). The dead-lettered message
is the one the subscription would have received (with raw message delivery: the raw body
and its message attributes; otherwise the JSON envelope); AWS documents no attribute of
its own on it (LocalStack, whose SNS is checked against AWS, sends the same: its pull
request 6168). Every refusal and every loss is printed (and recorded for
`make iam-report`) so that it does not stay silent locally. Not emulated: SNS's retries of
server-side errors (up to 23 days for SQS endpoints) and its CloudWatch metrics.
"""

import copy
import json
import sys
import threading
from typing import Any, Protocol

from moto.sns import models as sns_models
from moto.sqs.exceptions import QueueDoesNotExist

from local_stack.iam import Deliveries


class _Cloud(Protocol):
    stack_name: str
    template: Any

    def physical_id(self, logical_id: str) -> str: ...

    def deployed(self, logical_id: str) -> bool: ...


_lock = threading.Lock()
_deliveries: dict[str, Deliveries] = {}  # topic ARN -> the checks of the stack that owns it
_stacks: dict[str, list[str]] = {}  # stack name -> its topic ARNs
_installed = False


def _topics(cloud: _Cloud) -> list[str]:
    return [
        cloud.physical_id(logical_id)
        for logical_id, resource in cloud.template.transformed["Resources"].items()
        if resource["Type"] == "AWS::SNS::Topic" and cloud.deployed(logical_id)
    ]


def register(cloud: _Cloud, deliveries: Deliveries) -> None:
    """Check the deliveries of `cloud`'s topics with `deliveries` from now on."""
    _install()
    topics = _topics(cloud)
    with _lock:
        _stacks[cloud.stack_name] = topics
        for topic in topics:
            _deliveries[topic] = deliveries


def unregister(cloud: _Cloud) -> None:
    with _lock:
        for topic in _stacks.pop(cloud.stack_name, []):
            _deliveries.pop(topic, None)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def dead_letter_queue(subscription: Any) -> str | None:
    """The ARN of the subscription's dead-letter queue (its RedrivePolicy), or None."""
    policy = subscription.attributes.get("RedrivePolicy")
    if not policy:
        return None
    target = (json.loads(policy) if isinstance(policy, str) else policy).get("deadLetterTargetArn")
    return str(target) if target else None


class _Call:
    """Subscription.publish's arguments (moto passes some by keyword), in order."""

    NAMES = (
        "message",
        "message_id",
        "subject",
        "message_attributes",
        "group_id",
        "deduplication_id",
        "message_structure",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        values = dict(zip(self.NAMES, args, strict=False)) | kwargs
        self.args: tuple[Any, ...] = tuple(values.get(name) for name in self.NAMES)
        self.message: str = values["message"]
        self.attributes: dict[str, Any] | None = values.get("message_attributes")


def _install() -> None:
    global _installed  # noqa: PLW0603 - moto's models are process-wide, so is this hook
    with _lock:
        if _installed:
            return
        original = sns_models.Subscription.publish

        def dead_letter(subscription: Any, deliveries: Deliveries, why: str, *args: Any) -> None:
            """SNS gives up on a client-side error: to the dead-letter queue, if any."""
            endpoint, topic = subscription.endpoint, subscription.topic.arn
            target = dead_letter_queue(subscription)
            if target is None:
                _say(f"SNS did not deliver to {endpoint}: {why}; no dead-letter queue: lost")
                return
            decision = deliveries.sns_to_sqs(topic, target)
            if not decision.allowed:
                _say(
                    f"SNS did not deliver to {endpoint}: {why}; its dead-letter queue refused "
                    f"it too ({decision.reason}): lost"
                )
                return
            # The message as the subscription would have had it, sent to the DLQ instead
            # (moto formats it: raw body and attributes, or the envelope).
            shadow = copy.copy(subscription)
            shadow.endpoint = target
            shadow._filter_policy_matcher = None  # already matched
            try:
                original(shadow, *args)
            except QueueDoesNotExist:
                _say(f"SNS did not deliver to {endpoint}: {why}; no queue at {target}: lost")
                return
            _say(f"SNS did not deliver to {endpoint}: {why}; moved to {target}")

        def publish(subscription: Any, *args: Any, **kwargs: Any) -> None:
            with _lock:
                deliveries = _deliveries.get(subscription.topic.arn)
            if subscription.protocol != "sqs" or deliveries is None:
                original(subscription, *args, **kwargs)
                return
            call = _Call(*args, **kwargs)
            matcher = subscription._filter_policy_matcher  # moto's own check
            if matcher is not None and not matcher.matches(call.attributes, call.message):
                return  # filtered out: not a delivery
            decision = deliveries.sns_to_sqs(subscription.topic.arn, subscription.endpoint)
            if not decision.allowed:
                dead_letter(subscription, deliveries, decision.reason, *call.args)
                return
            try:
                original(subscription, *call.args)
            except QueueDoesNotExist:
                dead_letter(subscription, deliveries, "the queue does not exist", *call.args)

        sns_models.Subscription.publish = publish  # type: ignore[method-assign,assignment]
        _installed = True
