"""Sweeps the Aurora outbox of customer events to the SNS topic, over the RDS Data API.

Each write publishes its own events right after COMMIT (events/data_api_outbox.py); this
scheduled run publishes whatever was left behind. It runs outside the VPC, reaching the
Data API and SNS at their public endpoints, and rarely (AuroraOutboxSweepSchedule): a run
that finds the cluster paused resumes it, retrying through the resume.
"""

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from customer_platform import aws
from customer_platform.data_api import DataApi
from customer_platform.event_sources import Source, accepts
from customer_platform.events.data_api_outbox import relay
from customer_platform.events.outbox import drain
from customer_platform.settings import EnvSettings


class Settings(EnvSettings):
    cluster_arn: str = Field(alias="AURORA_CLUSTER_ARN")
    secret_arn: str = Field(alias="AURORA_SECRET_ARN")
    database: str = Field(alias="AURORA_DATABASE_NAME")
    retry_seconds: float = Field(alias="DATA_API_RETRY_SECONDS", gt=0)
    topic_arn: str = Field(alias="CUSTOMER_EVENTS_TOPIC_ARN")


settings = Settings.from_env()
logger = Logger()
tracer = Tracer()
metrics = Metrics()


@cache
def data_api() -> DataApi:
    return DataApi(
        settings.cluster_arn, settings.secret_arn, settings.database, settings.retry_seconds
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@accepts(Source.SCHEDULE, Source.DIRECT)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    result = drain(
        lambda: relay(data_api(), aws.sns(), settings.topic_arn),
        context.get_remaining_time_in_millis,
    )
    return {"published": result.published, "failed": result.failed}
