"""docs/local-concurrency.md's figures come from docs/local-concurrency.json, which
tools/local_concurrency.py wrote when it measured them; never from a hand."""

import json

from local_stack.network.sockets import LISTEN_BACKLOG
from tools import local_concurrency


def test_the_local_concurrency_page_shows_the_measured_figures():
    messages: list[str] = []

    status = local_concurrency.main(["--check"], out=messages.append)

    assert (status, messages) == (0, [])


def test_a_changed_figure_makes_the_page_stale():
    """Catches: a block rendered from anything but the figures (a typed number)."""
    figures = json.loads(local_concurrency.FIGURES.read_text())
    figures["pacing"]["without_maximum_concurrency"]["rows_dead_lettered"] += 1

    assert local_concurrency.rendered(figures) != local_concurrency.PAGE.read_text()


def test_the_figures_show_what_the_page_says_they_show():
    """The page's claims, against the measurement: the old behaviour failed, the new did not."""
    figures = json.loads(local_concurrency.FIGURES.read_text())
    backlog, ddb, pacing = figures["backlog"], figures["dynamodb"], figures["pacing"]
    queue = str(LISTEN_BACKLOG)

    assert all(run["answered"] == backlog["clients"] for run in backlog[queue])
    assert any(run["answered"] < backlog["clients"] for run in backlog["5"])
    serialised, alone = ddb["serialised"], ddb["moto_alone"]
    assert serialised["acknowledged"] == ddb["emails"]
    assert serialised["emails_created_twice"] == serialised["acknowledged_missing"] == 0
    assert alone["emails_created_twice"] + alone["acknowledged_missing"] > 0
    assert pacing["without_maximum_concurrency"]["rows_dead_lettered"] > 0
    assert pacing["as_deployed"]["rows_dead_lettered"] == 0
    assert pacing["as_deployed"]["rows_written"] == pacing["rows"]
