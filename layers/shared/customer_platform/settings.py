"""Environment-driven settings, read once per execution environment.

template.yaml sets every name a function needs (tables, secrets, ...) as environment
variables. Each function declares a small frozen model of the variables it uses; a missing
or malformed variable fails at cold start with the variable's name, not at first use.
"""

import os
from typing import Self

from pydantic import BaseModel, ConfigDict, ValidationError


class EnvSettings(BaseModel):
    """Base for per-function settings: fields are declared with `alias="ENV_VAR_NAME"`."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    @classmethod
    def from_env(cls) -> Self:
        try:
            return cls.model_validate(dict(os.environ))
        except ValidationError as exc:
            problems = ", ".join(
                f"{'.'.join(str(part) for part in error['loc'])} ({error['msg']})"
                for error in exc.errors()
            )
            raise RuntimeError(f"{cls.__name__}: bad environment variables: {problems}") from None
