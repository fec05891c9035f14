"""SNS -> SQS deliveries, checked as AWS checks them.

moto delivers a published message to its SQS subscriptions itself, inside the Publish call.
In AWS that delivery is SNS (the service principal) calling sqs:SendMessage on the queue,
which only the queue's policy can allow (with `aws:SourceArn` = the topic), and, for an
encrypted queue, using the queue's KMS key, which only the key policy can allow. A queue
policy or key policy that does not allow it loses every message silently in AWS; here the
delivery is refused the same way, and the refusal is printed (and recorded for
`make iam-report`) so that it does not stay silent locally.
"""

import sys
import threading
from typing import Any, Protocol

from moto.sns import models as sns_models

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


def _install() -> None:
    global _installed  # noqa: PLW0603 - moto's models are process-wide, so is this hook
    with _lock:
        if _installed:
            return
        original = sns_models.Subscription.publish

        def publish(subscription: Any, *args: Any, **kwargs: Any) -> None:
            if subscription.protocol == "sqs":
                with _lock:
                    deliveries = _deliveries.get(subscription.topic.arn)
                if deliveries is not None:
                    decision = deliveries.sns_to_sqs(subscription.topic.arn, subscription.endpoint)
                    if not decision.allowed:
                        print(
                            f"SNS did not deliver to {subscription.endpoint}: {decision.reason}",
                            file=sys.stderr,
                            flush=True,
                        )
                        return
            original(subscription, *args, **kwargs)

        sns_models.Subscription.publish = publish  # type: ignore[method-assign,assignment]
        _installed = True
