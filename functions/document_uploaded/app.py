"""S3 ObjectCreated notifications of the documents bucket: check each upload, then mark the
document uploaded, or purge an object of the wrong type or size (and log why), or undo a
second upload to a document already uploaded (an audit record and a metric).

S3 invokes this function asynchronously: an exception makes Lambda retry the event twice,
then park it in the dead-letter queue, so nothing here swallows errors. Every step is
idempotent, because S3 may deliver a notification more than once.
"""

from collections import Counter
from functools import cache
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import S3Event, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from customer_platform import aws
from customer_platform.documents import logic
from customer_platform.documents.dynamodb import DynamoDBDocumentRepository
from customer_platform.documents.models import MaxUploadBytes, UploadPolicy, UrlExpirySeconds
from customer_platform.documents.s3 import S3DocumentStorage
from customer_platform.event_sources import Source, accepts
from customer_platform.settings import EnvSettings

METRIC_OF_OUTCOME = {
    logic.Outcome.UPLOADED: "DocumentsUploaded",
    logic.Outcome.REJECTED: "DocumentUploadsRejected",
    logic.Outcome.ORPHAN: "DocumentOrphansRemoved",
    logic.Outcome.NOT_YET: "DocumentNotificationsForMissingObjects",
    logic.Outcome.REPLACEMENT: "DocumentReplacementsUndone",
}


class Settings(EnvSettings):
    table_name: str = Field(alias="DOCUMENTS_TABLE_NAME")
    list_index: str = Field(alias="DOCUMENTS_LIST_INDEX_NAME")
    bucket_name: str = Field(alias="DOCUMENTS_BUCKET_NAME")
    url_expiry_seconds: UrlExpirySeconds = Field(alias="DOCUMENTS_URL_EXPIRY_SECONDS")
    max_upload_bytes: MaxUploadBytes = Field(alias="DOCUMENTS_MAX_UPLOAD_BYTES")


settings = Settings.from_env()
policy = UploadPolicy(
    url_expiry_seconds=settings.url_expiry_seconds, max_upload_bytes=settings.max_upload_bytes
)
logger = Logger()
tracer = Tracer()
metrics = Metrics()


@cache
def repository() -> DynamoDBDocumentRepository:
    return DynamoDBDocumentRepository(aws.dynamodb(), settings.table_name, settings.list_index)


@cache
def storage() -> S3DocumentStorage:
    return S3DocumentStorage(aws.s3(), settings.bucket_name)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
@accepts(Source.S3)
@event_source(data_class=S3Event)
def lambda_handler(event: S3Event, context: LambdaContext) -> dict[str, Any]:
    outcomes: Counter[str] = Counter()
    for record in event.records:
        bucket = record.s3.bucket.name
        key = unquote_plus(record.s3.get_object.key)  # S3 URL-encodes keys in events
        if bucket != settings.bucket_name:
            logger.warning("notification from another bucket ignored", extra={"bucket": bucket})
            outcomes["ignored"] += 1
            continue
        check = logic.object_created(repository(), storage(), policy, key)
        logger.info(
            "upload checked",
            extra={"key": key, "outcome": check.outcome.value, "reason": check.reason},
        )
        metrics.add_metric(name=METRIC_OF_OUTCOME[check.outcome], unit=MetricUnit.Count, value=1)
        outcomes[check.outcome.value] += 1
    return dict(outcomes)
