"""Customer models: what a client may send, and what the API returns."""

import uuid
from datetime import UTC, datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    PlainSerializer,
    StringConstraints,
)
from pydantic.alias_generators import to_camel


def format_timestamp(value: datetime) -> str:
    """ISO 8601 in UTC with millisecond precision and a `Z`, e.g. 2026-11-22T10:15:00.000Z."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_timestamp(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


Timestamp = Annotated[datetime, PlainSerializer(format_timestamp, return_type=str)]

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]

# email-validator checks syntax and the 254-character limit; pydantic lower-cases only the
# domain, and this API compares whole addresses case-insensitively, so store them lower-cased.
Email = Annotated[EmailStr, AfterValidator(str.lower)]


class CustomerInput(BaseModel):
    """Body of POST and PUT. Unknown fields (id, createdAt, ...) are rejected."""

    model_config = ConfigDict(extra="forbid")

    name: Name = Field(description="1 to 100 characters after trimming", examples=["Ada Lovelace"])
    email: Email = Field(description="unique per backend, stored lower-cased")


class Customer(BaseModel):
    """A stored customer, as the API returns it (camelCase on the wire)."""

    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True)

    id: str
    name: str
    email: str
    created_at: Timestamp
    updated_at: Timestamp

    def to_api(self) -> dict[str, str]:
        return self.model_dump(mode="json", by_alias=True)


class CustomerPage(BaseModel):
    """One page of a list; `nextToken` is null on the last page."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    items: list[Customer]
    next_token: str | None


def new_customer_id() -> str:
    return str(uuid.uuid4())


def is_customer_id(value: str) -> bool:
    """True for ids this API issues (canonical UUID strings); anything else cannot exist."""
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False
