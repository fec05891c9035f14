"""What the local AWS endpoint adds to moto's DynamoDB: one call at a time, and
idempotent transactions.

**One call at a time.** Real DynamoDB is serializable; moto's backend
(moto/dynamodb/models/__init__.py) is not safe to call from two threads, and the endpoint
serves every function environment from threads of its own:

* `transact_write_items` deep-copies each table it touches and, when the transaction is
  cancelled (a failed condition: an email already taken), puts the copies back
  (`self.tables[name] = copy`): a write another thread made in between silently vanishes;
* `put_item`, `update_item`, `delete_item` and the transaction itself read, test the
  condition and write with no lock, so two conditional writes can both pass;
* the Streams backend reads the shards of the same Table objects a rollback swaps.

Locally that lost acknowledged customers and let one email be created twice
(tests/local_stack/test_concurrent_writes.py). So every DynamoDB and DynamoDB Streams
call runs under one lock. One lock for the service rather than one per table: a
transaction or a BatchWriteItem names several tables, PartiQL names them inside its
statements and Streams by stream ARN, so per-table locks would need every request parsed
and its locks taken in a fixed order; and a moto call is Python under the GIL, so finer
locks would buy almost no parallelism. Other services do not wait for it: a slow S3
upload or an SQS long poll runs beside DynamoDB, and the IAM check in front of moto runs
before the lock is taken.

**Idempotent transactions.** botocore fills TransactWriteItems' `ClientRequestToken` once
per call and sends the same token when it retries (after a read timeout, say). DynamoDB
answers a retry of a transaction that succeeded with success and changes nothing, and a
reused token with other parameters with IdempotentParameterMismatchException, for 10
minutes (the token's documentation in the API reference). moto ignores the token, so a
retry whose first attempt had committed ran again, failed its own conditions, and a
created customer was answered 409. Here a successful transaction's answer is kept for
the token's 10 minutes and replayed.
"""

import io
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from werkzeug.wsgi import get_input_stream

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
TOKEN_WINDOW_S = 600.0  # "A client request token is valid for 10 minutes"
_ERROR_PREFIX = "com.amazonaws.dynamodb.v20120810#"
# Parameters that change the answer, not the transaction.
_NOT_COMPARED = ("ClientRequestToken", "ReturnConsumedCapacity", "ReturnItemCollectionMetrics")


@dataclass(frozen=True)
class _Answer:
    status: str
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True)
class _Committed:
    request: str  # the transaction's parameters, canonical JSON
    answer: _Answer
    until: float


def is_dynamodb(environ: dict[str, Any]) -> bool:
    """DynamoDB and DynamoDB Streams name their operation in X-Amz-Target
    (`DynamoDB_20120810.PutItem`, `DynamoDBStreams_20120810.GetRecords`)."""
    return str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith("DynamoDB")


class SerialisedDynamoDB:
    """moto's app with every DynamoDB call made one at a time; other services pass."""

    def __init__(self, app: WsgiApp, clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self._clock = clock
        self._lock = threading.Lock()
        self._committed: dict[str, _Committed] = {}  # ClientRequestToken -> its outcome

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if not is_dynamodb(environ):
            return self.app(environ, start_response)
        with self._lock:
            if str(environ["HTTP_X_AMZ_TARGET"]).endswith(".TransactWriteItems"):
                answer = self._transaction(environ)
            else:
                answer = self._call(environ)
        # sent after the lock is released: a slow client holds up nobody
        start_response(answer.status, answer.headers)
        return [answer.body]

    def _call(self, environ: dict[str, Any]) -> _Answer:
        """moto's whole answer: its work is done while the response is built."""
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], _: Any = None) -> Any:
            started[:] = [status, headers]
            return lambda data: None

        result = self.app(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return _Answer(started[0], list(started[1]), body)

    def _transaction(self, environ: dict[str, Any]) -> _Answer:
        raw = get_input_stream(environ).read()  # its Content-Length, not to EOF
        environ["wsgi.input"] = io.BytesIO(raw)
        environ["CONTENT_LENGTH"] = str(len(raw))
        try:
            params = json.loads(raw)
            token = params.get("ClientRequestToken") if isinstance(params, dict) else None
        except ValueError:
            token = None
        if not isinstance(token, str):
            return self._call(environ)  # moto validates it
        now = self._clock()
        self._committed = {k: v for k, v in self._committed.items() if v.until > now}
        request = json.dumps(
            {k: v for k, v in params.items() if k not in _NOT_COMPARED}, sort_keys=True
        )
        committed = self._committed.get(token)
        if committed is not None:
            if committed.request != request:
                return _error(
                    "IdempotentParameterMismatchException",
                    "DynamoDB rejected the request because you retried a request with a "
                    "different payload but with an idempotent token that was already used.",
                )
            return committed.answer
        answer = self._call(environ)
        if answer.status.startswith("200"):  # valid for 10 minutes after it completed
            self._committed[token] = _Committed(request, answer, self._clock() + TOKEN_WINDOW_S)
        return answer


def _error(code: str, message: str) -> _Answer:
    body = json.dumps({"__type": _ERROR_PREFIX + code, "message": message}).encode()
    headers = [
        ("Content-Type", "application/x-amz-json-1.0"),
        ("Content-Length", str(len(body))),
    ]
    return _Answer("400 Bad Request", headers, body)
