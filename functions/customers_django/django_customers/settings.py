"""Django settings for one Lambda execution environment.

Where Django's defaults disagree with the HTTP contract (../shared/API.md), the contract
wins, and each setting below says which default it overrides:

* no middleware: CommonMiddleware's APPEND_SLASH would answer `/django/customers/x/` with
  a 301 and CsrfViewMiddleware would refuse a POST without a CSRF cookie (403, HTML). This
  API has neither cookies nor sessions: callers authenticate at API Gateway (Cognito, IAM
  or an API key), so CSRF, which protects cookie-authenticated browsers, has nothing to
  protect, and DRF's views are csrf_exempt anyway;
* DEBUG is off, always: Django's debug pages would send stack traces, settings and SQL to
  clients. Errors answer JSON (errors.py, urls.py's handler404/handler500);
* only this package is installed: no admin, auth, sessions or contenttypes. They are what
  Django is loved for, but this API uses none of them, and each costs import time and
  tables the project's migrations do not create;
* no SECRET_KEY: nothing here signs anything with Django's (no sessions, no CSRF tokens,
  no signed cookies). Page tokens are HMAC-signed with the project's key from Secrets
  Manager (customer_platform.pagination), as on the other backends. Django only complains
  when something reads the setting, so a feature that starts needing it fails loudly;
* ALLOWED_HOSTS accepts any Host: API Gateway answers only on its own and the stack's
  custom domain names before the request reaches Lambda, and nothing here builds a URL
  from the Host header (`Location` is a path), which is what the check protects;
* the database is Django's MySQL backend on PyMySQL with this project's connection rules
  (django_customers.mysql): credentials from Secrets Manager, TLS verified, one persistent
  connection per execution environment with a health check before each request's first
  query.
"""

from pydantic import Field

from customer_platform.settings import EnvSettings


class Environment(EnvSettings):
    """What template.yaml sets for this function (the same as for customers-rds)."""

    database_secret_arn: str = Field(alias="DATABASE_SECRET_ARN")
    database_proxy_endpoint: str = Field("", alias="DATABASE_PROXY_ENDPOINT")
    page_token_secret_arn: str = Field(alias="PAGE_TOKEN_SECRET_ARN")


# Read once, at import (the cold start): a missing variable fails here, naming it.
ENV = Environment.from_env()

DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["django_customers"]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "django_customers.urls"
APPEND_SLASH = False
USE_TZ = True
TIME_ZONE = "UTC"
# Messages are English, as on the other backends; no translation catalogues are loaded.
USE_I18N = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Powertools' Logger is the function's logger (app.py); Django configures none of its own.
LOGGING_CONFIG = None

DATABASES = {
    "default": {
        "ENGINE": "django_customers.mysql",
        # Host, port, user, password and database come from the secret when a connection
        # opens (django_customers.mysql), never from here.
        "OPTIONS": {
            "secret_arn": ENV.database_secret_arn,
            "endpoint": ENV.database_proxy_endpoint,
        },
        # One connection per execution environment, kept for its whole life, as the RDS
        # backend keeps its own: an execution environment serves one request at a time.
        "CONN_MAX_AGE": None,
        # Before a request's first query, Django pings the kept connection and opens a new
        # one if the server closed it (wait_timeout, a failover, KILL). The RDS backend saves
        # that round trip by retrying a unit of work on a new connection instead; Django has
        # no such hook, and this is its documented way.
        "CONN_HEALTH_CHECKS": True,
    }
}

REST_FRAMEWORK = {
    # JSON in, JSON out, whatever Content-Type and Accept say (errors.py).
    "DEFAULT_PARSER_CLASSES": ["django_customers.errors.JsonBodyParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "django_customers.errors.JsonOnly",
    # API Gateway authenticates; the caller's Cognito groups decide what it may do.
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["django_customers.permissions.CognitoGroups"],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "django_customers.errors.exception_handler",
}
