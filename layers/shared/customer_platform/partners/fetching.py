"""One scheduled run of the fetcher: read the feed, validate it, queue the valid rows."""

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import urllib3
from pydantic import ValidationError

from customer_platform.partners.fetch import fetch_feed
from customer_platform.partners.models import PartnerCustomer
from customer_platform.partners.queueing import send_rows

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


@dataclass
class FetchSummary:
    run_id: str
    pages: int = 0
    fetched: int = 0
    valid: int = 0
    rejected: int = 0
    duplicates: int = 0
    messages: int = 0
    rejections: dict[str, int] = field(default_factory=dict)  # reason -> count


def validate(rows: list[Any]) -> tuple[list[PartnerCustomer], Counter[str], int]:
    """Valid rows (the last one wins when a partner id repeats), rejection reasons, repeats."""
    by_id: dict[str, PartnerCustomer] = {}
    reasons: Counter[str] = Counter()
    for row in rows:
        try:
            customer = PartnerCustomer.model_validate(row)
        except ValidationError as error:
            first = error.errors()[0]
            reasons[f"{'.'.join(str(p) for p in first['loc']) or 'row'}: {first['type']}"] += 1
            continue
        by_id[customer.id] = customer
    valid = list(by_id.values())
    repeats = len(rows) - sum(reasons.values()) - len(valid)
    return valid, reasons, repeats


def fetch_and_queue(
    url: str, run_id: str, sqs: "SQSClient", queue_url: str, pool: urllib3.PoolManager | None = None
) -> FetchSummary:
    """Fetch everything first, then queue: a failed fetch (FetchError) queues nothing."""
    feed = fetch_feed(url, pool)
    valid, reasons, repeats = validate(feed.rows)
    summary = FetchSummary(
        run_id=run_id,
        pages=feed.pages,
        fetched=len(feed.rows),
        valid=len(valid),
        rejected=sum(reasons.values()),
        duplicates=repeats,
        rejections=dict(reasons),
    )
    summary.messages = send_rows(sqs, queue_url, run_id, valid)
    return summary
