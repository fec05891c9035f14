"""The customers HTTP routes, written once and mounted by each backend's function.

A function includes this router under its prefix (`/dynamodb`, `/rds`) and supplies the
repository and the page-token codec; nothing here knows which store is behind them.
"""

import warnings
from collections.abc import Callable
from typing import Annotated

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.metrics import MetricUnit

from customer_platform.customers import logic
from customer_platform.customers.models import ID_PATTERN, CustomerInput
from customer_platform.customers.repository import CustomerRepository
from customer_platform.http import NextToken
from customer_platform.pagination import PageTokenCodec

Limit = Annotated[
    int,
    Query(ge=1, le=logic.MAX_PAGE_SIZE, description="page size"),
]
CustomerId = Annotated[
    str,
    Path(
        description="customer id (a UUID the API issued)",
        json_schema_extra={"format": "uuid", "pattern": ID_PATTERN},
    ),
]

# Writes count as business metrics (one EMF line per invocation, flushed by the handler's
# `log_metrics`); reads are covered by API Gateway's own metrics, so an invocation without
# a metric is normal here and not worth a warning in every environment's log.
metrics = Metrics()
warnings.filterwarnings("ignore", "No application metrics to publish")


def _count(name: str, backend: str) -> None:
    metrics.add_dimension(name="backend", value=backend)
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


def customers_router(
    prefix: str,
    repository: Callable[[], CustomerRepository],
    tokens: Callable[[], PageTokenCodec],
) -> Router:
    """Routes for `{prefix}/customers`; `repository` and `tokens` are called per request."""
    backend = prefix.strip("/")
    router = Router()  # type: ignore[no-untyped-call]  # Powertools leaves __init__ unannotated

    @router.post("/customers", status_code=201)
    def create(customer: CustomerInput) -> Response[dict[str, str]]:
        created = logic.create_customer(repository(), customer)
        _count("CustomersCreated", backend)
        return Response(
            status_code=201,
            content_type=content_types.APPLICATION_JSON,
            body=created.to_api(),
            headers={"Location": f"{prefix}/customers/{created.id}"},
        )

    @router.get("/customers")
    def list_(
        limit: Limit = logic.DEFAULT_PAGE_SIZE, next_token: NextToken = None
    ) -> dict[str, object]:
        page = logic.list_customers(repository(), tokens(), limit, next_token)
        return page.model_dump(mode="json", by_alias=True)

    @router.get("/customers/<customer_id>")
    def get(customer_id: CustomerId) -> dict[str, str]:
        return logic.get_customer(repository(), customer_id).to_api()

    @router.put("/customers/<customer_id>")
    def update(customer_id: CustomerId, customer: CustomerInput) -> dict[str, str]:
        updated = logic.update_customer(repository(), customer_id, customer)
        _count("CustomersUpdated", backend)
        return updated.to_api()

    @router.delete("/customers/<customer_id>")
    def delete(customer_id: CustomerId) -> Response[None]:
        logic.delete_customer(repository(), customer_id)
        _count("CustomersDeleted", backend)
        return Response(status_code=204, body=None)

    return router
