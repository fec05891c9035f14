"""Secrets Manager reads through Powertools parameters, cached per execution environment."""

from functools import cache

from aws_lambda_powertools.utilities.parameters import SecretsProvider

from customer_platform import aws


@cache
def provider() -> SecretsProvider:
    # One provider per environment: its in-memory cache is what makes warm invocations free.
    return SecretsProvider(boto3_client=aws.secretsmanager())


def get_secret(secret_id: str, *, max_age: int, force_fetch: bool = False) -> str:
    """The secret's string value, from cache when younger than `max_age` seconds."""
    value = provider().get(secret_id, max_age=max_age, force_fetch=force_fetch)
    if not isinstance(value, str):
        raise TypeError("expected a SecretString")  # binary secrets are not used by this stack
    return value


def reset() -> None:
    provider.cache_clear()
