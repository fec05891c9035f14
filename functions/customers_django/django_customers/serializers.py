"""Request validation with DRF serializers, by the contract's rules.

The rules of a customer (a name of 1 to 100 characters after trimming, a valid email of at
most 254 characters, lower-cased) are written once, as the types of
customer_platform.customers.models, and every backend applies those same types. Here each
serializer field applies one (`ContractField`), and DRF does what it is good at around
them: required fields, null, unknown fields, and every error of a body collected at once.

Why not DRF's own CharField and EmailField: they disagree with the contract, each in a way
a client would notice (tests/property/test_django_serializers.py finds them when the
fields are swapped back):

* CharField turns 42 into "42" (the contract: a name is a string, 422), refuses a NUL
  character, and trims with `str.strip()`, which also removes the ASCII separators
  U+001C-U+001F that the contract's trimming keeps;
* EmailField is Django's EmailValidator, not email-validator: it accepts `a@localhost`
  and quoted local parts (`"ab"@example.com`), which the other backends refuse, and it
  neither lower-cases nor accepts `Ada <ada@example.com>`.
"""

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field, TypeAdapter, ValidationError
from rest_framework import serializers

from customer_platform.customers import logic
from customer_platform.customers.models import CustomerInput, Email, Name

NAME: TypeAdapter[str] = TypeAdapter(Name)
EMAIL: TypeAdapter[str] = TypeAdapter(Email)
LIMIT: TypeAdapter[int] = TypeAdapter(
    Annotated[int, Field(ge=1, le=logic.MAX_PAGE_SIZE)]  # customers/routes.py's Limit
)
TEXT: TypeAdapter[str] = TypeAdapter(str)


class ContractField(serializers.Field):  # type: ignore[type-arg]
    """A serializer field that validates and normalises with one of the contract's types."""

    def __init__(self, adapter: TypeAdapter[Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.adapter = adapter

    def to_internal_value(self, data: Any) -> Any:
        try:
            return self.adapter.validate_python(data)
        except ValidationError as error:
            # Only what failed, never the client's input (pydantic's `input`).
            raise serializers.ValidationError(
                [str(problem["msg"]) for problem in error.errors()]
            ) from None

    def to_representation(self, value: Any) -> Any:
        return value


class CustomerInputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """Body of POST and PUT: exactly `name` and `email`."""

    name = ContractField(NAME)
    email = ContractField(EMAIL)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        # DRF ignores unknown fields; the contract refuses them, so a client cannot set
        # `id`, `createdAt` or anything else the server owns.
        unknown = {
            str(name): ["unknown field"]
            for name in (data if isinstance(data, Mapping) else ())
            if name not in self.fields
        }
        try:
            validated: dict[str, Any] = super().to_internal_value(data)
        except serializers.ValidationError as error:
            raise serializers.ValidationError({**unknown, **error.detail}) from None  # type: ignore[dict-item]
        if unknown:
            raise serializers.ValidationError(unknown)
        return validated

    def customer_input(self) -> CustomerInput:
        """The validated body as the customer rules take it (already valid: not re-checked)."""
        return CustomerInput.model_construct(**self.validated_data)


class ListQuerySerializer(serializers.Serializer):  # type: ignore[type-arg]
    """Query of GET /django/customers: `limit` and `nextToken`; other parameters are ignored."""

    limit = ContractField(LIMIT, required=False, default=logic.DEFAULT_PAGE_SIZE)
    # Any text: the token codec decides whether it is one this API issued (400 if not).
    nextToken = ContractField(TEXT, required=False, default=None)
