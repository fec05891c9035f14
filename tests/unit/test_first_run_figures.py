"""README.md's first-run figures come from docs/first-run.json, never from a hand."""

import json

from tools import first_run


def test_the_readme_and_the_first_run_page_show_the_measured_figures():
    messages: list[str] = []

    status = first_run.main(["--check"], out=messages.append)

    assert (status, messages) == (0, [])


def test_the_readme_quotes_the_venv_time_and_size_of_the_measurement():
    figures = json.loads(first_run.FIGURES.read_text())
    readme = first_run.README.read_text()

    assert first_run.readme_block(figures) in readme
    assert f"{figures['venv_bytes'] / 1e6:.0f} MB" in readme
    assert first_run._minutes(figures["make_venv_seconds"]) in readme


def test_a_changed_figure_makes_the_pages_stale():
    figures = json.loads(first_run.FIGURES.read_text())
    figures["make_venv_seconds"] += 60

    pages = first_run.rendered(figures)

    assert pages[first_run.README] != first_run.README.read_text()
    assert pages[first_run.PAGE] != first_run.PAGE.read_text()
