"""Bounded loops: every loop in the tests that drains, pages or waits has a limit.

A loop that should end but does not (a queue that keeps redelivering, a page token that
never becomes null, a server that never gets ready) fails the test with a message that
says what did not end, instead of hanging until pytest-timeout kills it.
"""

from collections.abc import Iterator
from typing import Any, Protocol

# Generous: the largest drain in the suite is a few hundred messages, ten at a time.
MAX_ROUNDS = 1000


def rounds(what: str, limit: int = MAX_ROUNDS) -> Iterator[int]:
    """`range(limit)` that fails if the loop runs out instead of breaking out of it.

    for _ in rounds("the audit queue to drain"):
        if not mapping.poll():
            break
    """
    yield from range(limit)
    raise AssertionError(f"gave up waiting for {what} after {limit} rounds")


class Pollable(Protocol):
    def poll(self) -> int: ...


def poll_until_idle(mapping: Pollable, what: str = "an event source to go idle") -> None:
    """Poll an event source mapping until a round delivers nothing."""
    for _ in rounds(what):
        if not mapping.poll():
            return


def receive_all(
    sqs: Any, url: str, *, delete: bool = False, **receive: Any
) -> list[dict[str, Any]]:
    """Every message on a queue, ten at a time; deleted if `delete`, else left in flight."""
    messages: list[dict[str, Any]] = []
    for _ in rounds(f"{url} to run empty"):
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, **receive).get(
            "Messages", []
        )
        if not batch:
            return messages
        messages.extend(batch)
        if delete:
            for message in batch:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return messages  # pragma: no cover - rounds() raises first
