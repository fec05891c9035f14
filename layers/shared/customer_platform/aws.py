"""boto3 clients, created once per execution environment on first use.

Nothing here runs at import time, so a cold start pays only for the clients a request
actually needs, and tests (moto) get clients created inside their mocked context when
they call `reset_clients()` first.
"""

from functools import cache
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_secretsmanager import SecretsManagerClient

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


@cache
def secretsmanager() -> "SecretsManagerClient":
    return boto3.client("secretsmanager", config=CLIENT_CONFIG)


def reset_clients() -> None:
    """Forget every cached client (tests switch endpoints and credentials between runs)."""
    dynamodb.cache_clear()
    secretsmanager.cache_clear()
