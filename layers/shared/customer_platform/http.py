"""The one place where errors become HTTP responses.

Every error body is `{"message": ...}` (validation errors add `details`). Nothing from an
unexpected exception (SQL text, table names, ARNs, stack traces) reaches the client: it is
logged with the request's correlation id and the client gets a generic 500.

Overload answers alike whatever is overloaded: MySQL unreachable or busy (`Unavailable`
from `customer_platform.database`) and DynamoDB throttling that botocore's retries did not
absorb are both a 503 with `Retry-After`. A client may retry those; a 500 says the request
broke something.
"""

import base64
import binascii
import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from customer_platform.authorization import authorize
from customer_platform.errors import DomainError, http_status
from customer_platform.event_sources import Source, require
from customer_platform.pagination import MAX_TOKEN_LENGTH

# DynamoDB's answers to too much traffic: a table or index over its throughput, the
# account's request limit, or throttling by the service. botocore retries them (standard
# mode, with backoff) before they reach us.
THROTTLING_CODES = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)


# The page token of every list route (customers on both backends, documents).
NextToken = Annotated[
    str | None,
    Query(
        alias="nextToken",
        description="opaque token from the previous page",
        json_schema_extra={"maxLength": MAX_TOKEN_LENGTH},
    ),
]


def json_body(text: str) -> Any:
    """`json.loads`, failing only with `json.JSONDecodeError` on a client's body.

    Powertools turns that error into a validation error (our 400). Two more ways a small
    body can fail to parse are the client's too: nesting deeper than the parser's recursion
    (`[[[[...`, a RecursionError) and an integer longer than Python's int_max_str_digits
    (a ValueError). Either would otherwise end the request with a 500."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except (RecursionError, ValueError) as error:
        reason = "nested too deeply" if isinstance(error, RecursionError) else str(error)
        raise json.JSONDecodeError(reason, text, 0) from None


def _authorized(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """Every route's first check after validation: may the caller's groups use this method?"""
    event = app.current_event
    authorize(event.http_method, event.raw_event.get("requestContext") or {})
    return next_middleware(app)


class JsonApiResolver(APIGatewayRestResolver):
    """The REST resolver for a JSON-only API, with role-based access on every route.

    `curl -d` and Python's urllib label a body `application/x-www-form-urlencoded` unless
    told otherwise, and Powertools would then parse it as a form. This API accepts JSON
    only, so every body is read as JSON (`json_body`): valid JSON succeeds, anything else
    is a 400.

    Authorization (`customer_platform.authorization`) is a middleware installed here, so
    no route of any function can be added without it. Powertools runs request validation
    first, as API Gateway validates POST and PUT bodies at the edge before anything else.

    An event that is no API Gateway REST proxy request is refused before routing
    (`customer_platform.event_sources`): Powertools would answer it 404, a success.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(json_body_deserializer=json_body, **kwargs)
        self.use(middlewares=[_authorized])

    def resolve(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        require(event, Source.API_GATEWAY)
        if event.get("body") is not None:
            headers = {
                k: v for k, v in (event.get("headers") or {}).items() if k.lower() != "content-type"
            }
            multi = {
                k: v
                for k, v in (event.get("multiValueHeaders") or {}).items()
                if k.lower() != "content-type"
            }
            event = dict(event) | {
                "headers": headers | {"Content-Type": "application/json"},
                "multiValueHeaders": multi | {"Content-Type": ["application/json"]},
            }
        return super().resolve(event, context)


def error_response(
    status: HTTPStatus, message: str, details: list[dict[str, Any]] | None = None
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {"message": message}
    if details:
        body["details"] = details
    headers = {"Retry-After": "1"} if status == HTTPStatus.SERVICE_UNAVAILABLE else None
    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, body=body, headers=headers
    )


def _validation_details(errors: list[Any]) -> list[dict[str, Any]]:
    # Only where and what: pydantic's `input` would echo the client's data into logs/responses.
    return [
        {"loc": [str(part) for part in error.get("loc", ())], "msg": error.get("msg", "invalid")}
        for error in errors
    ]


def body_is_utf8(event: BaseProxyEvent) -> bool:
    """False when the client sent a body that is not UTF-8 text.

    API Gateway hands a function such a body base64-encoded (`isBase64Encoded`); a text
    body arrives as a string and is UTF-8 by construction."""
    if event.body is None or not event.is_base64_encoded:
        return True
    try:
        base64.b64decode(event.body, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return True


def _allowed_methods(app: APIGatewayRestResolver, path: str) -> list[str]:
    # Powertools keeps its compiled routes on the resolver; a test pins this behaviour.
    routes = app._static_routes + app._dynamic_routes
    return sorted({route.method for route in routes if route.rule.match(path)})


def install_error_handlers(app: APIGatewayRestResolver, logger: Logger) -> None:
    """Map domain errors, validation errors, unknown routes and crashes to JSON responses."""

    @app.exception_handler(DomainError)
    def domain_error(error: DomainError) -> Response[dict[str, Any]]:
        status = http_status(error)
        logger.info("request refused", extra={"status": int(status), "reason": error.message})
        return error_response(status, error.message)

    @app.exception_handler(RequestValidationError)
    def validation_error(error: RequestValidationError) -> Response[dict[str, Any]]:
        errors = list(error.errors())
        # An error about the body as a whole (missing, not JSON, not an object) is a 400;
        # errors about its fields are 422.
        if any(
            e.get("type") == "json_invalid" or tuple(e.get("loc", ())) == ("body",) for e in errors
        ):
            return error_response(HTTPStatus.BAD_REQUEST, "request body must be a JSON object")
        return error_response(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "request validation failed",
            _validation_details(errors),
        )

    @app.exception_handler(UnicodeDecodeError)
    def undecodable(error: UnicodeDecodeError) -> Response[dict[str, Any]]:
        # Reading a body that is not UTF-8 is the client's fault (400); any other
        # decoding failure is ours, and stays a 500 like every unexpected error.
        if body_is_utf8(app.current_event):
            return _internal_error(logger)
        logger.info("request refused", extra={"status": 400, "reason": "body is not UTF-8"})
        return error_response(HTTPStatus.BAD_REQUEST, "request body must be UTF-8 encoded JSON")

    @app.not_found
    def not_found(_: NotFoundError) -> Response[dict[str, Any]]:
        event = app.current_event
        allowed = _allowed_methods(app, event.path)
        if allowed:
            response = error_response(
                HTTPStatus.METHOD_NOT_ALLOWED, f"method {event.http_method} not allowed"
            )
            response.headers["Allow"] = ", ".join(allowed)
            return response
        return error_response(HTTPStatus.NOT_FOUND, f"no route for {event.path}")

    @app.exception_handler(ClientError)
    def aws_error(error: ClientError) -> Response[dict[str, Any]]:
        code = error.response.get("Error", {}).get("Code", "")
        if code in THROTTLING_CODES:
            logger.warning("throttled by AWS after retries", extra={"code": code})
            return error_response(
                HTTPStatus.SERVICE_UNAVAILABLE, "the service is busy, retry shortly"
            )
        return _internal_error(logger)

    @app.exception_handler(Exception)
    def unexpected(error: Exception) -> Response[dict[str, Any]]:
        return _internal_error(logger)


def _internal_error(logger: Logger) -> Response[dict[str, Any]]:
    """The generic 500: the cause goes to the log (called while handling it), not the client."""
    logger.exception("unhandled error")
    return error_response(HTTPStatus.INTERNAL_SERVER_ERROR, "internal server error")
