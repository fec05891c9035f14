"""Monthly cost of serving documents straight from S3 against serving them through CloudFront.

    make cost
    .venv/bin/python -m tools.document_costs --downloads-per-document 1 --free-tier

Reproduces the comparison in the source notes (../shared/seeds/002, the last two S3
questions): 100,000 documents of 1 MB, 10 downloads each a month, a 90 % CloudFront hit
ratio, and the notes' unit prices (us-east-1 list prices; check the current ones before
deciding anything). Every price and volume is a named option. The table shows what the
arithmetic gives, beside the totals the notes printed, which carry four mistakes:

1. S3 GETs cost $0.0004 per 1,000 requests; the notes charge $0.0004 per request in the
   CloudFront comparison (1,000,000 GETs: $400 instead of $0.40).
2. Transfer from S3 (any AWS origin) to CloudFront is free; the notes charge $0.09/GB.
3. CloudFront bills every byte it delivers, cache hits and misses alike; the notes bill
   only the hits (900 GB, not 1,000 GB).
4. CloudFront charges per request (HTTPS: $0.0100 per 10,000); the notes leave it out.

`--free-tier` applies the always-free allowances (100 GB of internet transfer out of S3 and
other regional services, and CloudFront's 1 TB and 10,000,000 requests a month).
"""

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass, fields
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
MB_PER_GB = Decimal(1000)  # the notes' decimal units: 100,000 x 1 MB = 100 GB
# What the notes printed, by downloads per document a month (their other inputs are the
# defaults): the S3-only example, and the S3-against-CloudFront comparison.
NOTES_TOTALS: dict[Decimal, tuple[Decimal, Decimal | None]] = {
    Decimal(1): (Decimal("11.34"), None),
    Decimal(10): (Decimal("492.30"), Decimal("127.80")),
}


@dataclass(frozen=True)
class Inputs:
    """Volumes and unit prices (USD). Field names double as the command-line options."""

    documents: int = 100_000
    average_size_mb: Decimal = Decimal(1)
    downloads_per_document: Decimal = Decimal(10)  # per month
    new_documents_per_month: int = 0  # uploads (PUTs); the notes leave them out
    cache_hit_ratio: Decimal = Decimal("0.90")
    s3_storage_per_gb_month: Decimal = Decimal("0.023")  # S3 Standard, first 50 TB
    s3_get_per_1000: Decimal = Decimal("0.0004")
    s3_put_per_1000: Decimal = Decimal("0.005")
    s3_transfer_out_per_gb: Decimal = Decimal("0.09")  # to the internet, first 10 TB
    s3_to_cloudfront_per_gb: Decimal = Decimal(0)  # free from any AWS origin
    cloudfront_transfer_out_per_gb: Decimal = Decimal("0.085")  # first 10 TB, US/EU
    cloudfront_https_per_10000: Decimal = Decimal("0.0100")
    free_tier: bool = False
    free_internet_transfer_gb: Decimal = Decimal(100)  # shared by S3 and other services
    free_cloudfront_transfer_gb: Decimal = Decimal(1024)
    free_cloudfront_requests: int = 10_000_000


@dataclass(frozen=True)
class Line:
    item: str
    s3_direct: Decimal | None  # None: not part of this option
    cloudfront: Decimal | None


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _billable(amount: Decimal, free: Decimal, inputs: Inputs) -> Decimal:
    return max(Decimal(0), amount - free) if inputs.free_tier else amount


def stored_gb(inputs: Inputs) -> Decimal:
    return inputs.documents * inputs.average_size_mb / MB_PER_GB


def downloads(inputs: Inputs) -> Decimal:
    return inputs.documents * inputs.downloads_per_document


def lines(inputs: Inputs) -> list[Line]:
    """One month, item by item, for both ways of serving the same downloads."""
    size_gb = inputs.average_size_mb / MB_PER_GB
    requests = downloads(inputs)
    misses = requests * (1 - inputs.cache_hit_ratio)  # what CloudFront fetches from S3
    storage = stored_gb(inputs) * inputs.s3_storage_per_gb_month
    uploads = inputs.new_documents_per_month * inputs.s3_put_per_1000 / 1000
    return [
        Line("S3 storage", storage, storage),
        Line("S3 PUT (uploads)", uploads, uploads),
        Line(
            "S3 GET requests",
            requests * inputs.s3_get_per_1000 / 1000,
            misses * inputs.s3_get_per_1000 / 1000,
        ),
        Line(
            "S3 transfer out to the internet",
            _billable(requests * size_gb, inputs.free_internet_transfer_gb, inputs)
            * inputs.s3_transfer_out_per_gb,
            None,
        ),
        Line("S3 transfer to CloudFront", None, misses * size_gb * inputs.s3_to_cloudfront_per_gb),
        Line(
            "CloudFront transfer out (hits and misses)",
            None,
            _billable(requests * size_gb, inputs.free_cloudfront_transfer_gb, inputs)
            * inputs.cloudfront_transfer_out_per_gb,
        ),
        Line(
            "CloudFront HTTPS requests",
            None,
            _billable(requests, Decimal(inputs.free_cloudfront_requests), inputs)
            * inputs.cloudfront_https_per_10000
            / 10_000,
        ),
    ]


def totals(inputs: Inputs) -> tuple[Decimal, Decimal]:
    items = lines(inputs)
    return (
        _money(sum((line.s3_direct or Decimal(0) for line in items), Decimal(0))),
        _money(sum((line.cloudfront or Decimal(0) for line in items), Decimal(0))),
    )


def _cell(value: Decimal | None) -> str:
    return "-" if value is None else f"{_money(value):,.2f}"


def notes_totals(inputs: Inputs) -> tuple[Decimal, Decimal | None] | None:
    """The notes' totals for these inputs, when the notes computed this case at all."""
    if inputs != Inputs(downloads_per_document=inputs.downloads_per_document):
        return None
    return NOTES_TOTALS.get(inputs.downloads_per_document)


def render(inputs: Inputs) -> str:
    s3_direct, cloudfront = totals(inputs)
    width = 44
    delivered_gb = downloads(inputs) * inputs.average_size_mb / MB_PER_GB
    rows = [
        f"{inputs.documents:,} documents x {inputs.average_size_mb} MB = "
        f"{stored_gb(inputs):,.1f} GB stored",
        f"{downloads(inputs):,.0f} downloads a month ({inputs.downloads_per_document} per "
        f"document) = {delivered_gb:,.1f} GB delivered",
        f"CloudFront cache hit ratio {inputs.cache_hit_ratio:.0%}; free tiers "
        f"{'applied' if inputs.free_tier else 'not applied'}",
        "",
        f"{'USD per month':<{width}} {'S3 direct':>12} {'S3 + CloudFront':>16}",
        "-" * (width + 30),
    ]
    rows += [
        f"{line.item:<{width}} {_cell(line.s3_direct):>12} {_cell(line.cloudfront):>16}"
        for line in lines(inputs)
    ]
    rows += [
        "-" * (width + 30),
        f"{'total':<{width}} {s3_direct:>12,.2f} {cloudfront:>16,.2f}",
    ]
    printed = notes_totals(inputs)
    if printed is not None:
        rows.append(
            f"{'the notes printed (--help: where they differ)':<{width}} "
            f"{_cell(printed[0]):>12} {_cell(printed[1]):>16}"
        )
    return "\n".join(rows)


def parse(argv: Sequence[str]) -> Inputs:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    defaults = Inputs()
    for spec in fields(Inputs):
        option = "--" + spec.name.replace("_", "-")
        default = getattr(defaults, spec.name)
        if isinstance(default, bool):
            parser.add_argument(option, action="store_true", help="apply the free tiers")
        else:
            parser.add_argument(
                option, type=type(default), default=default, help=f"default {default}"
            )
    return Inputs(**vars(parser.parse_args(argv)))


def main(argv: Sequence[str] | None = None) -> int:
    print(render(parse(sys.argv[1:] if argv is None else argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
