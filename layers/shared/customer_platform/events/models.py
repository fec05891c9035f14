"""The customer event as it travels on the topic (versioned JSON, camelCase)."""

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from customer_platform.customers.models import Timestamp

EventType = Literal["CustomerCreated", "CustomerUpdated", "CustomerDeleted"]
Backend = Literal["dynamodb", "rds", "aurora", "django"]
SCHEMA_VERSION: Literal[1] = 1


class CustomerData(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    id: str
    name: str
    email: str
    created_at: Timestamp
    updated_at: Timestamp


class CustomerEvent(BaseModel):
    """What subscribers receive. `eventId` is stable across redeliveries: dedupe on it."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    version: Literal[1] = SCHEMA_VERSION
    event_type: EventType
    event_id: str
    occurred_at: Timestamp
    customer_id: str
    backend: Backend
    customer: CustomerData

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True)


def deterministic_event_id(source: str) -> str:
    """A UUID derived from a source-unique string (a stream record id, an outbox row id)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"customer-platform:{source}"))


def at_least(moment: datetime, floor: datetime) -> datetime:
    return moment if moment >= floor else floor
