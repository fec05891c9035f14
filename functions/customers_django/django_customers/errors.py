"""The one place where errors become HTTP responses, and the JSON-only request handling.

Every error body is `{"message": ...}`, validation errors add `details` (where and what,
never the client's input), as on the other backends: DRF's exception handler answers for
everything raised in a view, and Django's handler400/403/404/500 (urls.py) for what
happens before or around one. Nothing from an unexpected exception reaches the client: it
is logged, with the request's correlation id, and the client gets a generic 500.

DRF picks a parser by Content-Type (415 for one it lacks) and a renderer by Accept (406).
The contract reads every body as JSON and always answers JSON, so `JsonOnly` picks the one
parser and the one renderer whatever the headers say, and `JsonBodyParser` is the only
parser: strict UTF-8, then JSON.
"""

import json
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import IO, Any

from aws_lambda_powertools import Logger
from django.db import DatabaseError
from django.http import HttpRequest, JsonResponse
from rest_framework import exceptions
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from customer_platform.database import BUSY, CONNECTION_LOST, error_code
from customer_platform.errors import DomainError, http_status

logger = Logger(child=True)

NOT_AN_OBJECT = "request body must be a JSON object"
NOT_UTF8 = "request body must be UTF-8 encoded JSON"


class JsonBodyParser(BaseParser):
    """Every body is JSON, whatever its Content-Type (curl -d says form-urlencoded)."""

    media_type = "*/*"

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        raw = stream.read()
        try:
            text = raw.decode("utf-8")  # strict: json.loads(bytes) would also take UTF-16
        except UnicodeDecodeError:
            raise exceptions.ParseError(NOT_UTF8) from None
        try:
            return json.loads(text)
        except (RecursionError, ValueError):
            # Invalid JSON, nesting deeper than the parser recurses, or an integer longer
            # than int_max_str_digits: all the client's (400), never a 500.
            raise exceptions.ParseError(NOT_AN_OBJECT) from None


class JsonOnly(BaseContentNegotiation):
    """JSON in and out, whatever Content-Type and Accept say."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser:
        return next(iter(parsers))

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, str(renderer.media_type)


class InvalidRequest(exceptions.APIException):
    """A body or query that failed its serializer: 422 with where and what failed."""

    status_code = HTTPStatus.UNPROCESSABLE_ENTITY

    def __init__(self, where: str, errors: Mapping[str, Any]) -> None:
        super().__init__("request validation failed")
        self.details = [
            {"loc": [where, str(field)], "msg": str(message)}
            for field, messages in errors.items()
            for message in (messages if isinstance(messages, list) else [messages])
        ]


def body(message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {"message": message}
    if details:
        content["details"] = details
    return content


def _retry_after(status: int) -> dict[str, str] | None:
    return {"Retry-After": "1"} if status == HTTPStatus.SERVICE_UNAVAILABLE else None


def exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response:
    """DRF's EXCEPTION_HANDLER: every exception raised in a view becomes JSON."""
    if isinstance(exc, DomainError):
        status = http_status(exc)
        logger.info("request refused", extra={"status": int(status), "reason": exc.message})
        return Response(body(exc.message), status=status, headers=_retry_after(status))
    if isinstance(exc, InvalidRequest):
        return Response(body(str(exc.detail), exc.details), exc.status_code)
    if isinstance(exc, exceptions.MethodNotAllowed):
        method = context["request"].method
        return Response(body(f"method {method} not allowed"), exc.status_code)
    if isinstance(exc, exceptions.APIException):  # DRF's own: a parse error (400), say
        return Response(body(str(exc.detail)), exc.status_code)
    if isinstance(exc, DatabaseError) and error_code(exc) in CONNECTION_LOST | BUSY:
        # The connection died mid-request, or the server is overloaded: the client may
        # retry (the next request's health check replaces a dead connection).
        logger.warning("database unavailable", extra={"code": error_code(exc)})
        status = HTTPStatus.SERVICE_UNAVAILABLE
        message = "the database is unavailable, retry shortly"
        return Response(body(message), status=status, headers=_retry_after(status))
    logger.exception("unhandled error")
    status = HTTPStatus.INTERNAL_SERVER_ERROR
    return Response(body("internal server error"), status=status)


# -- Django's own error views (urls.py): outside any DRF view ------------------------------


def bad_request(request: HttpRequest, exception: Exception) -> JsonResponse:
    return JsonResponse(body("bad request"), status=400)


def forbidden(request: HttpRequest, exception: Exception) -> JsonResponse:
    return JsonResponse(body("forbidden"), status=403)


def not_found(request: HttpRequest, exception: Exception) -> JsonResponse:
    return JsonResponse(body(f"no route for {request.path}"), status=404)


def server_error(request: HttpRequest) -> JsonResponse:
    # Django logs the exception itself (django.request, which app.py sends to Powertools).
    return JsonResponse(body("internal server error"), status=500)
