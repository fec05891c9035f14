"""Documents API: `/documents` (presigned S3 uploads and downloads, metadata in DynamoDB).

Lambda-specific wiring only: observability, the resolver, settings, and which repository
and storage back the shared documents routes. Rules live in
`customer_platform.documents.logic`, storage in `customer_platform.documents.dynamodb`
and `customer_platform.documents.s3`.
"""

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from customer_platform import aws
from customer_platform.documents.dynamodb import DynamoDBDocumentRepository
from customer_platform.documents.models import MaxUploadBytes, UploadPolicy, UrlExpirySeconds
from customer_platform.documents.routes import documents_router
from customer_platform.documents.s3 import S3DocumentStorage
from customer_platform.documents.signing import SessionSigner
from customer_platform.http import JsonApiResolver, install_error_handlers
from customer_platform.pagination import PageTokenCodec, secret_keyed_codec
from customer_platform.settings import EnvSettings


class Settings(EnvSettings):
    table_name: str = Field(alias="DOCUMENTS_TABLE_NAME")
    list_index: str = Field(alias="DOCUMENTS_LIST_INDEX_NAME")
    bucket_name: str = Field(alias="DOCUMENTS_BUCKET_NAME")
    # URLs are signed by this role's sessions, whose expiry is known (documents/signing.py).
    url_signer_role_arn: str = Field(alias="DOCUMENTS_URL_SIGNER_ROLE_ARN")
    page_token_secret_arn: str = Field(alias="PAGE_TOKEN_SECRET_ARN")
    # Refused at cold start above signing.MAX_URL_EXPIRY_SECONDS, naming the variable.
    url_expiry_seconds: UrlExpirySeconds = Field(alias="DOCUMENTS_URL_EXPIRY_SECONDS")
    max_upload_bytes: MaxUploadBytes = Field(alias="DOCUMENTS_MAX_UPLOAD_BYTES")


settings = Settings.from_env()
policy = UploadPolicy(
    url_expiry_seconds=settings.url_expiry_seconds, max_upload_bytes=settings.max_upload_bytes
)
logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = JsonApiResolver(enable_validation=True)
install_error_handlers(app, logger)


@cache
def repository() -> DynamoDBDocumentRepository:
    return DynamoDBDocumentRepository(aws.dynamodb(), settings.table_name, settings.list_index)


@cache
def storage() -> S3DocumentStorage:
    signer = SessionSigner(aws.sts(), settings.url_signer_role_arn, aws.s3_signing_as)
    return S3DocumentStorage(aws.s3(), settings.bucket_name, signer)


@cache
def page_tokens() -> PageTokenCodec:
    return secret_keyed_codec("documents", settings.page_token_secret_arn)


app.include_router(documents_router(repository, storage, page_tokens, policy))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
