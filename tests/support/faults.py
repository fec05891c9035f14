"""Faults on AWS's side of the boundary: moto answering as an overloaded service would.

Nothing here touches a function: the function's own boto3 client sends its request, moto
receives it, and the table's backend answers with the error DynamoDB sends when it is
overloaded. botocore then does what it does against AWS (its standard retries, the
exception), so the function meets throttling exactly where it would meet it deployed.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.backends import get_backend
from moto.core.exceptions import JsonRESTError
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.dynamodb.exceptions import TransactionCanceledException

# DynamoDB's overload answers (the request-level ones), with the prefix DynamoDB sends.
THROTTLING = {
    "ProvisionedThroughputExceededException": "com.amazonaws.dynamodb.v20120810#",
    "ThrottlingException": "com.amazon.coral.availability#",
    "RequestLimitExceeded": "com.amazonaws.dynamodb.v20120810#",
}
# Backend operations whose first argument is the table's name.
_TABLE_OPERATIONS = ("get_item", "put_item", "delete_item", "update_item", "query", "scan")


def _touches(operation: str, args: tuple[Any, ...], kwargs: dict[str, Any], table: str) -> bool:
    if operation == "transact_write_items":
        items = args[0] if args else kwargs["transact_items"]
        return any(next(iter(item.values())).get("TableName") == table for item in items)
    return (args[0] if args else kwargs.get("table_name")) == table


@contextmanager
def dynamodb_overloaded(
    table: str, code: str, region: str = "us-east-1", *, cancelled: bool = False
) -> Iterator[list[str]]:
    """Until the block ends, every request on `table` is refused with `code`.

    With `cancelled`, a transaction touching the table is cancelled instead, each item's
    reason being `code` (DynamoDB's `ThrottlingError` or `ProvisionedThroughputExceeded`).
    Yields the refused operations, one entry per request that reached moto.
    """
    backend = get_backend("dynamodb")[DEFAULT_ACCOUNT_ID][region]
    refused: list[str] = []

    def refuse(operation: str, original: Any) -> Any:
        def answer(*args: Any, **kwargs: Any) -> Any:
            if not _touches(operation, args, kwargs, table):
                return original(*args, **kwargs)
            refused.append(operation)
            if cancelled and operation == "transact_write_items":
                items = args[0] if args else kwargs["transact_items"]
                message = "Throughput exceeds the current capacity of your table or index."
                raise TransactionCanceledException([(code, message, None) for _ in items])
            raise JsonRESTError(THROTTLING[code] + code, "Throughput exceeds the limit.")

        return answer

    operations = (*_TABLE_OPERATIONS, "transact_write_items")
    for operation in operations:
        setattr(backend, operation, refuse(operation, getattr(backend, operation)))
    try:
        yield refused
    finally:
        for operation in operations:
            delattr(backend, operation)  # the class's own method again
