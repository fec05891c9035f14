"""The benchmark's bookkeeping: figures in the docs come from the committed results file,
prose carries no hand-typed numbers, variants alternate, misses say by how much.

Never a timing: these check where the figures come from, not what they are.
"""

import re

from bench.harness import Rounds
from bench.report import GENERATED, REFERENCE, _target, write_docs


def test_the_docs_figures_are_the_committed_results_rendered():
    """Catches: a figure edited by hand in README.md or docs/cold-starts.md, or a
    reference-results.json committed without `python -m bench.report --write-docs`."""
    assert write_docs(REFERENCE, check=True) == []


def _performance_prose() -> str:
    readme = next(path for path in GENERATED if path.name == "README.md").read_text()
    section = readme.split("\n## Performance", 1)[1].split("\n## ", 1)[0]
    section = re.sub(
        r"<!-- generated: (\S+) .*?<!-- end of generated: \1 -->", "", section, flags=re.S
    )
    section = re.sub(r"```.*?```", "", section, flags=re.S)
    return re.sub(r"`[^`]*`", "", section)


def test_the_performance_prose_has_no_hand_typed_numbers():
    """Catches: a number typed into the README's Performance section outside the generated
    block (it would go stale with the next run)."""
    prose = _performance_prose()
    assert prose.strip(), "the Performance section has no prose"
    # a number, not a digit inside a name (boto3, S3)
    assert re.findall(r"(?<![A-Za-z_])\d[\d.,]*", prose) == []


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
