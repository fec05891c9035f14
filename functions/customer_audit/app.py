"""The audit service: consumes every customer event and serves each customer's trail.

Two entry points in one function, because the audit table is this service's alone:
SQS batches from the audit queue (partial batch responses; idempotent on eventId by a
conditional write), and GET /{backend}/customers/{id}/events through API Gateway.

The API's resolver is built on the first API Gateway event, not at import: Powertools'
event handler, the error handlers and what they import (about 60 modules, 5% of this
function's import cost) are never needed by an execution environment that only consumes
SQS batches, as most of them do.
"""

import logging
from functools import cache
from typing import TYPE_CHECKING, Any

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

from customer_platform import aws
from customer_platform.event_sources import Source, accepts
from customer_platform.events.audit import AuditTrail
from customer_platform.events.models import CustomerEvent
from customer_platform.settings import EnvSettings

if TYPE_CHECKING:
    from customer_platform.http import JsonApiResolver


class Settings(EnvSettings):
    audit_table: str = Field(alias="AUDIT_TABLE_NAME")


settings = Settings.from_env()
logger = Logger()
tracer = Tracer()
metrics = Metrics()
# A failed record is logged (a WARNING with its exception), not only reported back.
processor = BatchProcessor(event_type=EventType.SQS, logger=logging.getLogger(logger.name))


@cache
def trail() -> AuditTrail:
    return AuditTrail(aws.dynamodb(), settings.audit_table)


@cache
def api() -> "JsonApiResolver":
    """The resolver of GET /{backend}/customers/{id}/events, built on first use."""
    from customer_platform.events.routes import audit_router  # noqa: PLC0415
    from customer_platform.http import JsonApiResolver, install_error_handlers  # noqa: PLC0415

    resolver = JsonApiResolver(enable_validation=True)
    install_error_handlers(resolver, logger)
    resolver.include_router(audit_router(trail))
    return resolver


def record_event(record: SQSRecord) -> None:
    event = CustomerEvent.model_validate_json(record.body)  # invalid: retried, then DLQ
    stored = trail().record(event)
    metrics.add_metric(
        name="AuditEventsStored" if stored else "AuditDuplicatesIgnored",
        unit=MetricUnit.Count,
        value=1,
    )
    logger.info(
        "audited" if stored else "duplicate ignored",
        extra={"eventType": event.event_type, "eventId": event.event_id},
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@accepts(Source.SQS, Source.API_GATEWAY)
def lambda_handler(
    event: dict[str, Any], context: LambdaContext
) -> PartialItemFailureResponse | dict[str, Any]:
    if "Records" in event:
        return process_partial_response(
            event=event, record_handler=record_event, processor=processor, context=context
        )
    return api().resolve(event, context)
