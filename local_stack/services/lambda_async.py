"""Lambda's asynchronous invocation, locally: the event queue, retries and destinations.

An `Event` invocation of the local Lambda API (local_stack.services.lambda_api) is queued here and
answered at once with 202; a worker runs it in the function's execution environments and then
does what Lambda does (Lambda Developer Guide, "Error handling and automatic retries" and
"Capturing records of asynchronous invocations"):

* a function error is retried `MaximumRetryAttempts` times: 2, unless the EventInvokeConfig
  of the qualifier invoked (`$LATEST`, a version or an alias such as `live`) says otherwise;
  an event older than `MaximumEventAgeInSeconds` (6 hours by default) is not tried again;
* a success goes to the OnSuccess destination; a failure, once retries are exhausted or the
  event is too old, to the OnFailure destination and (the event itself) to the function's
  dead-letter queue;
* a destination receives Lambda's invocation record (`version`, `timestamp`,
  `requestContext` with `condition` and `approximateInvokeCount`, `requestPayload`,
  `responseContext`, `responsePayload`), sent with the function's own credentials through
  the local IAM check, so it arrives only where the function's role allows it (and its KMS
  key); a Lambda destination is invoked asynchronously if the role allows
  `lambda:InvokeFunction` on it.

Differences from Lambda: retries follow at once (Lambda waits about one minute, then two);
the queue lives in memory and is dropped when the stack stops; an event is delivered once
(Lambda may occasionally deliver one twice).
"""

import json
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from botocore.exceptions import ClientError

from local_stack.runtime.environment import Credentials
from local_stack.runtime.functions import FunctionError, LocalFunction

DEFAULT_RETRIES = 2
DEFAULT_MAX_AGE_S = 6 * 60 * 60
ERROR_MESSAGE_BYTES = 1024  # a dead-letter message carries the first 1 KB of the error


@dataclass(frozen=True)
class AsyncConfig:
    """A qualifier's EventInvokeConfig and the function's DeadLetterConfig."""

    retries: int = DEFAULT_RETRIES
    max_age_s: int = DEFAULT_MAX_AGE_S
    on_success: str | None = None  # destination ARN
    on_failure: str | None = None
    dead_letter: str | None = None  # the function's DeadLetterConfig TargetArn


@dataclass(frozen=True)
class AsyncEvent:
    function: LocalFunction
    function_arn: str  # as Lambda records it: qualified, `$LATEST` when invoked without one
    version: str  # the version that runs ("$LATEST", "1")
    payload: Any
    request_id: str
    config: AsyncConfig
    received: float = field(default_factory=time.monotonic)


class Cloud(Protocol):
    """The local AWS endpoint's clients (local_stack.assembly.cloud.LocalCloud): the
    administrator's, or, with `credentials`, a function role's."""

    def client(self, service: str, credentials: Credentials | None = None) -> Any: ...


# Whether a function's role may invoke the function `arn`: None, or the denial's message.
MayInvoke = Callable[[LocalFunction, str], str | None]
# Invoke the function `arn` (a destination) asynchronously with `payload`.
InvokeAsync = Callable[[str, Any], None]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class AsyncInvoker:
    """The asynchronous invocations of one local stack: a queue and workers per function
    (as many as the function may have environments)."""

    def __init__(self, cloud: Cloud, may_invoke: MayInvoke, invoke_async: InvokeAsync) -> None:
        self._cloud = cloud
        self._may_invoke = may_invoke
        self._invoke_async = invoke_async
        self._executors: dict[str, ThreadPoolExecutor] = {}
        self._queue_urls: dict[str, str] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def submit(self, event: AsyncEvent) -> None:
        with self._lock:
            name = event.function.logical_id
            executor = self._executors.get(name)
            if executor is None:
                executor = self._executors[name] = ThreadPoolExecutor(
                    max_workers=event.function.pool.max_environments,
                    thread_name_prefix=f"async-{name}",
                )
        executor.submit(self._run, event)

    def close(self) -> None:
        """Drop what is queued; an invocation the stack's stop cuts off is not retried."""
        self._stopping.set()
        with self._lock:
            executors = list(self._executors.values())
        for executor in executors:
            executor.shutdown(wait=False, cancel_futures=True)

    # -- one event ----------------------------------------------------------------------

    def _run(self, event: AsyncEvent) -> None:
        attempts = 0
        failure: FunctionError | None = None
        condition = "RetriesExhausted"
        while attempts <= event.config.retries:
            if time.monotonic() - event.received > event.config.max_age_s:
                condition = "EventAgeExceeded"
                break
            attempts += 1
            try:
                # Lambda's queue holds a throttled event and tries again: it waits here
                invocation = event.function.invoke(event.payload, wait=True)
            except FunctionError as error:
                if self._stopping.is_set():
                    return  # the stack stopped the environment under it: not a failure
                failure = error
                continue
            except Exception as error:  # noqa: BLE001 - a worker must never die silently
                if not self._stopping.is_set():
                    name = event.function.logical_id
                    print(f"{name}: asynchronous invocation not run: {error!r}", file=sys.stderr)
                return
            if event.config.on_success is not None:
                record = self._record(event, "Success", attempts, invocation.result, None)
                self._deliver(event, event.config.on_success, record, "Success")
            return
        self._failed(event, attempts, failure, condition)

    def _failed(
        self, event: AsyncEvent, attempts: int, failure: FunctionError | None, condition: str
    ) -> None:
        error = failure.error if failure is not None else None
        if event.config.on_failure is not None:
            record = self._record(event, condition, attempts, error, failure)
            self._deliver(event, event.config.on_failure, record, "Failure")
        if event.config.dead_letter is not None:
            self._dead_letter(event, failure)
        why = f"{failure}" if failure is not None else "the event is too old"
        print(  # last: once it is said, every delivery of the failure has been made
            f"{event.function.logical_id}: asynchronous invocation {event.request_id} failed "
            f"after {attempts} attempt(s) ({condition}): {why}",
            file=sys.stderr,
        )

    def _record(
        self,
        event: AsyncEvent,
        condition: str,
        attempts: int,
        payload: Any,
        failure: FunctionError | None,
    ) -> dict[str, Any]:
        """Lambda's invocation record (Lambda Developer Guide, "Invocation record")."""
        record: dict[str, Any] = {
            "version": "1.0",
            "timestamp": _now(),
            "requestContext": {
                "requestId": event.request_id,
                "functionArn": event.function_arn,
                "condition": condition,
                "approximateInvokeCount": attempts,
            },
            "requestPayload": event.payload,
        }
        if attempts:
            response: dict[str, Any] = {"statusCode": 200, "executedVersion": event.version}
            if failure is not None:
                response["functionError"] = "Unhandled"
            record["responseContext"] = response
            record["responsePayload"] = payload
        return record

    # -- deliveries, with the function's role ---------------------------------------------

    def _deliver(
        self, event: AsyncEvent, destination: str, record: dict[str, Any], outcome: str
    ) -> None:
        service = destination.split(":")[2]
        credentials = event.function.credentials
        body = json.dumps(record, default=str)
        try:
            if service == "sqs":
                self._cloud.client("sqs", credentials).send_message(
                    QueueUrl=self._queue_url(destination), MessageBody=body
                )
            elif service == "sns":
                self._cloud.client("sns", credentials).publish(TopicArn=destination, Message=body)
            elif service == "events":
                self._cloud.client("events", credentials).put_events(
                    Entries=[
                        {
                            "Source": "lambda",
                            "DetailType": f"Lambda Function Invocation Result - {outcome}",
                            "Detail": body,
                            "EventBusName": destination,
                            "Resources": [event.function_arn],
                        }
                    ]
                )
            elif service == "lambda":
                denial = self._may_invoke(event.function, destination)
                if denial is not None:
                    raise PermissionError(denial)
                self._invoke_async(destination, record)
            else:
                raise ValueError(f"{service} destinations are not emulated locally")
        except Exception as error:  # noqa: BLE001 - refused, denied, unknown: all the same
            # What Lambda does too: the record is lost, and its metrics say so.
            name = event.function.logical_id
            print(f"{name}: destination {destination} refused the record: {error}", file=sys.stderr)

    def _dead_letter(self, event: AsyncEvent, failure: FunctionError | None) -> None:
        """The event itself, with Lambda's RequestID, ErrorCode and ErrorMessage attributes."""
        target = event.config.dead_letter
        if target is None:
            return
        message = str(failure.error.get("errorMessage", "")) if failure is not None else ""
        attributes = {
            "RequestID": {"DataType": "String", "StringValue": event.request_id},
            "ErrorCode": {"DataType": "Number", "StringValue": "200"},
            "ErrorMessage": {
                "DataType": "String",
                "StringValue": message.encode()[:ERROR_MESSAGE_BYTES].decode(errors="ignore")
                or "-",
            },
        }
        credentials = event.function.credentials
        body = json.dumps(event.payload)
        try:
            if target.split(":")[2] == "sns":
                self._cloud.client("sns", credentials).publish(
                    TopicArn=target, Message=body, MessageAttributes=attributes
                )
            else:
                self._cloud.client("sqs", credentials).send_message(
                    QueueUrl=self._queue_url(target), MessageBody=body, MessageAttributes=attributes
                )
        except ClientError as error:
            name = event.function.logical_id
            print(f"{name}: dead-letter queue {target} refused the event: {error}", file=sys.stderr)

    def _queue_url(self, arn: str) -> str:
        """A queue's URL, looked up once as the administrator (a local shortcut: Lambda
        knows its destinations' addresses without asking SQS)."""
        with self._lock:
            if arn not in self._queue_urls:
                name = arn.rsplit(":", 1)[-1]
                found = self._cloud.client("sqs").get_queue_url(QueueName=name)
                self._queue_urls[arn] = str(found["QueueUrl"])
            return self._queue_urls[arn]
