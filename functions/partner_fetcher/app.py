"""Scheduled partner fetch, outside the VPC: feed URL from SSM, rows to the ingest queue.

Running outside the VPC is what lets it reach the internet without a NAT gateway; the
writer, inside the VPC next to the database, takes the rows from the queue.
"""

import uuid
from dataclasses import asdict
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parameters import SSMProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from customer_platform import aws
from customer_platform.event_sources import Source, accepts
from customer_platform.partners.fetch import FetchError, http_pool
from customer_platform.partners.fetching import fetch_and_queue
from customer_platform.settings import EnvSettings

# The URL changes when an operator edits the parameter; five minutes of caching means a
# run every day never reads a stale value for long, and a burst of manual runs costs one
# SSM call.
URL_MAX_AGE = 300


class Settings(EnvSettings):
    url_parameter: str = Field(alias="PARTNER_URL_PARAMETER")
    ingest_queue_url: str = Field(alias="INGEST_QUEUE_URL")


settings = Settings.from_env()
logger = Logger()
tracer = Tracer()
metrics = Metrics()


@cache
def ssm() -> SSMProvider:
    return SSMProvider(boto3_client=aws.ssm())


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@accepts(Source.SCHEDULE, Source.DIRECT)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    run_id = str(event.get("id") or uuid.uuid4())  # the scheduler's invocation id, if any
    # A failed run raises: the scheduler invoked asynchronously, so Lambda retries it and
    # then sends it to the function's on-failure destination (template: EventInvokeConfig).
    try:
        url = str(ssm().get(settings.url_parameter, max_age=URL_MAX_AGE))
    except GetParameterError:
        metrics.add_metric(name="PartnerConfigReadFailed", unit=MetricUnit.Count, value=1)
        logger.exception(
            "cannot read the partner feed URL: nothing was fetched", extra={"runId": run_id}
        )
        raise
    try:
        summary = fetch_and_queue(url, run_id, aws.sqs(), settings.ingest_queue_url, http_pool())
    except FetchError:
        metrics.add_metric(name="PartnerFetchFailed", unit=MetricUnit.Count, value=1)
        logger.exception("partner fetch failed: nothing was queued", extra={"runId": run_id})
        raise
    for name, value in (
        ("fetched", summary.fetched),
        ("valid", summary.valid),
        ("rejected", summary.rejected),
    ):
        metrics.add_metric(
            name=f"PartnerRows{name.capitalize()}", unit=MetricUnit.Count, value=value
        )
    logger.info("partner fetch summary", extra=asdict(summary))
    return asdict(summary)
