"""Customers API on Django REST Framework: `/django/customers`, on the RDS database.

Lambda-specific wiring only. Django is set up once per execution environment, at import
(the cold start); apig-wsgi turns each API Gateway event into a WSGI request for Django's
WSGI application and its response back into the proxy result. The project lives in
`django_customers` (settings, urls, views, serializers, the ORM repository); the customer
rules are the shared package's, as for every backend.

Why apig-wsgi and WSGI rather than Mangum and ASGI: a Lambda execution environment serves
one request at a time, so ASGI's concurrency has nothing to do, and Django would run each
synchronous view (DRF's are) in a worker thread (sync_to_async): a hop per request. apig-wsgi
is a small, maintained pure-Python adapter without dependencies (2.20.0 supports Python
3.10 to 3.14) for REST API (v1, multi-value headers), HTTP API (v2) and ALB events.
"""

import os
from typing import Any
from urllib.parse import quote

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.typing import LambdaContext

from customer_platform.event_sources import Source, accepts

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_customers.settings")

from apig_wsgi import make_lambda_handler
from django.core.wsgi import get_wsgi_application

logger = Logger()
tracer = Tracer()
metrics = Metrics()
# django.setup(): settings, apps and models loaded now, not on the first request.
wsgi = make_lambda_handler(get_wsgi_application())
import django_customers.urls  # noqa: E402, F401 - the routes and views, at init too

# apig-wsgi reads `path` percent-encoded, as a REST API sends it (PATH_INFO is then bytes
# tunnelled as latin-1, per PEP 3333); an HTTP API or a hand-written event may send it
# decoded, and a character beyond latin-1 would then crash Django's WSGI handler. Encoding
# only what cannot appear in an encoded path (non-ASCII, spaces, controls) serves both and
# leaves an encoded path unchanged.
PATH_SAFE = "/%!$&'()*+,;=:@"
# Django's own log (its 5xx, from django.request) as Powertools JSON, at ERROR: its warning
# for every 4xx is left out: a refused request is logged at INFO (errors.py), as on the
# other backends.
copy_config_to_registered_loggers(source_logger=logger, log_level="ERROR", include={"django"})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
@accepts(Source.API_GATEWAY)  # apig-wsgi would serve an SQS batch as a request for "/"
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return wsgi(event | {"path": quote(event.get("path") or "/", safe=PATH_SAFE)}, context)
