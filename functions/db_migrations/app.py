"""Database migrations: the CloudFormation custom resource that brings the schema up to date.

Create and Update apply the pending migrations of `customer_platform.migrations` (the same
entry point the local stack and the tests call), then create and grant the application's
database user (`migrations.application_user`); Delete does nothing. It connects as the
master user, the only function that does. The template passes
the shared layer's version as a property, so every deploy that ships new migration files
sends an Update. Invoked by hand without a RequestType (`aws lambda invoke`), it migrates
and returns the versions it applied.
"""

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from customer_platform import custom_resource, migrations, secrets
from customer_platform.database import Credentials, Database, Timeouts, secret_credentials
from customer_platform.event_sources import Source, accepts
from customer_platform.migrations import application_user
from customer_platform.settings import EnvSettings

# Migrations run once per deploy, so the secret is read fresh each time (the cache only
# spans the retry inside one run).
DATABASE_SECRET_MAX_AGE = 60
# DDL can take a while on a big table; the function's timeout (template) leaves room for
# the lock wait plus this read timeout, so CloudFormation always gets an answer.
MIGRATION_TIMEOUTS = Timeouts(connect=5, read=600, write=60)


class Settings(EnvSettings):
    database_secret_arn: str = Field(alias="DATABASE_SECRET_ARN")
    # Empty with an existing database: the functions use its secret as given.
    application_secret_arn: str = Field(alias="APPLICATION_DATABASE_SECRET_ARN")


settings = Settings.from_env()
logger = Logger()
tracer = Tracer()


@cache
def database() -> Database:
    credentials = secret_credentials(settings.database_secret_arn, max_age=DATABASE_SECRET_MAX_AGE)
    return Database(credentials, MIGRATION_TIMEOUTS)


def migrate() -> dict[str, str]:
    applied = migrations.migrate(database())
    if settings.application_secret_arn:
        secret = secrets.get_secret(
            settings.application_secret_arn, max_age=DATABASE_SECRET_MAX_AGE, force_fetch=True
        )
        application_user.ensure(database(), Credentials.from_secret(secret))
    latest = migrations.applied_versions(database())
    logger.info("schema up to date", extra={"applied": applied, "version": latest[-1:]})
    return {"Applied": ",".join(applied) or "none", "Version": latest[-1] if latest else ""}


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@accepts(Source.CUSTOM_RESOURCE, Source.DIRECT)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "RequestType" not in event:
        return migrate()
    return custom_resource.handle(event, context, migrate, physical_id="database-schema")
