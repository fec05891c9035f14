"""Settings fail at cold start and name the variable that is missing."""

import pytest
from pydantic import Field

from customer_platform.settings import EnvSettings


class ExampleSettings(EnvSettings):
    table_name: str = Field(alias="EXAMPLE_TABLE_NAME")


def test_settings_read_their_variables(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("EXAMPLE_TABLE_NAME", "customers")

    assert ExampleSettings.from_env().table_name == "customers"


def test_a_missing_variable_is_named_in_the_error(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("EXAMPLE_TABLE_NAME", raising=False)

    with pytest.raises(RuntimeError, match="EXAMPLE_TABLE_NAME"):
        ExampleSettings.from_env()
