"""The documents HTTP routes (`/documents`), mounted by the documents function.

The function supplies the metadata repository, the object storage, the page-token codec
and the upload policy; nothing here knows DynamoDB or S3.
"""

import warnings
from collections.abc import Callable
from typing import Annotated

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.metrics import MetricUnit

from customer_platform.customers.models import ID_PATTERN
from customer_platform.documents import logic
from customer_platform.documents.models import DocumentInput, UploadPolicy
from customer_platform.documents.repository import DocumentRepository, DocumentStorage
from customer_platform.http import NextToken
from customer_platform.pagination import PageTokenCodec

Limit = Annotated[int, Query(ge=1, le=logic.MAX_PAGE_SIZE, description="page size")]
DocumentId = Annotated[
    str,
    Path(
        description="document id (a UUID the API issued)",
        json_schema_extra={"format": "uuid", "pattern": ID_PATTERN},
    ),
]

# Upload slots and deletes count as business metrics; reads are covered by API Gateway's.
metrics = Metrics()
warnings.filterwarnings("ignore", "No application metrics to publish")


def _count(name: str) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


def documents_router(
    repository: Callable[[], DocumentRepository],
    storage: Callable[[], DocumentStorage],
    tokens: Callable[[], PageTokenCodec],
    policy: UploadPolicy,
) -> Router:
    """Routes for `/documents`; the callables are called per request."""
    router = Router()  # type: ignore[no-untyped-call]  # Powertools leaves __init__ unannotated

    @router.post("/documents", status_code=201)
    def create(document: DocumentInput) -> Response[dict[str, object]]:
        slot = logic.create_document(repository(), storage(), policy, document)
        _count("DocumentUploadsOffered")
        return Response(
            status_code=201,
            content_type=content_types.APPLICATION_JSON,
            body=slot.to_api(),
            headers={"Location": f"/documents/{slot.id}"},
        )

    @router.get("/documents")
    def list_(
        limit: Limit = logic.DEFAULT_PAGE_SIZE, next_token: NextToken = None
    ) -> dict[str, object]:
        return logic.list_documents(repository(), tokens(), limit, next_token).to_api()

    @router.get("/documents/<document_id>")
    def get(document_id: DocumentId) -> dict[str, object]:
        return logic.get_document(repository(), storage(), policy, document_id).to_api()

    @router.delete("/documents/<document_id>")
    def delete(document_id: DocumentId) -> Response[None]:
        logic.delete_document(repository(), storage(), policy, document_id)
        _count("DocumentsDeleted")
        return Response(status_code=204, body=None)

    return router
