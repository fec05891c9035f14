"""Relays the MySQL outbox of customer events to the SNS topic, every minute, in the VPC.

It reaches MySQL over the security group and SNS over the VPC's SNS interface endpoint:
no NAT gateway. A run publishes batches until the outbox is empty or the function's time
is nearly up; anything left, or anything SNS refused, waits for the next run.
"""

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from customer_platform import aws
from customer_platform.database import Database, secret_database
from customer_platform.event_sources import Source, accepts
from customer_platform.events.outbox import drain, relay
from customer_platform.settings import EnvSettings


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
@accepts(Source.SCHEDULE, Source.DIRECT)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    result = drain(
        lambda: relay(database(), aws.sns(), settings.topic_arn),
        context.get_remaining_time_in_millis,
    )
    return {"published": result.published, "failed": result.failed}
