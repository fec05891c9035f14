"""Partner-sync ingest: rows per second into MySQL, ours beside the notes' row-by-row loop.

Run in a bench worker of PartnerWriterFunction (its interpreter, folder, environment and
database secret), at each round-trip time of the benchmark (bench/warm.py's Network):

ours           10,000 partner rows in the message-sized chunks the fetcher queues
               (customer_platform.partners.queueing.messages: up to 250 rows, 64 KiB),
               each written as the partner writer does: one transaction per message
               through `Database.run`, `upsert_rows` (two indexed SELECT ... FOR UPDATE,
               one multi-row INSERT ... ON DUPLICATE KEY UPDATE via executemany)
ours_parsing   the same, parsing and validating each message body first (pydantic)
ours_rerun     ours again over the rows already written: an idempotent re-run of a feed
same_work_loop the same work row by row: `upsert_rows` with one row at a time (two locked
               reads, the upsert and the outbox event per row), one transaction per
               message; the target's comparison, because it does what ours does. That it
               does is counted, not assumed: the customers and outbox events each variant
               leaves are compared (`work`)
row_by_row     the notes' cron job: one `cursor.execute(INSERT ...)` per row, one commit;
               less work than ours (no uniqueness checks, no events), shown for reference
commit_each    the same loop committing after every row, as the notes' create handler does

Each variant starts from an empty set of partner rows (the rerun from a full one), on an
already open connection; the variants run in ABBA order over the repetitions (recorded)
and the median repetition is reported.
"""

import statistics
import uuid
from dataclasses import dataclass, field
from typing import Any

from bench.harness import Rounds, progress
from bench.warm import Network
from bench.workers import Worker
from local_stack.assembly.stack import LocalStack

VARIANTS = ("ours", "ours_parsing", "same_work_loop", "row_by_row", "commit_each")
NOTES_LOOPS = ("row_by_row", "commit_each")  # take rows as plain lists, not message bodies
COUNTED = ("ours", "same_work_loop")  # what each leaves is counted: they must match


@dataclass
class IngestResult:
    rows: int
    messages: int
    rtt_ms: float
    seconds: dict[str, list[float]] = field(default_factory=dict)
    order: dict[str, Any] = field(default_factory=dict)
    # what a variant left in the tables (customers of this run, their outbox events)
    work: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def same_work(self) -> bool:
        counted = [self.work.get(variant) for variant in COUNTED]
        return None not in counted and all(entry == counted[0] for entry in counted)

    def rows_per_s(self, variant: str) -> float:
        return self.rows / statistics.median(self.seconds[variant])


def _rows(prefix: str, count: int) -> tuple[list[str], list[list[list[str]]]]:
    """Message bodies as the fetcher queues them, and the same rows as plain lists."""
    from customer_platform.partners.models import PartnerCustomer  # noqa: PLC0415
    from customer_platform.partners.queueing import messages  # noqa: PLC0415

    rows = [
        PartnerCustomer(id=f"{prefix}{i}", name=f"Partner {i}", email=f"{prefix}{i}@example.com")
        for i in range(count)
    ]
    bodies = list(messages(f"bench-{prefix}", rows))
    plain = [[row.id, row.name, row.email] for row in rows]
    chunks, start = [], 0
    for body in bodies:  # the notes' loops get the same rows, message by message
        size = body.count('"id"')
        chunks.append(plain[start : start + size])
        start += size
    if start != len(plain):
        raise RuntimeError("ingest: could not split the rows as the messages do")
    return bodies, chunks


def run(
    stack: LocalStack, network: Network, rows: int, repetitions: int, rtts: tuple[float, ...]
) -> list[IngestResult]:
    results = []
    function = stack.function("PartnerWriterFunction")
    db = network.connect()
    prefix = f"ingest-{uuid.uuid4().hex[:8]}-"
    bodies, chunks = _rows(prefix, rows)

    def clear() -> None:
        with db.cursor() as cursor:
            cursor.execute("DELETE FROM customers WHERE partner_id LIKE %s", (prefix + "%",))

    def last_event() -> int:
        with db.cursor() as cursor:
            cursor.execute("SELECT COALESCE(MAX(id), 0) FROM customer_events_outbox")
            return int(cursor.fetchone()[0])

    def left(since: int) -> dict[str, int]:
        """This run's customers, and the outbox events written after event `since`."""
        with db.cursor() as cursor:
            cursor.execute(
                "SELECT COUNT(*) FROM customers WHERE partner_id LIKE %s", (prefix + "%",)
            )
            customers = int(cursor.fetchone()[0])
            cursor.execute("SELECT COUNT(*) FROM customer_events_outbox WHERE id > %s", (since,))
            events = int(cursor.fetchone()[0])
        return {"customers": customers, "events": events}

    try:
        for rtt in rtts:
            environment = network.apply(rtt)
            result = IngestResult(rows=rows, messages=len(bodies), rtt_ms=rtt)
            rounds = Rounds(list(VARIANTS), seed=7 + int(rtt * 1000))
            with Worker(function, handler=False, environment=environment) as worker:
                for body in bodies:
                    worker.run("ingest.prepare", [body])
                for repetition in range(repetitions):
                    progress(
                        f"ingest {rows} rows at rtt {rtt:g} ms, repetition {repetition + 1} "
                        f"of {repetitions}"
                    )
                    for variant in rounds.next():
                        clear()
                        since = last_event()
                        payloads: list[Any] = chunks if variant in NOTES_LOOPS else bodies
                        durations, _ = worker.run(f"ingest.{variant}", payloads)
                        result.seconds.setdefault(variant, []).append(sum(durations) / 1e9)
                        if variant in COUNTED and variant not in result.work:
                            result.work[variant] = left(since)
                        if variant == "ours":
                            durations, _ = worker.run("ingest.ours", bodies)
                            result.seconds.setdefault("ours_rerun", []).append(sum(durations) / 1e9)
                clear()
            result.order = rounds.record()
            results.append(result)
    finally:
        db.close()
    return results
