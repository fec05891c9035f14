"""Data API errors, shaped as the service answers them (REST-JSON).

The HTTP status of each error code comes from botocore's service model of rds-data (the
`error.httpStatusCode` of its exception shapes), so the emulator cannot drift from what the
SDKs parse: DatabaseResumingException and StatementTimeoutException are 400,
TransactionNotFoundException 404, InternalServerErrorException 500, and so on.
"""

import json
import uuid
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import botocore.session

SERVICE = "rds-data"


@cache
def _statuses() -> dict[str, int]:
    model = botocore.session.get_session().get_service_model(SERVICE)
    found: dict[str, int] = {}
    for name in model.shape_names:
        shape = model.shape_for(name)
        if shape.metadata.get("exception"):
            found[name] = int(shape.metadata.get("error", {}).get("httpStatusCode", 400))
    return found


def status_of(code: str) -> int:
    """The HTTP status the service model gives `code` (400 for codes it does not model,
    such as ThrottlingException)."""
    return _statuses().get(code, 400)


@dataclass
class DataApiError(Exception):
    """An error answer: `code` (the exception shape's name), a message, extra members."""

    code: str
    message: str
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(f"{self.code}: {self.message}")

    @property
    def status(self) -> int:
        return status_of(self.code)

    def response(self) -> tuple[int, list[tuple[str, str]], bytes]:
        body = json.dumps({"message": self.message} | self.extra).encode()
        headers = [
            ("Content-Type", "application/json"),
            ("x-amzn-ErrorType", f"{self.code}:"),
            ("x-amzn-RequestId", str(uuid.uuid4())),
        ]
        return self.status, headers, body
