"""`make cost`: the notes' S3-against-CloudFront arithmetic, redone with named inputs."""

from decimal import Decimal

import pytest

from tools.document_costs import Inputs, lines, main, notes_totals, parse, totals


def line(inputs: Inputs, item: str) -> tuple[Decimal | None, Decimal | None]:
    found = next(entry for entry in lines(inputs) if entry.item == item)
    return found.s3_direct, found.cloudfront


def test_one_download_a_month_is_the_notes_11_34_dollars():
    inputs = Inputs(downloads_per_document=Decimal(1))

    s3_direct, _ = totals(inputs)

    assert s3_direct == Decimal("11.34")  # 2.30 storage + 0.04 GETs + 9.00 transfer
    assert notes_totals(inputs) == (Decimal("11.34"), None)


def test_the_notes_comparison_with_per_1000_get_pricing_and_all_cloudfront_bytes():
    inputs = Inputs()

    s3_direct, cloudfront = totals(inputs)

    assert line(inputs, "S3 GET requests") == (Decimal("0.4000"), Decimal("0.04000"))
    assert line(inputs, "S3 transfer out to the internet")[0] == Decimal("90.000")
    assert line(inputs, "CloudFront transfer out (hits and misses)")[1] == Decimal("85.0000")
    assert line(inputs, "CloudFront HTTPS requests")[1] == Decimal("1.00000")
    assert (s3_direct, cloudfront) == (Decimal("92.70"), Decimal("88.34"))
    assert notes_totals(inputs) == (Decimal("492.30"), Decimal("127.80"))


def test_the_notes_own_unit_prices_reproduce_their_cloudfront_figures_except_the_gets():
    # The notes charged S3 -> CloudFront transfer at $0.09/GB and billed 900 GB out of CloudFront.
    inputs = Inputs(s3_to_cloudfront_per_gb=Decimal("0.09"), cloudfront_https_per_10000=Decimal(0))

    assert line(inputs, "S3 transfer to CloudFront")[1] == Decimal("9.0000")  # notes: $9
    assert totals(inputs)[1] == Decimal("96.34")  # 2.30 + 0.04 + 9.00 + 85.00


def test_free_tiers_make_the_cloudfront_option_almost_free():
    s3_direct, cloudfront = totals(Inputs(free_tier=True))

    assert s3_direct == Decimal("83.70")  # 900 of 1,000 GB billed
    assert cloudfront == Decimal("2.34")  # storage and GETs only


def test_a_perfect_cache_never_reads_s3_after_the_first_fetch():
    inputs = Inputs(cache_hit_ratio=Decimal(1))

    assert line(inputs, "S3 GET requests")[1] == Decimal(0)


def test_uploads_are_priced_when_asked_for():
    inputs = Inputs(new_documents_per_month=10_000)

    assert line(inputs, "S3 PUT (uploads)") == (Decimal("0.05"), Decimal("0.05"))


def test_every_input_is_a_named_option():
    inputs = parse(["--documents", "200000", "--s3-get-per-1000", "0.0005", "--free-tier"])

    assert inputs == Inputs(documents=200_000, s3_get_per_1000=Decimal("0.0005"), free_tier=True)


def test_the_table_prints_both_totals_and_the_notes_figures(capsys: pytest.CaptureFixture[str]):
    assert main([]) == 0

    printed = capsys.readouterr().out
    assert "92.70" in printed
    assert "88.34" in printed
    assert "492.30" in printed
    assert "127.80" in printed
