"""DynamoDB stream of the customers table -> one event per change on the SNS topic.

Batch item failures: a record that fails to publish is reported, and Lambda retries the
batch from that record (bisecting on error); after the retries the batch's coordinates
go to the failure destination, and `make replay` (tools/stream_replay.py) invokes this
function again with the records read back from the stream, within its 24 hours. Nothing
is acknowledged that was not published.
"""

import logging
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from customer_platform import aws
from customer_platform.event_sources import Source, accepts
from customer_platform.events.publishing import publish
from customer_platform.events.stream import event_from_record, is_customer_record
from customer_platform.settings import EnvSettings


class Settings(EnvSettings):
    topic_arn: str = Field(alias="CUSTOMER_EVENTS_TOPIC_ARN")


settings = Settings.from_env()
logger = Logger()
tracer = Tracer()
metrics = Metrics()
# A failed record is logged (a WARNING with its exception), not only reported back.
processor = BatchProcessor(
    event_type=EventType.DynamoDBStreams, logger=logging.getLogger(logger.name)
)


def publish_record(record: DynamoDBRecord) -> None:
    if not is_customer_record(record.raw_event):
        return  # email-guard items (the event source filter drops them in AWS)
    event = event_from_record(record.raw_event)
    message_id = publish(aws.sns(), settings.topic_arn, event)
    metrics.add_metric(name="CustomerEventsPublished", unit=MetricUnit.Count, value=1)
    logger.info(
        "published",
        extra={"eventType": event.event_type, "eventId": event.event_id, "messageId": message_id},
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@accepts(Source.DYNAMODB_STREAM)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=publish_record, processor=processor, context=context
    )
