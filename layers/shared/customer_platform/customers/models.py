"""Customer models: what a client may send, and what the API returns."""

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    GetCoreSchemaHandler,
    PlainSerializer,
    StringConstraints,
)
from pydantic.alias_generators import to_camel
from pydantic.networks import validate_email
from pydantic_core import core_schema


def format_timestamp(value: datetime) -> str:
    """ISO 8601 in UTC with millisecond precision and a `Z`, e.g. 2026-11-22T10:15:00.000Z."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_timestamp(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


Timestamp = Annotated[datetime, PlainSerializer(format_timestamp, return_type=str)]

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
MAX_EMAIL_LENGTH = 254  # email-validator's limit (RFC 5321's path minus the angle brackets)

# JSON Schema patterns (docs/openapi.json) for rules the validators apply in code. Both are
# read the same way by Python's `re` and by ECMA-262, JSON Schema's regex dialect.
# - a name is more than blanks: at least one character that str.strip() keeps (Python's
#   `\s` is what it removes; ECMA-262's `\s` lacks \x1c-\x1f and \x85, hence the extras);
NOT_BLANK_PATTERN = "[^\\s\\x1c-\\x1f\\x85]"
# - ids are canonical UUID strings (`is_customer_id`); any other id is never found (404).
ID_PATTERN = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"

if TYPE_CHECKING:
    LazyEmailStr = EmailStr
else:

    class LazyEmailStr(EmailStr):
        """pydantic's EmailStr, except that email-validator is imported on the first email
        validated instead of when a model using it is defined.

        Its regular expressions take about 25 ms to build, and most functions import these
        models (the consumers through the event models), while only creates, updates and
        partner rows validate an email. Same core schema, same JSON schema (inherited), same
        `pydantic.networks.validate_email` (which imports email-validator itself when
        needed), so the same results and errors."""

        @classmethod
        def __get_pydantic_core_schema__(
            cls, _source: type[Any], _handler: GetCoreSchemaHandler
        ) -> core_schema.CoreSchema:
            return core_schema.no_info_after_validator_function(
                _normalized_email, core_schema.str_schema()
            )


def _normalized_email(value: str) -> str:
    return validate_email(value)[1]


# email-validator checks syntax and the 254-character limit; pydantic lower-cases only the
# domain, and this API compares whole addresses case-insensitively, so store them lower-cased.
Email = Annotated[LazyEmailStr, AfterValidator(str.lower)]


class CustomerInput(BaseModel):
    """Body of POST and PUT. Unknown fields (id, createdAt, ...) are rejected."""

    model_config = ConfigDict(extra="forbid")

    name: Name = Field(
        description="1 to 100 characters after trimming",
        examples=["Ada Lovelace"],
        json_schema_extra={"pattern": NOT_BLANK_PATTERN},
    )
    email: Email = Field(
        description=f"unique per backend, stored lower-cased; at most {MAX_EMAIL_LENGTH}"
        " characters",
        json_schema_extra={"maxLength": MAX_EMAIL_LENGTH},
    )


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
