"""Handing validated rows to the ingest queue within SQS's limits.

Rows travel in messages of up to ROWS_PER_MESSAGE rows and MESSAGE_BUDGET bytes; messages go
out ten at a time with SendMessageBatch, each call within SQS's 1 MiB (per message and per
call; it was 256 KiB before AWS raised it). Entries SQS refuses are retried once, then the
run fails loudly.

Why 64 KiB messages when SQS takes 1 MiB: SQS bills every 64 KiB of a payload as one
request, so a bigger message saves nothing per row; and one message is one writer
transaction, whose row locks and retry cost grow with it. Ten messages of at most 64 KiB
stay under the call limit, so every call carries ten.
"""

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING

from customer_platform.partners.models import IngestMessage, PartnerCustomer

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

SQS_MAX_BYTES = 1024 * 1024  # per message and per SendMessageBatch call
MESSAGE_BUDGET = 64 * 1024  # one billed SQS request, one writer transaction
ROWS_PER_MESSAGE = 250
ENTRIES_PER_BATCH = 10


def messages(run_id: str, rows: list[PartnerCustomer]) -> Iterator[str]:
    """Message bodies, each at most ROWS_PER_MESSAGE rows and MESSAGE_BUDGET bytes.

    Sizes are UTF-8 bytes, what SQS counts (pydantic writes non-ASCII characters as they
    are, so a name of 100 emoji is 400 bytes), and include the envelope: the run id and the
    list's brackets, and a comma between rows."""
    envelope = len(IngestMessage(run_id=run_id, rows=[]).model_dump_json().encode())
    chunk: list[PartnerCustomer] = []
    size = envelope
    for row in rows:
        row_size = len(row.model_dump_json().encode()) + (1 if chunk else 0)
        if chunk and (len(chunk) >= ROWS_PER_MESSAGE or size + row_size > MESSAGE_BUDGET):
            yield IngestMessage(run_id=run_id, rows=chunk).model_dump_json()
            chunk, size = [], envelope
            row_size -= 1
        chunk.append(row)
        size += row_size
    if chunk:
        yield IngestMessage(run_id=run_id, rows=chunk).model_dump_json()


def _batches(bodies: list[str]) -> Iterator[list[str]]:
    batch: list[str] = []
    size = 0
    for body in bodies:
        length = len(body.encode())
        if batch and (len(batch) == ENTRIES_PER_BATCH or size + length > SQS_MAX_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(body)
        size += length
    if batch:
        yield batch


def send_rows(sqs: "SQSClient", queue_url: str, run_id: str, rows: list[PartnerCustomer]) -> int:
    """Queue every row; the number of messages sent."""
    bodies = list(messages(run_id, rows))
    for batch in _batches(bodies):
        entries: list[SendMessageBatchRequestEntryTypeDef] = [
            {"Id": str(i), "MessageBody": body} for i, body in enumerate(batch)
        ]
        for attempt in (1, 2):
            failed = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries).get("Failed", [])
            if not failed:
                break
            retry = {f["Id"] for f in failed}
            entries = [e for e in entries if e["Id"] in retry]
            if attempt == 2:
                raise RuntimeError(
                    f"SQS refused {len(entries)} ingest messages: {json.dumps(failed)}"
                )
    return len(bodies)
