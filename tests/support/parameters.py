"""Template checks that run twice: with the template's defaults, and with the optional
Aurora backend on (what `sam deploy --parameter-overrides EnableAuroraBackend=true` deploys).

A test module imports `with_and_without_aurora` (an autouse fixture, so every test of the
module runs in both settings) and adds `BASE` to the parameters it transforms with.
"""

from collections.abc import Iterator

import pytest

SETTINGS = {"aurora-off": {}, "aurora-on": {"EnableAuroraBackend": "true"}}
BASE: dict[str, str] = {}  # the current test's setting


@pytest.fixture(autouse=True, params=sorted(SETTINGS))
def with_and_without_aurora(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    BASE.clear()
    BASE.update(SETTINGS[request.param])
    yield BASE
    BASE.clear()
