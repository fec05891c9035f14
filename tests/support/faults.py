"""Faults on AWS's side of the boundary: moto answering as an overloaded service would.

Nothing here touches a function: the function's own boto3 client sends its request, moto
receives it, and the table's backend answers with the error DynamoDB sends when it is
overloaded. botocore then does what it does against AWS (its standard retries, the
exception), so the function meets throttling exactly where it would meet it deployed.
"""

from collections.abc import Callable, Iterator
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


@contextmanager
def sns_batch_entries_failing(
    topic_arn: str, fails: Callable[[dict[str, Any]], bool], region: str = "us-east-1"
) -> Iterator[list[str]]:
    """Until the block ends, SNS answers PublishBatch on `topic_arn` with a partial failure:
    every entry `fails` picks is in `Failed` (code InternalError, not the sender's fault,
    as SNS reports a transient error of one entry) and is not published; the others are.
    Yields the ids of the entries refused so far."""
    backend = get_backend("sns")[DEFAULT_ACCOUNT_ID][region]
    original = backend.publish_batch
    refused_topic = topic_arn
    refused: list[str] = []

    def publish_batch(
        *, topic_arn: str, publish_batch_request_entries: list[dict[str, Any]]
    ) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
        if topic_arn != refused_topic:
            return original(
                topic_arn=topic_arn, publish_batch_request_entries=publish_batch_request_entries
            )
        failing = [entry for entry in publish_batch_request_entries if fails(entry)]
        kept = [entry for entry in publish_batch_request_entries if not fails(entry)]
        successful, failed = (
            original(topic_arn=topic_arn, publish_batch_request_entries=kept) if kept else ([], [])
        )
        refused.extend(entry["Id"] for entry in failing)
        failed = failed + [
            {
                "Id": entry["Id"],
                "Code": "InternalError",
                "Message": "injected by the local stack",
                "SenderFault": False,
            }
            for entry in failing
        ]
        return successful, failed

    setattr(backend, "publish_batch", publish_batch)  # noqa: B010 - an instance attribute
    try:
        yield refused
    finally:
        delattr(backend, "publish_batch")  # the class's own method again
