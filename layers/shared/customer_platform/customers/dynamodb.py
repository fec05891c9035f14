"""CustomerRepository on DynamoDB.

Single table, two item kinds:

    pk = "CUSTOMER#<id>"     customerId, name, email, createdAt, updatedAt
    pk = "EMAIL#<email>"     owner = <id>      (the uniqueness guard)

Every write that touches an email is one `TransactWriteItems`, so a customer and the guard
for its email exist together or not at all. Listing scans the sparse `customerId` index,
which only customer items enter: guards cost no read capacity and a page holds exactly
`limit` customers. Writes are conditioned on the `updatedAt` that was read (optimistic
concurrency), so a concurrent writer is detected instead of silently overwritten.
"""

from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from customer_platform.customers.models import Customer, format_timestamp, parse_timestamp
from customer_platform.customers.repository import Page
from customer_platform.errors import Conflict, NotFound, Unavailable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

CUSTOMER_PREFIX = "CUSTOMER#"
EMAIL_PREFIX = "EMAIL#"
# Cancellation reasons of a transaction DynamoDB could not run for lack of capacity (the
# request-level throttling errors are a 503 in customer_platform.http).
THROTTLED_REASONS = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded"})

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _attrs(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _serializer.serialize(value) for name, value in item.items()}


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


def customer_key(customer_id: str) -> dict[str, Any]:
    return _attrs({"pk": CUSTOMER_PREFIX + customer_id})


def email_key(email: str) -> dict[str, Any]:
    return _attrs({"pk": EMAIL_PREFIX + email})


def to_item(customer: Customer) -> dict[str, Any]:
    return _attrs(
        {
            "pk": CUSTOMER_PREFIX + customer.id,
            "customerId": customer.id,
            "name": customer.name,
            "email": customer.email,
            "createdAt": format_timestamp(customer.created_at),
            "updatedAt": format_timestamp(customer.updated_at),
        }
    )


def from_item(item: dict[str, Any]) -> Customer:
    plain = _plain(item)
    return Customer(
        id=plain["customerId"],
        name=plain["name"],
        email=plain["email"],
        created_at=parse_timestamp(plain["createdAt"]),
        updated_at=parse_timestamp(plain["updatedAt"]),
    )


def _cancellation_codes(error: ClientError) -> list[str]:
    reasons = error.response.get("CancellationReasons", [])
    return [reason.get("Code", "None") for reason in reasons]


def _email_taken(email: str) -> Conflict:
    return Conflict(f"a customer with email {email!r} already exists")


class DynamoDBCustomerRepository:
    def __init__(self, client: "DynamoDBClient", table_name: str, list_index: str) -> None:
        self._client = client
        self._table = table_name
        self._index = list_index

    # -- writes -------------------------------------------------------------------------

    def _transact(self, items: "list[TransactWriteItemTypeDef]") -> list[str] | None:
        """Run the transaction; None on success, else the per-item cancellation codes."""
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            codes = _cancellation_codes(error)
            if THROTTLED_REASONS & set(codes):
                raise Unavailable("the service is busy, retry shortly") from error
            return codes
        return None

    def _claim_email(self, customer: Customer) -> "TransactWriteItemTypeDef":
        return {
            "Put": {
                "TableName": self._table,
                "Item": _attrs({"pk": EMAIL_PREFIX + customer.email, "owner": customer.id}),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    def _release_email(self, customer: Customer) -> "TransactWriteItemTypeDef":
        return {
            "Delete": {
                "TableName": self._table,
                "Key": email_key(customer.email),
                "ConditionExpression": "#owner = :id",
                "ExpressionAttributeNames": {"#owner": "owner"},
                "ExpressionAttributeValues": _attrs({":id": customer.id}),
            }
        }

    @staticmethod
    def _seen(previous: Customer) -> dict[str, Any]:
        return _attrs({":seen": format_timestamp(previous.updated_at)})

    def _lost_race(self, customer_id: str) -> NotFound | Conflict:
        if self.get(customer_id) is None:
            return NotFound(f"customer {customer_id!r} not found")
        return Conflict("the customer was changed by another request; read it again and retry")

    def add(self, customer: Customer) -> None:
        codes = self._transact(
            [
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": to_item(customer),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                self._claim_email(customer),
            ]
        )
        if codes is None:
            return
        if codes[1] == "ConditionalCheckFailed":
            raise _email_taken(customer.email)
        raise RuntimeError(f"customer insert cancelled: {codes}")  # id collision: a bug

    def replace(self, customer: Customer, previous: Customer) -> None:
        put: TransactWriteItemTypeDef = {
            "Put": {
                "TableName": self._table,
                "Item": to_item(customer),
                "ConditionExpression": "updatedAt = :seen",
                "ExpressionAttributeValues": self._seen(previous),
            }
        }
        if customer.email == previous.email:
            codes = self._transact([put])
        else:
            codes = self._transact(
                [put, self._release_email(previous), self._claim_email(customer)]
            )
            if codes is not None and codes[2] == "ConditionalCheckFailed":
                raise _email_taken(customer.email)
        if codes is not None:
            raise self._lost_race(customer.id)

    def remove(self, customer: Customer) -> None:
        codes = self._transact(
            [
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": customer_key(customer.id),
                        "ConditionExpression": "updatedAt = :seen",
                        "ExpressionAttributeValues": self._seen(customer),
                    }
                },
                self._release_email(customer),
            ]
        )
        if codes is not None:
            raise self._lost_race(customer.id)

    # -- reads --------------------------------------------------------------------------

    def get(self, customer_id: str) -> Customer | None:
        response = self._client.get_item(
            TableName=self._table, Key=customer_key(customer_id), ConsistentRead=True
        )
        item = response.get("Item")
        return from_item(item) if item else None

    def list(self, limit: int, after: str | None) -> Page:
        # Ask for one more than needed: if it comes back, there is a next page, and the
        # last item we return is where it starts. No empty trailing page, no table load.
        request: dict[str, Any] = {"TableName": self._table, "IndexName": self._index}
        if after is not None:
            request["ExclusiveStartKey"] = customer_key(after) | _attrs({"customerId": after})
        items: list[Customer] = []
        while len(items) <= limit:
            response = self._client.scan(**request, Limit=limit + 1 - len(items))
            items.extend(from_item(item) for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        if len(items) > limit:
            return Page(items=items[:limit], last_id=items[limit - 1].id)
        return Page(items=items, last_id=None)
