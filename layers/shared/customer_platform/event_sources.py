"""Which service sent an event, so that a function refuses what its triggers never send.

Anything can invoke a function: `aws lambda invoke`, a console test event, a trigger wired
to the wrong function. Left alone, the Powertools pieces answer a foreign event with
success: the batch processor of a DynamoDB stream finds no customer record in an SQS
batch and reports no failure, a custom resource's handler takes an API request for a
direct run and migrates. So every handler names the sources it serves and raises
`WrongEventSource` on anything else before it does any work; Lambda then reports a function
error whose type and message the logs name ("WrongEventSource: expected a DynamoDB stream
event, got an SQS event").

* Event-driven handlers say it with `@accepts(Source.SQS)` (or several sources).
* API handlers need nothing of their own: `customer_platform.http.JsonApiResolver` checks
  every event it resolves, so a new API function is covered by using the shared resolver.

An event is recognised by the fields each service's events carry (Lambda Developer Guide,
"Invoking Lambda with events from other AWS services"): the records' `eventSource`
(`aws:sqs`, `aws:dynamodb`, `aws:s3`, `aws:kinesis`; SNS spells it `EventSource`); an API
Gateway REST proxy request's `resource`, `httpMethod` and `requestContext` (an HTTP API's
`version` 2.0 and `routeKey`; an Application Load Balancer's `requestContext.elb`); a
CloudFormation custom resource request's `RequestType`, `ResponseURL` and `StackId`; an
EventBridge or Scheduler event's `source` and `detail-type`; and `{}`, what a direct invoke
with no payload sends (`aws lambda invoke`, a run by hand). Powertools' event source data classes
read these fields but judge nothing, and its parser models would validate whole events at
a cold-start cost of their own (importing them loads every model Powertools ships): a few
dictionary lookups on the top-level keys are all this needs, and this module imports
nothing beyond the standard library.
"""

import functools
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any, TypeVar

_RECORD_SOURCES = {
    "aws:sqs": "SQS",
    "aws:dynamodb": "DYNAMODB_STREAM",
    "aws:s3": "S3",
    "aws:sns": "SNS",
    "aws:kinesis": "KINESIS",
}
_SCHEDULE_DETAIL_TYPES = {"Scheduled Event"}
_JSON_TYPES = {
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}


class Source(StrEnum):
    """The event sources of the stack, and a few others recognised only to name them."""

    API_GATEWAY = "an API Gateway REST API proxy event"
    SQS = "an SQS event"
    DYNAMODB_STREAM = "a DynamoDB stream event"
    S3 = "an S3 event notification"
    SCHEDULE = "a scheduled event"
    CUSTOM_RESOURCE = "a CloudFormation custom resource request"
    DIRECT = "an empty event (a direct invoke)"
    SNS = "an SNS notification"
    KINESIS = "a Kinesis stream event"
    HTTP_API = "an API Gateway HTTP API event"
    LOAD_BALANCER = "an Application Load Balancer event"
    EVENTBRIDGE = "an EventBridge event"


class WrongEventSource(Exception):
    """An event no trigger of this function sends: a function error, never a success."""


def _records_source(records: Any) -> Source | None:
    if not isinstance(records, list) or not records:
        return None
    names = {
        _RECORD_SOURCES.get(str(record.get("eventSource") or record.get("EventSource")))
        if isinstance(record, Mapping)
        else None
        for record in records
    }
    if len(names) != 1 or None in names:
        return None  # mixed, or records no service sends
    return Source[str(names.pop())]


def _request_source(event: Mapping[str, Any]) -> Source | None:
    """An HTTP request, by the service that turned it into an event."""
    if "elb" in event["requestContext"]:
        return Source.LOAD_BALANCER
    if event.get("version") == "2.0" and "routeKey" in event:
        return Source.HTTP_API
    if "httpMethod" in event and "resource" in event:
        return Source.API_GATEWAY
    return None


def _document_source(event: Mapping[str, Any]) -> Source | None:
    """A single document: a custom resource request or an EventBridge/Scheduler event."""
    if {"RequestType", "ResponseURL", "StackId"} <= event.keys():
        return Source.CUSTOM_RESOURCE
    if "source" in event and "detail-type" in event:
        scheduled = event["detail-type"] in _SCHEDULE_DETAIL_TYPES
        return Source.SCHEDULE if scheduled else Source.EVENTBRIDGE
    return None


def source_of(event: Any) -> Source | None:
    """The service that sends events shaped like `event`, or None if none does."""
    if not isinstance(event, Mapping):
        return None
    if not event:
        return Source.DIRECT
    if "Records" in event:
        return _records_source(event["Records"])
    if isinstance(event.get("requestContext"), Mapping):
        return _request_source(event)
    return _document_source(event)


def describe(event: Any) -> str:
    """What `event` looks like, for an error message (field names only, never values)."""
    found = source_of(event)
    if found is not None:
        return found.value
    if isinstance(event, Mapping):
        return f"an event of no known source (fields: {', '.join(sorted(map(str, event)))})"
    kind = _JSON_TYPES.get(type(event), type(event).__name__)
    return f"a JSON {kind}, not an object"


def require(event: Any, *accepted: Source) -> Source:
    """The event's source if it is one of `accepted`; else `WrongEventSource`."""
    found = source_of(event)
    if found is not None and found in accepted:
        return found
    expected = " or ".join(source.value for source in accepted)
    raise WrongEventSource(f"expected {expected}, got {describe(event)}")


Handler = TypeVar("Handler", bound=Callable[..., Any])


def accepts(*sources: Source) -> Callable[[Handler], Handler]:
    """Handler decorator: refuse (`WrongEventSource`) any event not from `sources`.

    A plain decorator, not Powertools' `lambda_handler_decorator`, whose untyped result
    mypy --strict refuses on a typed handler. Put it under the Powertools logger, tracer
    and metrics decorators, so they still log, trace and flush for the refusal (and above
    Powertools' `event_source`, which wraps the raw event in a data class)."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def checked(event: Any, context: Any, *args: Any, **kwargs: Any) -> Any:
            require(event, *sources)
            return handler(event, context, *args, **kwargs)

        return checked  # type: ignore[return-value]

    return decorate
