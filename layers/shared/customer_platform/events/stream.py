"""DynamoDB stream records of the customers table, turned into customer events."""

from datetime import UTC, datetime, timedelta
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from customer_platform.customers.dynamodb import CUSTOMER_PREFIX
from customer_platform.customers.models import parse_timestamp
from customer_platform.events.models import (
    CustomerData,
    CustomerEvent,
    EventType,
    at_least,
    deterministic_event_id,
)

_TYPES: dict[str, EventType] = {
    "INSERT": "CustomerCreated",
    "MODIFY": "CustomerUpdated",
    "REMOVE": "CustomerDeleted",
}
_deserializer = TypeDeserializer()


def is_customer_record(record: dict[str, Any]) -> bool:
    """Email-guard items share the table; only customer items make events."""
    key = record.get("dynamodb", {}).get("Keys", {}).get("pk", {}).get("S", "")
    return isinstance(key, str) and key.startswith(CUSTOMER_PREFIX)


def _image(raw: dict[str, Any]) -> CustomerData:
    plain = {name: _deserializer.deserialize(value) for name, value in raw.items()}
    return CustomerData(
        id=plain["customerId"],
        name=plain["name"],
        email=plain["email"],
        created_at=parse_timestamp(plain["createdAt"]),
        updated_at=parse_timestamp(plain["updatedAt"]),
    )


def event_from_record(record: dict[str, Any]) -> CustomerEvent:
    """One stream record (the raw Lambda shape) as a customer event.

    The event id derives from the stream record id, so a retried batch republishes the
    same ids and consumers drop the repeats. Creates and updates happened at the item's
    own timestamp; a delete happened when the stream saw it, and never before the last
    update (stream times have second precision).
    """
    change = record["dynamodb"]
    event_type = _TYPES[record["eventName"]]
    if event_type == "CustomerDeleted":
        customer = _image(change["OldImage"])
        seen = datetime.fromtimestamp(float(change.get("ApproximateCreationDateTime", 0)), UTC)
        occurred_at = at_least(seen, customer.updated_at + timedelta(milliseconds=1))
    else:
        customer = _image(change["NewImage"])
        occurred_at = (
            customer.created_at if event_type == "CustomerCreated" else customer.updated_at
        )
    return CustomerEvent(
        event_type=event_type,
        event_id=deterministic_event_id(f"ddb-stream:{record['eventID']}"),
        occurred_at=occurred_at,
        customer_id=customer.id,
        backend="dynamodb",
        customer=customer,
    )
