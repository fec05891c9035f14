"""DynamoDB stream records of the customers table, turned into customer events.

A customer copied back from a point-in-time restore (tools/dynamodb_copy_back.py) carries
RESTORED_FROM, the name of the table it came from. Its stream record is an INSERT (the
customer had been deleted) or a MODIFY (it had been damaged), but nothing new happened to
the customer: it is announced as CustomerUpdated, its state being the restored one, never
as CustomerCreated, which would send a second welcome email. Subscribers that keep state
(the audit trail) still hear of the change. The next write through the API replaces the
whole item and drops the marker.
"""

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
RESTORED_FROM = "restoredFrom"  # attribute of an item copied back from a restored table


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
    seen = datetime.fromtimestamp(float(change.get("ApproximateCreationDateTime", 0)), UTC)
    if event_type == "CustomerDeleted":
        customer = _image(change["OldImage"])
        occurred_at = at_least(seen, customer.updated_at + timedelta(milliseconds=1))
    elif RESTORED_FROM in change["NewImage"]:
        # A restore happens now, whatever the restored item's own (older) timestamps say;
        # and a millisecond after what a delete of the same item seen in the same second
        # says (stream times have second precision), so a trail shows the delete first.
        event_type = "CustomerUpdated"
        customer = _image(change["NewImage"])
        tick = timedelta(milliseconds=1)
        occurred_at = at_least(seen, customer.updated_at + tick) + tick
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
