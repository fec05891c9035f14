"""GET /{backend}/customers/{id}/events: the audit trail of one customer, oldest first."""

from collections.abc import Callable
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from customer_platform.customers.models import ID_PATTERN
from customer_platform.events.audit import AuditTrail

BackendName = Annotated[
    Literal["dynamodb", "rds", "aurora", "django"], Path(description="storage backend")
]
CustomerId = Annotated[
    str,
    Path(
        description="customer id (a UUID the API issued)",
        json_schema_extra={"format": "uuid", "pattern": ID_PATTERN},
    ),
]


def audit_router(trail: Callable[[], AuditTrail]) -> Router:
    router = Router()  # type: ignore[no-untyped-call]  # Powertools leaves __init__ unannotated

    @router.get("/<backend>/customers/<customer_id>/events")
    def events(backend: BackendName, customer_id: CustomerId) -> dict[str, object]:
        entries = trail().events_of(backend, customer_id)
        return {"items": [entry.model_dump(by_alias=True) for entry in entries]}

    return router
