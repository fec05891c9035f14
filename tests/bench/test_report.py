"""The benchmark's bookkeeping: figures in the docs come from the committed results file,
prose carries no hand-typed numbers, variants alternate, misses say by how much.

Never a timing: these check where the figures come from, not what they are.
"""

import re

from bench.harness import Rounds
from bench.report import GENERATED, REFERENCE, _target, write_docs


def test_the_docs_figures_are_the_committed_results_rendered():
    """Catches: a figure edited by hand in README.md, docs/performance.md or
    docs/cold-starts.md, or a
    reference-results.json committed without `python -m bench.report --write-docs`."""
    assert write_docs(REFERENCE, check=True) == []


def _prose(text: str) -> str:
    """`text` without its generated blocks, code blocks and inline code."""
    text = re.sub(r"<!-- generated: (\S+) .*?<!-- end of generated: \1 -->", "", text, flags=re.S)
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    return re.sub(r"`[^`]*`", "", text)


def _performance_prose() -> dict[str, str]:
    readme = next(path for path in GENERATED if path.name == "README.md").read_text()
    page = next(path for path in GENERATED if path.name == "performance.md").read_text()
    return {
        "README.md": _prose(readme.split("\n## Performance", 1)[1].split("\n## ", 1)[0]),
        "docs/performance.md": _prose(page.split("\n", 1)[1]),  # below the title
    }


def test_the_performance_prose_has_no_hand_typed_numbers():
    """Catches: a number typed into the README's Performance section or docs/performance.md
    outside the generated blocks (it would go stale with the next run)."""
    for name, prose in _performance_prose().items():
        assert prose.strip(), f"{name} has no performance prose"
        # a number, not a digit inside a name (boto3, S3)
        assert re.findall(r"(?<![A-Za-z_])\d[\d.,]*", prose) == [], name


def test_the_readme_quotes_the_headline_and_links_the_detail():
    """Catches: the README's summary growing back into every table, or losing its link."""
    readme = next(path for path in GENERATED if path.name == "README.md").read_text()
    section = readme.split("\n## Performance", 1)[1].split("\n## ", 1)[0]

    assert "(docs/performance.md)" in section
    assert "**Targets**" in section
    assert section.count("**") == 2, "only the targets table belongs in the README"


def test_rounds_alternate_abba_and_are_recorded():
    """Catches: a fixed order (every variant always in the same slot), or rounds not
    reversed in pairs."""
    rounds = Rounds(["ours", "floor", "naive"], seed=5)
    orders = [rounds.next() for _ in range(6)]
    for first, second in zip(orders[::2], orders[1::2], strict=True):
        assert second == list(reversed(first))
    assert all(sorted(order) == ["floor", "naive", "ours"] for order in orders)
    assert len({tuple(order) for order in orders}) > 2
    assert rounds.record()["rounds"] == [" ".join(order) for order in orders]
    assert Rounds(["ours", "floor", "naive"], seed=5).next() == orders[0]


def test_a_missed_target_says_by_how_much():
    """Catches: a miss reported without its distance to the target, in either direction."""
    slower = _target("at most", 1.5, False, "x", limit=1.2)
    fewer = _target("at least", 10.0, False, "x", limit=20.0, higher_is_better=True)
    met = _target("at most", 1.0, True, "x", limit=1.2)
    assert slower["missed_by"] == 0.25
    assert fewer["missed_by"] == 1.0
    assert "missed_by" not in met
