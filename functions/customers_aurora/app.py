"""Customers API on Aurora Serverless v2 through the RDS Data API: `/aurora/customers`.

Lambda-specific wiring only, as for /rds: the same routes and rules, a Data API repository
(`customer_platform.customers.data_api`) instead of the pymysql one. No VPC, no connection:
each statement is an HTTPS call. Without a cluster (EnableAuroraBackend=false) every route
answers 404.
"""

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from customer_platform import aws
from customer_platform.customers.data_api import DataApiCustomerRepository
from customer_platform.customers.routes import customers_router
from customer_platform.data_api import DataApi
from customer_platform.errors import NotFound
from customer_platform.events.data_api_outbox import EagerPublisher
from customer_platform.http import JsonApiResolver, install_error_handlers
from customer_platform.pagination import PageTokenCodec, secret_keyed_codec
from customer_platform.settings import EnvSettings

PREFIX = "/aurora"


class Settings(EnvSettings):
    # Empty when the stack has no Aurora cluster (EnableAuroraBackend=false).
    cluster_arn: str = Field(alias="AURORA_CLUSTER_ARN")
    secret_arn: str = Field(alias="AURORA_SECRET_ARN")
    database: str = Field(alias="AURORA_DATABASE_NAME")
    # How long a request keeps retrying a database that is not ready (a paused cluster
    # resumes in up to about 15 s); within the function's timeout (template.yaml).
    retry_seconds: float = Field(alias="DATA_API_RETRY_SECONDS", gt=0)
    page_token_secret_arn: str = Field(alias="PAGE_TOKEN_SECRET_ARN")
    topic_arn: str = Field(alias="CUSTOMER_EVENTS_TOPIC_ARN")


settings = Settings.from_env()
logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = JsonApiResolver(enable_validation=True)
install_error_handlers(app, logger)


@cache
def data_api() -> DataApi:
    return DataApi(
        settings.cluster_arn, settings.secret_arn, settings.database, settings.retry_seconds
    )


@cache
def repository() -> DataApiCustomerRepository:
    if not settings.cluster_arn:
        logger.warning("no Aurora cluster in this stack: EnableAuroraBackend=false")
        raise NotFound("this stack serves no Aurora backend")
    publisher = EagerPublisher(data_api(), aws.sns, settings.topic_arn)
    return DataApiCustomerRepository(data_api(), on_committed=publisher)


@cache
def page_tokens() -> PageTokenCodec:
    return secret_keyed_codec("aurora/customers", settings.page_token_secret_arn)


app.include_router(customers_router(PREFIX, repository, page_tokens), prefix=PREFIX)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
