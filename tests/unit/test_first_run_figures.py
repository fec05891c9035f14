"""README.md's first-run figures come from docs/first-run.json, never from a hand, and
state the range seen and what set it."""

import copy
import json
from typing import Any

from tools import first_run


def figures() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(first_run.FIGURES.read_text())
    return loaded


def test_the_readme_and_the_first_run_page_show_the_measured_figures():
    messages: list[str] = []

    status = first_run.main(["--check"], out=messages.append)

    assert (status, messages) == (0, [])


def test_the_readme_states_the_range_of_first_runs_and_the_load_of_each_end():
    """Catches: the README quoting one run (a quiet machine's 1 min, where a loaded one
    took 7): a newcomer must see the range and what moved it."""
    # Given every measured first run
    runs = figures()["runs"]
    slowest = max(runs, key=first_run._first_demo)
    fastest = min(runs, key=first_run._first_demo)

    readme = first_run.README.read_text()

    # Then the README names the fastest and the slowest, each with its load average
    assert len(runs) >= 2
    assert (
        f"{first_run._minutes(first_run._first_demo(fastest))} (load average"
        f" {fastest['machine']['load_average_at_start']})"
    ) in readme
    assert (
        f"{first_run._minutes(first_run._first_demo(slowest))} (load average"
        f" {slowest['machine']['load_average_at_start']})"
    ) in readme
    assert f"{runs[-1]['venv_bytes'] / 1e6:.0f} MB" in readme


def test_the_readme_states_how_long_make_test_took_and_under_what_load():
    """Catches: `make test`'s duration missing from the README, or typed by hand."""
    measured = figures()
    test = measured["make_test"]

    block = first_run.readme_block(measured)

    assert f"took {first_run._minutes(test['seconds'])} on a" in block
    assert f"from {test['machine']['load_average_at_start']} to" in block
    assert block in first_run.README.read_text()


def test_a_new_run_makes_the_pages_stale():
    # Given one more first run, slower than any so far
    changed = copy.deepcopy(figures())
    slower = copy.deepcopy(changed["runs"][-1])
    slower["make_venv_seconds"] += 3600
    changed["runs"].append(slower)

    pages = first_run.rendered(changed)

    assert pages[first_run.README] != first_run.README.read_text()
    assert pages[first_run.PAGE] != first_run.PAGE.read_text()
    assert first_run._minutes(first_run._first_demo(slower)) in pages[first_run.README]
