"""Aurora migrations: the CloudFormation custom resource that brings the Aurora schema up to date.

Create and Update apply the pending migrations of `customer_platform.migrations` to the
Aurora cluster over the RDS Data API, as the cluster's master (its RDS-managed secret),
then create and grant the application's user from its own secret; Delete does nothing.
It runs outside the VPC: the Data API is an HTTPS endpoint. Invoked by hand without a
RequestType, it migrates and returns the versions it applied.
"""

import json
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from customer_platform import aws, custom_resource, secrets
from customer_platform.data_api import DataApi
from customer_platform.event_sources import Source, accepts
from customer_platform.migrations import data_api as migrations
from customer_platform.settings import EnvSettings

# The application's secret is read once per run, fresh.
SECRET_MAX_AGE = 60
# Right after a deploy creates the cluster, or on an update that finds it paused, the first
# calls may meet a resuming writer: retry for a minute (the custom resource may take 15).
RETRY_SECONDS = 60.0
# A DDL statement may run up to the Data API's 45 s (longer with continueAfterTimeout): wait
# for its answer a minute and more, as AWS advises (customer_platform.aws).
READ_TIMEOUT_S = 70.0


class Settings(EnvSettings):
    cluster_arn: str = Field(alias="AURORA_CLUSTER_ARN")
    database: str = Field(alias="AURORA_DATABASE_NAME")
    master_secret_arn: str = Field(alias="AURORA_MASTER_SECRET_ARN")
    app_secret_arn: str = Field(alias="AURORA_APP_SECRET_ARN")


settings = Settings.from_env()
logger = Logger()
tracer = Tracer()


@cache
def data_api() -> DataApi:
    """As the master: the schema's owner, the only function that uses its secret."""
    return DataApi(
        settings.cluster_arn,
        settings.master_secret_arn,
        settings.database,
        RETRY_SECONDS,
        client=lambda: aws.rds_data(read_timeout=READ_TIMEOUT_S),
    )


def migrate() -> dict[str, str]:
    applied = migrations.migrate(data_api())
    user = json.loads(
        secrets.get_secret(settings.app_secret_arn, max_age=SECRET_MAX_AGE, force_fetch=True)
    )
    migrations.ensure_application_user(data_api(), user["username"], user["password"])
    latest = migrations.applied_versions(data_api())
    logger.info("schema up to date", extra={"applied": applied, "version": latest[-1:]})
    return {"Applied": ",".join(applied) or "none", "Version": latest[-1] if latest else ""}


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@accepts(Source.CUSTOM_RESOURCE, Source.DIRECT)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "RequestType" not in event:
        return migrate()
    return custom_resource.handle(event, context, migrate, physical_id="aurora-schema")
