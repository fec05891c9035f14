"""boto3 clients, created once per execution environment on first use.

Nothing here runs at import time, so a cold start pays only for the clients a request
actually needs, and tests (moto) get clients created inside their mocked context when
they call `reset_clients()` first.
"""

from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_rds_data import RDSDataServiceClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sesv2 import SESV2Client
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient
    from mypy_boto3_sts import STSClient

# Fail fast rather than hold a Lambda (and its API Gateway caller, capped at 29 s) hostage:
# short connect timeout, bounded read timeout, botocore's standard retry mode with jitter.
CLIENT_CONFIG = Config(
    connect_timeout=2,
    read_timeout=5,
    retries={"mode": "standard", "max_attempts": 3},
)


@cache
def dynamodb() -> "DynamoDBClient":
    return boto3.client("dynamodb", config=CLIENT_CONFIG)


# The RDS Data API (customer_platform.data_api), with the standard retry mode, which retries
# what it knows as transient: throttling codes, HTTP 500/502/503/504
# (InternalServerErrorException, ServiceUnavailableError, DatabaseUnavailableException) and
# connection errors. It does not retry DatabaseResumingException, StatementTimeoutException
# or an unknown transaction (HTTP 400/404, not modeled as retryable): data_api does, per
# transaction rather than per call.
# The read timeout: the Data API cancels a statement after 45 s, and AWS advises an SDK
# timeout of at least a minute, so that a client never gives up on a statement that then
# completes (Aurora User Guide, "Controlling Data API timeout behavior"). The migrations do
# that. An API function cannot wait so long (API Gateway answers 504 after 29 s): it reads
# with 10 s, far above a point query, and data_api's retries stay correct for a statement
# that completed after all (a COMMIT is settled by looking for the change's outbox event).
DATA_API_READ_TIMEOUT_S = 10.0


@cache
def rds_data(read_timeout: float = DATA_API_READ_TIMEOUT_S) -> "RDSDataServiceClient":
    return boto3.client("rds-data", config=CLIENT_CONFIG.merge(Config(read_timeout=read_timeout)))


@cache
def secretsmanager() -> "SecretsManagerClient":
    return boto3.client("secretsmanager", config=CLIENT_CONFIG)


@cache
def sns() -> "SNSClient":
    return boto3.client("sns", config=CLIENT_CONFIG)


@cache
def sesv2() -> "SESV2Client":
    return boto3.client("sesv2", config=CLIENT_CONFIG)


@cache
def sqs() -> "SQSClient":
    return boto3.client("sqs", config=CLIENT_CONFIG)


@cache
def ssm() -> "SSMClient":
    return boto3.client("ssm", config=CLIENT_CONFIG)


# Presigned URLs: SigV4 always (S3 refuses SigV2 for SSE-KMS objects, and botocore can
# still pick SigV2 for us-east-1), on the bucket's regional virtual-hosted endpoint
# https://<bucket>.s3.<region>.amazonaws.com, never the legacy global s3.amazonaws.com
# (which redirects requests for a new bucket until its DNS settles). botocore uses path
# style by itself for an IP endpoint such as a local moto server.
S3_CONFIG = CLIENT_CONFIG.merge(
    Config(
        signature_version="s3v4",
        s3={"addressing_style": "virtual", "us_east_1_regional_endpoint": "regional"},
    )
)


@cache
def s3() -> "S3Client":
    return boto3.client("s3", config=S3_CONFIG)


def s3_signing_as(credentials: dict[str, Any]) -> "S3Client":
    """An S3 client (S3_CONFIG) with a role session's credentials (AssumeRole's
    `Credentials`), for presigning URLs with them."""
    return boto3.client(
        "s3",
        config=S3_CONFIG,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


@cache
def sts() -> "STSClient":
    # regional endpoint (the default of the runtime's botocore), with the same timeouts
    return boto3.client("sts", config=CLIENT_CONFIG)


def reset_clients() -> None:
    """Forget every cached client (tests switch endpoints and credentials between runs)."""
    dynamodb.cache_clear()
    rds_data.cache_clear()
    secretsmanager.cache_clear()
    sns.cache_clear()
    sesv2.cache_clear()
    sqs.cache_clear()
    ssm.cache_clear()
    s3.cache_clear()
    sts.cache_clear()
