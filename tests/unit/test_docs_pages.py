"""The docs pages keep their promises: the sections every pattern page has, and commands
and links that exist."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PATTERNS = [
    "api-security",
    "customer-events",
    "customers-backends",
    "customers-dynamodb",
    "documents",
    "partner-sync",
]
PATTERN_PAGES = [ROOT / "docs" / f"{name}.md" for name in PATTERNS]
# Pages about how the project itself works (the local runtime, least privilege, ...).
OTHER_PAGES = sorted(path for path in (ROOT / "docs").glob("*.md") if path.stem not in PATTERNS)
MAKE_TARGETS = set(re.findall(r"^([a-z-]+):", (ROOT / "Makefile").read_text(), re.MULTILINE))


def test_there_are_six_pattern_pages():
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


@pytest.mark.parametrize("page", [*PATTERN_PAGES, *OTHER_PAGES], ids=lambda p: p.stem)
def test_relative_links_resolve(page: Path):
    links = re.findall(r"\]\(((?!https?://)[^)#]+)(?:#[^)]*)?\)", page.read_text())

    assert all((page.parent / link).exists() for link in links), links


def test_the_readme_links_the_walkthrough():
    assert "(docs/walkthrough.md)" in (ROOT / "README.md").read_text()
