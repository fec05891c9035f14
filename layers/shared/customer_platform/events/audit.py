"""The audit trail: every customer event, stored once, listed oldest first.

Items: pk = "<backend>#<customerId>", sk = "<occurredAt>#<eventId>". The key derives from
the event alone, so writing an event twice (a redelivery) meets the condition
`attribute_not_exists(sk)` and is a no-op: the consumer is idempotent by construction.
"""

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from customer_platform.customers.models import format_timestamp, is_customer_id
from customer_platform.events.models import CustomerEvent

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

MAX_EVENTS = 1000  # one customer's trail; a listing past this would need paging


class AuditEntry(BaseModel):
    """An item of GET /{backend}/customers/{id}/events."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    type: str
    occurred_at: str
    customer_id: str


class AuditTrail:
    def __init__(self, client: "DynamoDBClient", table_name: str) -> None:
        self._client = client
        self._table = table_name

    def record(self, event: CustomerEvent) -> bool:
        """Store `event`; False when it was already stored (a duplicate delivery)."""
        occurred = format_timestamp(event.occurred_at)
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    "pk": {"S": f"{event.backend}#{event.customer_id}"},
                    "sk": {"S": f"{occurred}#{event.event_id}"},
                    "eventId": {"S": event.event_id},
                    "eventType": {"S": event.event_type},
                    "occurredAt": {"S": occurred},
                    "customerId": {"S": event.customer_id},
                    "backend": {"S": event.backend},
                    "event": {"S": event.to_json()},
                },
                ConditionExpression="attribute_not_exists(sk)",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def events_of(self, backend: str, customer_id: str) -> list[AuditEntry]:
        if not is_customer_id(customer_id):
            return []
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": f"{backend}#{customer_id}"}},
            "ScanIndexForward": True,
        }
        while len(items) < MAX_EVENTS:
            response = self._client.query(**request)
            items.extend(response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return [
            AuditEntry(
                type=item["eventType"]["S"],
                occurred_at=item["occurredAt"]["S"],
                customer_id=item["customerId"]["S"],
            )
            for item in items[:MAX_EVENTS]
        ]
