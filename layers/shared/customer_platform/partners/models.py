"""A partner's customer row, as validated before it is queued."""

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from customer_platform.customers.models import Email, Name


def _as_text(value: object) -> object:
    # Partners number their rows (JSONPlaceholder: 1, 2, ...) or use strings; keep text.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


PartnerId = Annotated[str, BeforeValidator(_as_text), Field(min_length=1, max_length=64)]


class PartnerCustomer(BaseModel):
    """The fields the sync uses; anything else the partner sends is ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: PartnerId
    name: Name
    email: Email


class IngestMessage(BaseModel):
    """One SQS message on the ingest queue: a slice of one run's valid rows."""

    run_id: str
    rows: list[PartnerCustomer]
