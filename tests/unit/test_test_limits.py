"""The suite's own limits: no test can hang CI, no loop in a test can run forever."""

import pytest

from tests.support.polling import poll_until_idle, rounds


def test_every_test_has_a_time_limit(pytestconfig: pytest.Config):
    # pytest-timeout reads `timeout` from pyproject.toml; 0 or missing means no limit.
    assert pytestconfig.pluginmanager.hasplugin("timeout")
    limit = pytestconfig.getini("timeout")
    assert limit, "pyproject.toml sets no pytest-timeout limit"
    assert 0 < float(limit) <= 600


def test_a_loop_that_never_finishes_fails_and_says_what_it_waited_for():
    with pytest.raises(AssertionError, match="gave up waiting for the queue to drain after 3"):
        for _ in rounds("the queue to drain", limit=3):
            pass


def test_a_loop_that_finishes_in_time_is_silent():
    seen = []
    for index in rounds("three items", limit=5):
        seen.append(index)
        if len(seen) == 3:
            break

    assert seen == [0, 1, 2]


class EndlessSource:
    """An event source that always has another batch (a poison message redelivered)."""

    def __init__(self) -> None:
        self.polls = 0

    def poll(self) -> int:
        self.polls += 1
        return 1


def test_polling_an_event_source_that_never_goes_idle_fails():
    source = EndlessSource()

    with pytest.raises(AssertionError, match="the ingest queue"):
        poll_until_idle(source, "the ingest queue")

    assert source.polls == 1000
