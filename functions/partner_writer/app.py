"""Partner rows from the ingest queue -> MySQL, inside the VPC, one transaction per message.

The queue's mapping runs at most PartnerWriterConcurrency batches at once (ScalingConfig:
MaximumConcurrency; reserved concurrency, the same number, caps other invokers but would
not pace the mapping): the queue absorbs the burst, the database sees a steady trickle.
A message whose transaction fails is reported (partial batch response) and retried, then
dead-lettered; a row refused for its email is counted and logged, and its neighbours are
written.
"""

import logging
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from customer_platform.database import Database, secret_database
from customer_platform.event_sources import Source, accepts
from customer_platform.partners.models import IngestMessage
from customer_platform.partners.writing import upsert_rows
from customer_platform.settings import EnvSettings


class Settings(EnvSettings):
    database_secret_arn: str = Field(alias="DATABASE_SECRET_ARN")
    # The RDS Proxy's endpoint when the stack has one (EnableDatabaseProxy), else empty:
    # the same code, user and secret either way.
    database_proxy_endpoint: str = Field("", alias="DATABASE_PROXY_ENDPOINT")


settings = Settings.from_env()
logger = Logger()
tracer = Tracer()
metrics = Metrics()
# A failed record is logged (a WARNING with its exception), not only reported back.
processor = BatchProcessor(event_type=EventType.SQS, logger=logging.getLogger(logger.name))


@cache
def database() -> Database:
    return secret_database(settings.database_secret_arn, settings.database_proxy_endpoint)


def write(record: SQSRecord) -> None:
    message = IngestMessage.model_validate_json(record.body)
    now = datetime.now(UTC)
    result = database().run(lambda cursor: upsert_rows(cursor, message.rows, now))
    for name, value in (
        ("Inserted", result.inserted),
        ("Updated", result.updated),
        ("Unchanged", result.unchanged),
        ("Rejected", len(result.rejected)),
    ):
        metrics.add_metric(name=f"PartnerRows{name}", unit=MetricUnit.Count, value=value)
    logger.info(
        "partner rows written",
        extra={
            "runId": message.run_id,
            "inserted": result.inserted,
            "updated": result.updated,
            "unchanged": result.unchanged,
            "rejected": [{"partnerId": pid, "reason": why} for pid, why in result.rejected],
        },
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@accepts(Source.SQS)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=write, processor=processor, context=context
    )
