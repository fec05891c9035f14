"""Customers API on DynamoDB: `/dynamodb/customers`.

Lambda-specific wiring only: observability, the resolver, and which repository backs the
shared customers routes. Rules live in `customer_platform.customers.logic`, storage in
`customer_platform.customers.dynamodb`.
"""

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from customer_platform import aws
from customer_platform.customers.dynamodb import DynamoDBCustomerRepository
from customer_platform.customers.routes import customers_router
from customer_platform.http import JsonApiResolver, install_error_handlers
from customer_platform.pagination import PageTokenCodec, secret_keyed_codec
from customer_platform.settings import EnvSettings

PREFIX = "/dynamodb"


class Settings(EnvSettings):
    table_name: str = Field(alias="CUSTOMERS_TABLE_NAME")
    list_index: str = Field(alias="CUSTOMERS_LIST_INDEX_NAME")
    page_token_secret_arn: str = Field(alias="PAGE_TOKEN_SECRET_ARN")


settings = Settings.from_env()
logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = JsonApiResolver(enable_validation=True)
install_error_handlers(app, logger)


@cache
def repository() -> DynamoDBCustomerRepository:
    return DynamoDBCustomerRepository(aws.dynamodb(), settings.table_name, settings.list_index)


@cache
def page_tokens() -> PageTokenCodec:
    return secret_keyed_codec("dynamodb/customers", settings.page_token_secret_arn)


app.include_router(customers_router(PREFIX, repository, page_tokens), prefix=PREFIX)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
