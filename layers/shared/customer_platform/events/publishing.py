"""Publishing customer events to the SNS topic."""

from typing import TYPE_CHECKING

from customer_platform.events.models import CustomerEvent

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient


def publish(sns: "SNSClient", topic_arn: str, event: CustomerEvent) -> str:
    """Publish one event; `eventType` and `backend` ride as attributes for filter policies."""
    response = sns.publish(
        TopicArn=topic_arn,
        Message=event.to_json(),
        MessageAttributes={
            "eventType": {"DataType": "String", "StringValue": event.event_type},
            "backend": {"DataType": "String", "StringValue": event.backend},
        },
    )
    return response["MessageId"]
