"""docs/cheat-sheet.md's figures are rendered from the files that produced them (the
reference bench run, the first-run measurements, the connection budget, the template),
never typed by hand, and the page stays one page."""

import copy
import json

from tools import cheat_sheet, first_run


def test_the_cheat_sheet_shows_the_figures_of_the_files_that_produced_them():
    """Catches: a figure of the generated block edited by hand, or a source file changed
    (a new reference bench run, a new first run, a template change) without re-rendering."""
    messages: list[str] = []

    status = cheat_sheet.main(["--check"], out=messages.append)

    assert (status, messages) == (0, [])


def test_a_new_reference_run_makes_the_page_stale():
    # Given the reference run with a slower warm GET
    results = json.loads(cheat_sheet.RESULTS.read_text())
    slower = copy.deepcopy(results)
    slower["warm_ms"]["rds_get"]["ours_p50"] += 1.0
    runs = json.loads(first_run.FIGURES.read_text())
    budgets, counts = cheat_sheet.budgets(), cheat_sheet.template_counts()

    # When the block is rendered from it
    block = cheat_sheet.block(slower, runs, budgets, counts)

    # Then it quotes the new figure, and the page no longer matches
    assert f"{slower['warm_ms']['rds_get']['ours_p50']:.1f} ms on loopback" in block
    assert block not in cheat_sheet.PAGE.read_text()
    assert cheat_sheet.block(results, runs, budgets, counts) in cheat_sheet.PAGE.read_text()


def test_the_cheat_sheet_fits_on_one_page():
    """Catches: the cheat sheet growing into another long page."""
    assert len(cheat_sheet.PAGE.read_text().split()) <= 1_000
