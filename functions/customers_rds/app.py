"""Customers API on RDS MySQL: `/rds/customers`.

Lambda-specific wiring only: observability, the resolver, and which repository backs the
shared customers routes. Rules live in `customer_platform.customers.logic`, storage in
`customer_platform.customers.mysql`, the connection in `customer_platform.database`.
"""

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from customer_platform.customers.mysql import MySQLCustomerRepository
from customer_platform.customers.routes import customers_router
from customer_platform.database import Database, secret_database
from customer_platform.http import JsonApiResolver, install_error_handlers
from customer_platform.pagination import PageTokenCodec, secret_keyed_codec
from customer_platform.settings import EnvSettings

PREFIX = "/rds"
# The database secret's cache age (5 minutes) is chosen and justified beside
# SECRET_MAX_AGE in customer_platform/database.py. The token key, as for /dynamodb, only
# changes when an operator rotates it.


class Settings(EnvSettings):
    database_secret_arn: str = Field(alias="DATABASE_SECRET_ARN")
    # The RDS Proxy's endpoint when the stack has one (EnableDatabaseProxy), else empty:
    # the same code, user and secret either way.
    database_proxy_endpoint: str = Field("", alias="DATABASE_PROXY_ENDPOINT")
    page_token_secret_arn: str = Field(alias="PAGE_TOKEN_SECRET_ARN")


settings = Settings.from_env()
logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = JsonApiResolver(enable_validation=True)
install_error_handlers(app, logger)


@cache
def database() -> Database:
    """This execution environment's connection, opened on first use and then reused."""
    return secret_database(settings.database_secret_arn, settings.database_proxy_endpoint)


@cache
def repository() -> MySQLCustomerRepository:
    return MySQLCustomerRepository(database())


@cache
def page_tokens() -> PageTokenCodec:
    return secret_keyed_codec("rds/customers", settings.page_token_secret_arn)


app.include_router(customers_router(PREFIX, repository, page_tokens), prefix=PREFIX)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
