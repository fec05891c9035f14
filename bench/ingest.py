"""Partner-sync ingest: rows per second into MySQL, ours beside the notes' row-by-row loop.

ours           10,000 partner rows in the message-sized chunks the fetcher queues
               (customer_platform.partners.queueing.messages: up to 250 rows, 64 KiB),
               each parsed and written as the partner writer does: one transaction per
               message through `Database.run`, `upsert_rows` (two indexed SELECT ... FOR
               UPDATE, one multi-row INSERT ... ON DUPLICATE KEY UPDATE via executemany).
row_by_row     the notes' cron job ("cron job which calls a rest API and processes some
               data in RDS"): one `cursor.execute(INSERT ...)` per row, one commit after
               the loop.
commit_each    the same loop committing after every row, as the notes' create handler
               does for each customer it inserts.
ours_rerun     ours again over the rows already written: the idempotent re-run of a
               feed, where nothing changes.

All on an already open connection to the stack's database (the connect is not timed),
each variant from an empty set of partner rows, interleaved over a few repetitions; the
median repetition is reported.
"""

import contextlib
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

import pymysql

from bench.harness import progress
from local_stack.stack import LocalStack

INSERT = (
    "INSERT INTO customers (id, partner_id, name, email, created_at, updated_at) "
    "VALUES (%s, %s, %s, %s, NOW(3), NOW(3))"
)


@dataclass
class IngestResult:
    rows: int
    messages: int
    seconds: dict[str, list[float]] = field(default_factory=dict)
    server: dict[str, Any] = field(default_factory=dict)

    def rows_per_s(self, variant: str) -> float:
        return self.rows / statistics.median(self.seconds[variant])


class Ingest:
    """The stack's database, 10,000 partner rows, and the ways of writing them."""

    def __init__(self, stack: LocalStack, rows: int) -> None:
        from customer_platform.database import Credentials, Database  # noqa: PLC0415
        from customer_platform.partners.models import IngestMessage, PartnerCustomer  # noqa: PLC0415
        from customer_platform.partners.queueing import messages  # noqa: PLC0415

        self._parse = IngestMessage.model_validate_json
        arn = stack.function("PartnerWriterFunction").environment["DATABASE_SECRET_ARN"]
        secrets = stack.cloud.client("secretsmanager")
        credentials = Credentials.from_secret(
            secrets.get_secret_value(SecretId=arn)["SecretString"]
        )
        self.database = Database(lambda _force: credentials)
        self.notes = pymysql.connect(
            host=credentials.host,
            port=credentials.port,
            user=credentials.username,
            password=credentials.password,
            database=credentials.dbname,
            charset="utf8mb4",
        )
        tag = uuid.uuid4().hex[:8]
        self.prefix = f"ingest-{tag}-"
        self.rows = [
            PartnerCustomer(
                id=f"{self.prefix}{i}", name=f"Partner {i}", email=f"{self.prefix}{i}@example.com"
            )
            for i in range(rows)
        ]
        self.bodies = list(messages(f"bench-{tag}", self.rows))
        self.chunks = [self._parse(body).rows for body in self.bodies]

    def _write(self, chunk: list[Any]) -> None:
        from customer_platform.partners.writing import upsert_rows  # noqa: PLC0415

        written = self.database.run(partial(upsert_rows, rows=chunk, now=datetime.now(UTC)))
        if written.rejected:
            raise RuntimeError(f"ingest rejected rows: {written.rejected[:3]}")

    def ours(self) -> None:
        for chunk in self.chunks:
            self._write(chunk)

    def ours_parsing(self) -> None:
        for body in self.bodies:
            self._write(self._parse(body).rows)

    def row_by_row(self) -> None:
        """The notes' cron loop: one execute per row, one commit after the loop."""
        with self.notes.cursor() as cursor:
            for row in self.rows:
                cursor.execute(INSERT, (str(uuid.uuid4()), row.id, row.name, row.email))
            self.notes.commit()

    def commit_each(self) -> None:
        with self.notes.cursor() as cursor:
            for row in self.rows:
                cursor.execute(INSERT, (str(uuid.uuid4()), row.id, row.name, row.email))
                self.notes.commit()

    def clear(self) -> None:
        with self.notes.cursor() as cursor:
            cursor.execute("DELETE FROM customers WHERE partner_id LIKE %s", (self.prefix + "%",))
        self.notes.commit()

    def server(self) -> dict[str, Any]:
        with self.notes.cursor() as cursor:
            cursor.execute("SELECT VERSION(), @@innodb_flush_log_at_trx_commit")
            version, flush = cursor.fetchone()
        return {"version": version, "innodb_flush_log_at_trx_commit": int(flush)}

    def close(self) -> None:
        self.database.close()
        with contextlib.suppress(pymysql.MySQLError):
            self.notes.close()


def run(stack: LocalStack, rows: int, repetitions: int) -> IngestResult:
    ingest = Ingest(stack, rows)
    result = IngestResult(rows=rows, messages=len(ingest.bodies), server=ingest.server())

    def timed(variant: str, call: Callable[[], None]) -> None:
        started = time.perf_counter()
        call()
        result.seconds.setdefault(variant, []).append(time.perf_counter() - started)

    try:
        for repetition in range(repetitions):
            progress(f"ingest {rows} rows, repetition {repetition + 1} of {repetitions}")
            ingest.clear()
            timed("ours", ingest.ours)
            timed("ours_rerun", ingest.ours)  # the same feed again: nothing changes
            ingest.clear()
            timed("ours_parsing", ingest.ours_parsing)
            ingest.clear()
            timed("row_by_row", ingest.row_by_row)
            ingest.clear()
            timed("commit_each", ingest.commit_each)
        ingest.clear()
    finally:
        ingest.close()
    return result
