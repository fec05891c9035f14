"""The welcome email for a new customer, sent through SES or recorded as a dry run."""

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from customer_platform.events.models import CustomerEvent

# How long a sent welcome email is remembered by event id (Powertools Idempotency). Longer
# than the notifications DLQ keeps a message (14 days), so redriving a dead-lettered event,
# however late, finds the record and sends nothing. A day, the old value, let a redrive
# after the record expired send the email a second time.
IDEMPOTENCY_TTL_SECONDS = 15 * 24 * 3600

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sesv2 import SESV2Client


class Notification(BaseModel):
    event_id: str
    customer_id: str
    recipient: str
    mode: Literal["sent", "dry-run"]
    message_id: str | None = None


def welcome(
    event: CustomerEvent,
    sender: str,
    ses: "SESV2Client | None",
    notifications: "DynamoDBClient",
    table: str,
) -> Notification:
    """Send (or, without a sender, only record) the welcome email for `event`."""
    customer = event.customer
    message_id = None
    if sender and ses is not None:
        message_id = ses.send_email(
            FromEmailAddress=sender,
            Destination={"ToAddresses": [customer.email]},
            Content={
                "Simple": {
                    "Subject": {"Data": "Welcome to the customer platform"},
                    "Body": {"Text": {"Data": f"Hello {customer.name}, welcome aboard."}},
                }
            },
        )["MessageId"]
    notification = Notification(
        event_id=event.event_id,
        customer_id=customer.id,
        recipient=customer.email,
        mode="sent" if message_id else "dry-run",
        message_id=message_id,
    )
    item: dict[str, Any] = {
        "eventId": {"S": notification.event_id},
        "customerId": {"S": notification.customer_id},
        "recipient": {"S": notification.recipient},
        "mode": {"S": notification.mode},
    }
    if message_id:
        item["messageId"] = {"S": message_id}
    notifications.put_item(TableName=table, Item=item)
    return notification
