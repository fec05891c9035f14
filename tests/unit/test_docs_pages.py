"""The docs pages keep their promises: the sections every pattern page has, and commands
and links that exist."""

import json
import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PATTERNS = [
    "api-security",
    "customer-events",
    "customers-backends",
    "customers-django",
    "customers-dynamodb",
    "documents",
    "partner-sync",
]
PATTERN_PAGES = [ROOT / "docs" / f"{name}.md" for name in PATTERNS]
# Pages about how the project itself works (the local runtime, least privilege, ...).
OTHER_PAGES = sorted(path for path in (ROOT / "docs").glob("*.md") if path.stem not in PATTERNS)
MAKE_TARGETS = set(re.findall(r"^([a-z-]+):", (ROOT / "Makefile").read_text(), re.MULTILINE))


def test_the_pattern_pages_exist():
    assert all(path.exists() for path in PATTERN_PAGES)


@pytest.mark.parametrize("page", PATTERN_PAGES, ids=lambda p: p.stem)
def test_every_pattern_page_says_how_it_scales_and_what_only_aws_shows(page: Path):
    text = page.read_text()

    assert "\n## At 10x and 100x\n" in text
    assert "\n## Verified locally / only on AWS\n" in text


@pytest.mark.parametrize(
    "page", [*PATTERN_PAGES, *OTHER_PAGES, ROOT / "README.md"], ids=lambda p: p.stem
)
def test_every_make_command_and_test_path_named_exists(page: Path):
    text = page.read_text()

    named = set(re.findall(r"`make (?:-s )?([a-z][a-z-]*)", text))
    paths = set(re.findall(r"ARGS=\"(tests/[\w/.]+)", text)) - {"tests/..."}

    assert named <= MAKE_TARGETS, named - MAKE_TARGETS
    assert all((ROOT / path).exists() for path in paths), paths


TEST_NAMES = {
    match
    for path in (ROOT / "tests").rglob("test_*.py")
    for match in re.findall(r"^\s*def (test_\w+)", path.read_text(), re.MULTILINE)
}


@pytest.mark.parametrize(
    "page", [*PATTERN_PAGES, *OTHER_PAGES, ROOT / "README.md"], ids=lambda p: p.stem
)
def test_every_test_named_exists(page: Path):
    """Catches: a test renamed and the page still citing it as proof (a `*` stands for the
    rest of a name)."""
    named = set(re.findall(r"`(test_[\w*]+)`", page.read_text()))

    missing = {
        name
        for name in named
        if not any(re.fullmatch(re.escape(name).replace(r"\*", r"\w*"), t) for t in TEST_NAMES)
    }
    assert not missing, missing


@pytest.mark.parametrize("page", [*PATTERN_PAGES, *OTHER_PAGES], ids=lambda p: p.stem)
def test_relative_links_resolve(page: Path):
    links = re.findall(r"\]\(((?!https?://)[^)#]+)(?:#[^)]*)?\)", page.read_text())

    assert all((page.parent / link).exists() for link in links), links


def test_the_readme_links_the_walkthrough():
    assert "(docs/walkthrough.md)" in (ROOT / "README.md").read_text()


def _about(value: float, step: int = 1) -> str:
    """`value` rounded half up to a multiple of `step`, with thousands separators."""
    return f"{int(value / step + 0.5) * step:,}"


def quoted_figures(results: dict[str, Any]) -> list[tuple[str, str]]:
    """What the pages' "At 10x and 100x" sections quote from the reference bench run,
    worded as the pages word it."""
    sqs, ingest, warm = results["sqs"], results["ingest_rows_per_s"], results["warm_ms"]
    audit, welcome = sqs["audit"], sqs["welcome_email"]
    audit_rate = results["sqs_messages_per_s"]["audit"]
    counts = results["per_1000_warm_invocations"]["by_handler"]["rds_ours"]
    return [
        ("customer-events", f"about {_about(audit_rate)} messages a second"),
        ("customer-events", f"p50 {_about(audit['batch_p50_ms'])} ms a batch"),
        (
            "customer-events",
            f"about {_about(results['sqs_messages_per_s']['welcome_email'])}"
            f" (p50 {_about(welcome['batch_p50_ms'])} ms)",
        ),
        ("customer-events", f"about {_about(5 * audit_rate, 10)} messages a second, short of"),
        ("partner-sync", f"about {_about(ingest['ours'], 100)} rows a second per writer"),
        ("partner-sync", f"about {_about(ingest['ours_rerun'], 1000)} when a re-run"),
        ("partner-sync", f"about\n{_about(ingest['ours_parsing'], 100)} when each message"),
        ("partner-sync", f"about {_about(sqs['partner_writer']['rows_per_s'], 100)} through"),
        ("customers-backends", f"{warm['rds_get']['ours_p50']:.1f} ms p50"),
        ("customers-backends", f"{warm['rds_get@rtt0.5ms']['ours_p50']:.1f} ms with a"),
        (
            "walkthrough",
            f"{counts['db_connections']:g} connects and {counts['secret_fetches']:g} secret reads",
        ),
    ]


@pytest.mark.parametrize(
    ("page", "figure"),
    quoted_figures(json.loads((ROOT / "bench" / "reference-results.json").read_text())),
)
def test_bench_figures_quoted_by_hand_are_the_reference_runs(page: str, figure: str):
    """Catches: bench/reference-results.json regenerated and the pages left quoting the run
    before (the README and docs/cold-starts.md are generated; these sentences are not)."""
    text = " ".join((ROOT / "docs" / f"{page}.md").read_text().split())

    assert " ".join(figure.split()) in text
