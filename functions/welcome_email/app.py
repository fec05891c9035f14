"""Welcome email for every CustomerCreated event (the queue's filter admits nothing else).

Sending an email cannot be made conditional, so Powertools Idempotency guards it: the
first delivery of an eventId claims it in the idempotency table, a repeat gets the stored
result back without sending again. With no sender configured the notification is only
recorded, as a dry run, and the log says so.
"""

import logging
from collections.abc import Callable
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
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from customer_platform import aws
from customer_platform.event_sources import Source, accepts
from customer_platform.events.models import CustomerEvent
from customer_platform.events.welcome import IDEMPOTENCY_TTL_SECONDS, welcome
from customer_platform.settings import EnvSettings


class Settings(EnvSettings):
    sender: str = Field(alias="WELCOME_SENDER_EMAIL", default="")
    notifications_table: str = Field(alias="NOTIFICATIONS_TABLE_NAME")
    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE_NAME")


settings = Settings.from_env()
logger = Logger()
tracer = Tracer()
metrics = Metrics()
# A failed record is logged (a WARNING with its exception), not only reported back.
processor = BatchProcessor(event_type=EventType.SQS, logger=logging.getLogger(logger.name))
# A repeat delivery, or a redrive from the DLQ, returns the first result (see the TTL).
idempotency = IdempotencyConfig(
    event_key_jmespath="eventId", expires_after_seconds=IDEMPOTENCY_TTL_SECONDS
)


def _send(event: dict[str, Any]) -> dict[str, Any]:
    customer_event = CustomerEvent.model_validate(event)
    notification = welcome(
        customer_event,
        settings.sender,
        aws.sesv2() if settings.sender else None,
        aws.dynamodb(),
        settings.notifications_table,
    )
    return notification.model_dump()


@cache
def send_once() -> Callable[..., dict[str, Any]]:
    """The idempotent sender, built on first use so its DynamoDB client is created lazily."""
    persistence = DynamoDBPersistenceLayer(
        table_name=settings.idempotency_table, boto3_client=aws.dynamodb()
    )
    guarded: Callable[..., dict[str, Any]] = idempotent_function(
        data_keyword_argument="event", config=idempotency, persistence_store=persistence
    )(_send)
    return guarded


def handle(record: SQSRecord) -> None:
    event = CustomerEvent.model_validate_json(record.body)
    if event.event_type != "CustomerCreated":
        logger.warning("not a creation; ignored", extra={"eventType": event.event_type})
        return
    result = send_once()(event=event.model_dump(mode="json", by_alias=True))
    if result["mode"] == "dry-run":
        logger.info(
            "dry run: no WelcomeSenderEmail configured, welcome email recorded but not sent",
            extra={"eventId": event.event_id, "customerId": event.customer_id},
        )
    else:
        logger.info("welcome email sent", extra={"eventId": event.event_id})
    metrics.add_metric(name="WelcomeEmails", unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@accepts(Source.SQS)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    idempotency.register_lambda_context(context)
    return process_partial_response(
        event=event, record_handler=handle, processor=processor, context=context
    )
