"""MySQL through the RDS Data API: each statement is one HTTPS call, with no connection to keep.

The counterpart of `customer_platform.database` (pymysql, in the VPC) for an Aurora cluster
with the Data API enabled (docs/customers-aurora.md):

* No connection, pool, TLS context or password in the function. Each call names the cluster
  (`resourceArn`), a Secrets Manager secret (`secretArn`) that the Data API reads with the
  caller's permissions, and the database. The boto3 client is created once per execution
  environment (`customer_platform.aws.rds_data`).
* Parameters are typed `SqlParameter`s (`stringValue`, `longValue`, ..., with a `typeHint`
  for timestamps and decimals), never formatted into the SQL text.
* Reads ask for `formatRecordsAs=JSON`: one JSON string holding an object per row, keyed by
  column name, which maps straight onto a model; the default (`records`) would be lists of
  one-key unions (`{"stringValue": ...}`) to unwrap by position.
* A unit of work is one Data API transaction: BeginTransaction, statements that carry its
  id, CommitTransaction (RollbackTransaction when the work fails).

Failures. botocore's standard retry mode (`aws.CLIENT_CONFIG`) retries a single call on
throttling, HTTP 5xx and connection errors. Three answers it does not retry (HTTP 400 and
404, not modeled as retryable) mean "not now" here: `DatabaseResumingException` (the cluster
was paused at 0 ACU and is resuming, up to about 15 s), `StatementTimeoutException`, and a
transaction that is gone (`TransactionNotFoundException`; older Data API versions say
`BadRequestException: Transaction ... is not found`: it timed out after 3 idle minutes, or
the writer restarted). Those, and whatever botocore gave up on, are retried here for the
whole unit of work in a new transaction, after a rollback, with exponential backoff and
full jitter, for at most `retry_seconds`; then `Unavailable` (503 with Retry-After). Never a
500, and never a write done twice:

* A transaction that failed before COMMIT left nothing behind, so running it again is safe.
* A statement that botocore sent twice inside one transaction (its first answer lost) runs
  twice in that transaction; the repository's statements are written so that this is
  harmless or raises `Retry` (a duplicate of its own key), and the whole unit starts over.
* A COMMIT whose answer was lost (timeout, 5xx, or "not found" because the first attempt
  did commit) leaves the outcome unknown. The caller passes `committed`, a read that tells
  whether this unit's writes are durable (the customers repository looks for the outbox
  event it wrote in the same transaction): yes, it is done; no, it never committed and runs
  again. Without that probe the answer is 503: retrying blindly could write twice.
"""

import json
import random
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from customer_platform import aws
from customer_platform.errors import Unavailable

if TYPE_CHECKING:
    from mypy_boto3_rds_data import RDSDataServiceClient
    from mypy_boto3_rds_data.type_defs import FieldTypeDef, SqlParameterTypeDef

T = TypeVar("T")
Value = str | int | float | bool | Decimal | datetime | date | bytes | None
Row = dict[str, Any]

logger = Logger(child=True)

RESUMING = "DatabaseResumingException"
# Errors after which the statement certainly did not run.
NOT_RUN = frozenset({RESUMING, "ThrottlingException", "TooManyRequestsException", "Throttling"})
# Errors that mean "not now": the unit of work runs again in a new transaction.
TRANSIENT = NOT_RUN | {
    "StatementTimeoutException",
    "TransactionNotFoundException",
    "ServiceUnavailableError",
    "InternalServerErrorException",
    "DatabaseUnavailableException",
}
# MySQL errors that a new transaction may not meet: lock wait timeout, deadlock.
SQL_BUSY = frozenset({1205, 1213})
_IN_A_DATABASE = frozenset({"execute_statement", "batch_execute_statement", "begin_transaction"})
_SQL_CODE = re.compile(r"Database error code: (\d+)")
_GONE_TRANSACTION = re.compile(r"Transaction .* (is not|isn't) found", re.IGNORECASE)

# Backoff between attempts: full jitter over an exponential ceiling (AWS Architecture Blog,
# "Exponential Backoff And Jitter"), from 0.2 s up to 2 s, so a resume of ~15 s costs a
# handful of calls, and many functions retrying at once do not retry in step.
BACKOFF_BASE_S = 0.2
BACKOFF_CAP_S = 2.0


class SqlError(Exception):
    """The database refused a statement (`DatabaseErrorException`, or the older
    `BadRequestException`): `code` is MySQL's error number when the Data API gives it."""

    def __init__(self, code: int | None, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Retry(Exception):
    """Raised by a unit of work: roll back and run it again in a new transaction."""


def timestamp_text(value: datetime) -> str:
    """A datetime as the Data API's TIMESTAMP type hint takes it: UTC, milliseconds."""
    utc = value.astimezone(UTC) if value.tzinfo else value
    return utc.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def parse_timestamp(text: str) -> datetime:
    """A DATETIME column as the Data API returns it ("2026-11-22 10:15:00.123"), in UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _typed(value: Value) -> "tuple[FieldTypeDef, str | None]":  # noqa: PLR0911 - one per type
    """A Python value as a Data API `Field`, and the type hint it needs."""
    if value is None:
        return {"isNull": True}, None
    if isinstance(value, bool):  # before int: bool is an int
        return {"booleanValue": value}, None
    if isinstance(value, int):
        return {"longValue": value}, None
    if isinstance(value, float):
        return {"doubleValue": value}, None
    if isinstance(value, Decimal):
        return {"stringValue": str(value)}, "DECIMAL"
    if isinstance(value, datetime):
        return {"stringValue": timestamp_text(value)}, "TIMESTAMP"
    if isinstance(value, date):
        return {"stringValue": value.isoformat()}, "DATE"
    if isinstance(value, bytes):
        return {"blobValue": value}, None
    return {"stringValue": value}, None


def sql_parameters(values: Mapping[str, Value]) -> "list[SqlParameterTypeDef]":
    """Named, typed parameters for `:name` placeholders."""
    parameters: list[SqlParameterTypeDef] = []
    for name, value in values.items():
        field_value, hint = _typed(value)
        parameter: SqlParameterTypeDef = {"name": name, "value": field_value}
        if hint is not None:
            parameter["typeHint"] = hint  # type: ignore[typeddict-item]
        parameters.append(parameter)
    return parameters


def error_code(error: BaseException) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", ""))
    return type(error).__name__


def _transient(error: BaseException) -> bool:
    if isinstance(error, Retry):
        return True
    if isinstance(error, SqlError):
        return error.code in SQL_BUSY
    if isinstance(error, BotocoreConnectionError | HTTPClientError):  # what botocore gave up on
        return True
    if isinstance(error, ClientError):
        code = error_code(error)
        return code in TRANSIENT or (
            code == "BadRequestException" and _GONE_TRANSACTION.search(str(error)) is not None
        )
    return False


def _sql_error(error: ClientError) -> SqlError | None:
    """The statement's own failure, or None for an error about the call."""
    code = error_code(error)
    message = str(error.response.get("Error", {}).get("Message", ""))
    if code == "DatabaseErrorException" or (
        code == "BadRequestException" and not _GONE_TRANSACTION.search(message)
    ):
        found = _SQL_CODE.search(message)
        return SqlError(int(found.group(1)) if found else None, message)
    return None


def _records(response: Mapping[str, Any]) -> list[Row]:
    text = response.get("formattedRecords")
    rows: list[Row] = json.loads(text) if text else []
    return rows


@dataclass
class DataApi:
    """One database of one Aurora cluster, as a given user (its secret)."""

    resource_arn: str
    secret_arn: str
    database: str
    retry_seconds: float = 10.0
    client: "Callable[[], RDSDataServiceClient]" = field(default=aws.rds_data, repr=False)
    # While a transaction runs, its deadline bounds the calls made for it (the COMMIT probe):
    # one budget per unit of work, not one per call.
    _deadline: float | None = field(default=None, init=False, repr=False)

    # -- single statements (autocommit) --------------------------------------------------

    def query(self, sql: str, values: Mapping[str, Value] | None = None) -> list[Row]:
        """Rows of a SELECT outside any transaction, retried while the database is not
        ready (a read is safe to repeat)."""
        return self._retrying(lambda: self._query(sql, values, None), _transient)

    def execute(
        self,
        sql: str,
        values: Mapping[str, Value] | None = None,
        *,
        continue_after_timeout: bool = False,
    ) -> int:
        """Run one statement outside any transaction (it commits by itself); the number of
        rows it changed. Retried only when it certainly did not run (the cluster resuming,
        throttling): a statement whose answer was lost may have run."""

        def run() -> int:
            response = self._call(
                "execute_statement",
                sql=sql,
                parameters=sql_parameters(values or {}),
                continueAfterTimeout=continue_after_timeout,
            )
            return int(response.get("numberOfRecordsUpdated", 0))

        return self._retrying(run, lambda error: error_code(error) in NOT_RUN)

    # -- units of work -------------------------------------------------------------------

    def transaction(
        self,
        work: "Callable[[Transaction], T]",
        *,
        committed: Callable[[], bool] | None = None,
    ) -> T:
        """Run `work` in one transaction and commit it, retrying as the module says.
        `committed()` tells whether a unit whose COMMIT went unanswered did commit."""
        deadline = time.monotonic() + self.retry_seconds
        self._deadline = deadline
        try:
            return self._transaction(work, committed, deadline)
        finally:
            self._deadline = None

    def _transaction(
        self,
        work: "Callable[[Transaction], T]",
        committed: Callable[[], bool] | None,
        deadline: float,
    ) -> T:
        unanswered: list[T] = []  # the result of an attempt whose COMMIT got no answer
        attempt = 0
        while True:
            attempt += 1
            if unanswered and committed is not None:
                if self._did_commit(committed):
                    return unanswered[0]
                unanswered.clear()
            transaction: Transaction | None = None
            try:
                begun = self._call("begin_transaction")
                transaction = Transaction(self, begun["transactionId"])
                result = work(transaction)
            except Exception as error:
                if transaction is not None:
                    self._rollback(transaction)
                if not _transient(error):
                    raise
                self._wait(attempt, deadline, error)
                continue
            try:
                self._call("commit_transaction", transactionId=transaction.id)
            except (ClientError, BotoCoreError) as error:
                logger.warning("commit unanswered", extra={"code": error_code(error)})
                if committed is None:
                    raise Unavailable("the database did not confirm the change, retry") from error
                unanswered.append(result)
                self._wait(attempt, deadline, error)
                continue
            return result

    # -- internals -----------------------------------------------------------------------

    def _call(self, operation: str, **request: Any) -> Any:
        """One Data API call; a refused statement becomes `SqlError`."""
        try:
            return getattr(self.client(), operation)(
                resourceArn=self.resource_arn,
                secretArn=self.secret_arn,
                **({"database": self.database} if operation in _IN_A_DATABASE else {}),
                **request,
            )
        except ClientError as error:
            refused = _sql_error(error) if operation != "commit_transaction" else None
            if refused is not None:
                raise refused from error
            raise

    def _query(
        self, sql: str, values: Mapping[str, Value] | None, transaction_id: str | None
    ) -> list[Row]:
        request: dict[str, Any] = {
            "sql": sql,
            "parameters": sql_parameters(values or {}),
            "formatRecordsAs": "JSON",
        }
        if transaction_id is not None:
            request["transactionId"] = transaction_id
        return _records(self._call("execute_statement", **request))

    def _retrying(self, call: Callable[[], T], retryable: Callable[[Exception], bool]) -> T:
        deadline = time.monotonic() + self.retry_seconds
        if self._deadline is not None:
            deadline = min(deadline, self._deadline)
        attempt = 0
        while True:
            attempt += 1
            try:
                return call()
            except Exception as error:
                if not retryable(error):
                    raise
                self._wait(attempt, deadline, error)

    def _rollback(self, transaction: "Transaction") -> None:
        """Best effort: a transaction that is already gone needs no rollback, and one the
        Data API cannot reach rolls back by itself after 3 idle minutes."""
        try:
            self._call("rollback_transaction", transactionId=transaction.id)
        except (ClientError, BotoCoreError, SqlError) as error:
            logger.info("rollback not confirmed", extra={"code": error_code(error)})

    def _did_commit(self, committed: Callable[[], bool]) -> bool:
        """The probe's answer; Unavailable when it cannot tell (within the unit's budget)."""
        try:
            return committed()
        except Unavailable:
            raise
        except Exception as error:
            logger.warning(
                "cannot tell whether the change committed", extra={"code": error_code(error)}
            )
            raise Unavailable("the database did not confirm the change, retry") from error

    def _wait(self, attempt: int, deadline: float, error: Exception) -> None:
        delay = random.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt))  # noqa: S311
        code = error_code(error)
        if time.monotonic() + delay > deadline:
            logger.warning(
                "database not ready; giving up", extra={"code": code, "attempts": attempt}
            )
            reason = "resuming" if code == RESUMING else "unavailable"
            raise Unavailable(f"the database is {reason}, retry shortly") from error
        logger.info("database not ready; retrying", extra={"code": code, "attempt": attempt})
        time.sleep(delay)


@dataclass(frozen=True)
class Transaction:
    """Statements of one Data API transaction (they carry its id)."""

    api: DataApi
    id: str

    def query(self, sql: str, values: Mapping[str, Value] | None = None) -> list[Row]:
        return self.api._query(sql, values, self.id)

    def execute(self, sql: str, values: Mapping[str, Value] | None = None) -> int:
        response = self.api._call(
            "execute_statement",
            sql=sql,
            parameters=sql_parameters(values or {}),
            transactionId=self.id,
        )
        return int(response.get("numberOfRecordsUpdated", 0))

    def batch(self, sql: str, value_sets: Sequence[Mapping[str, Value]]) -> int:
        """The statement once per parameter set, in one call (BatchExecuteStatement)."""
        if not value_sets:
            return 0
        response = self.api._call(
            "batch_execute_statement",
            sql=sql,
            parameterSets=[sql_parameters(values) for values in value_sets],
            transactionId=self.id,
        )
        return len(response.get("updateResults", []))
