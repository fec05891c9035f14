"""The docs pages keep their promises: the sections every pattern page has, and commands
and links that exist."""

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tools.connection_budget import budget, report, samconfig_parameters

ROOT = Path(__file__).resolve().parents[2]
PATTERNS = [
    "api-security",
    "customer-events",
    "customers-aurora",
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


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to '-'."""
    text = heading.strip().lower().replace("`", "")
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"(?ms)^```.*?^```", "", page.read_text())  # no headings in code blocks
    return {_slug(heading) for heading in re.findall(r"(?m)^#{1,6} (.+)$", text)}


@pytest.mark.parametrize(
    "page", [*PATTERN_PAGES, *OTHER_PAGES, ROOT / "README.md"], ids=lambda p: p.stem
)
def test_every_link_to_a_section_finds_its_heading(page: Path):
    """Catches: a section moved to another page (the pages were split by topic) while a
    link still points at its old anchor, or a heading renamed under a link."""
    links = re.findall(r"\]\(((?!https?://)[^)#]*)#([^)]+)\)", page.read_text())

    broken = [
        f"{target}#{anchor}"
        for target, anchor in links
        if anchor not in _anchors(page.parent / target if target else page)
    ]
    assert not broken, broken


@pytest.mark.parametrize(
    "page", [*PATTERN_PAGES, *OTHER_PAGES, ROOT / "README.md"], ids=lambda p: p.stem
)
def test_no_link_points_outside_the_repository(page: Path):
    """Catches: a link to a web page (the project is read offline and from a clone; an AWS
    source is cited by its guide and section title instead)."""
    outside = re.findall(r"\]\((https?://[^)]+)\)|<(https?://[^>]+)>", page.read_text())

    assert not outside, outside


def test_the_pages_are_sized_for_a_live_walkthrough():
    """Catches: a page grown past what can be shown live (the long ones were split by
    topic). Generated blocks (the bench's tables in performance.md and cold-starts.md) are
    reference figures looked up, not read out, so they do not count."""
    generated = re.compile(r"<!-- generated: (\S+) .*?<!-- end of generated: \1 -->", re.S)
    words = {
        page.stem: len(generated.sub("", page.read_text()).split())
        for page in [*PATTERN_PAGES, *OTHER_PAGES]
    }

    assert not {stem: n for stem, n in words.items() if n > 2_600}, words


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
        ("customer-events", f"about {_about(5 * audit_rate, 10)} messages a second, "),
        ("customer-events", f"at the bench's {_about(audit['batch_p50_ms'])} ms a batch"),
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
        ("caching", f"{warm['rds_get']['ours_p50']:.1f} ms p50 on loopback"),
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


def budget_figures() -> list[tuple[str, str]]:
    """What the pages quote from the connection budget (tools/connection_budget.py, `make
    budget`), worded as the pages word it."""
    environments = samconfig_parameters()
    default = budget("default", environments["default"])
    prod = budget("prod", environments["prod"])
    proxied = budget("prod", environments["prod"] | {"EnableDatabaseProxy": "true"})
    return [
        ("walkthrough", f"{default.demand} at most ({prod.demand} with password rotation on"),
        ("customers-backends", f"({default.demand} by default, {prod.demand} in prod"),
        ("rds-connections", f"({prod.demand} in all)"),
        ("rds-connections", f"({proxied.demand} of {proxied.ceiling} in prod)"),
    ]


@pytest.mark.parametrize(("page", "figure"), budget_figures())
def test_connection_figures_quoted_by_hand_are_the_budgets(page: str, figure: str):
    """Catches: a connection count typed from memory (prod said 40 while its two rotation
    schedules make it 41) or left behind when the template changes."""
    text = " ".join((ROOT / "docs" / f"{page}.md").read_text().split())

    assert " ".join(figure.split()) in text


def test_the_budget_shown_is_the_tools_output():
    """Catches: the connection budget block of rds-connections.md edited by hand or left
    behind when a function's reserved concurrency changes."""
    text = (ROOT / "docs" / "rds-connections.md").read_text()
    shown = re.search(r"```\n(default: .*?)```", text, re.DOTALL)

    assert shown is not None
    assert shown.group(1).rstrip() == report(budget("default", samconfig_parameters()["default"]))
