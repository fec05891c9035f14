"""Relays the MySQL outbox of customer events to the SNS topic, every minute, in the VPC.

It reaches MySQL over the security group and SNS over the VPC's SNS interface endpoint:
no NAT gateway. A run publishes batches until the outbox is empty or the function's time
is nearly up; anything left, or anything SNS refused, waits for the next run.
"""

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from customer_platform import aws
from customer_platform.database import Database, secret_database
from customer_platform.events.outbox import RELAY_BATCH, relay
from customer_platform.settings import EnvSettings

TIME_RESERVE_MS = 5000  # stop starting batches this close to the timeout


class Settings(EnvSettings):
    database_secret_arn: str = Field(alias="DATABASE_SECRET_ARN")
    topic_arn: str = Field(alias="CUSTOMER_EVENTS_TOPIC_ARN")


settings = Settings.from_env()
logger = Logger()
tracer = Tracer()
metrics = Metrics()


@cache
def database() -> Database:
    return secret_database(settings.database_secret_arn)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    published = failed = 0
    while context.get_remaining_time_in_millis() > TIME_RESERVE_MS:
        result = relay(database(), aws.sns(), settings.topic_arn)
        published += result.published
        failed += result.failed
        if result.failed or result.published < RELAY_BATCH:
            break  # drained, or SNS is refusing: the next run tries again
    metrics.add_metric(name="OutboxEventsPublished", unit=MetricUnit.Count, value=published)
    if failed:
        metrics.add_metric(name="OutboxPublishFailures", unit=MetricUnit.Count, value=failed)
        logger.warning(
            "some events were not published; they stay in the outbox", extra={"failed": failed}
        )
    logger.info("outbox relayed", extra={"published": published})
    return {"published": published, "failed": failed}
