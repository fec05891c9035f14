"""customer_platform.data_api's pure parts: typed parameters and the error classification.

What the retry policy rests on: which answers mean "not now" (retried, then 503) and which
are the statement's own failure (for the repository to translate, else a 500). The answers
are built as botocore builds them from the service's errors.
"""

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError, ParamValidationError, ReadTimeoutError

from customer_platform.data_api import (
    NOT_RUN,
    Retry,
    SqlError,
    _sql_error,
    _transient,
    parse_timestamp,
    sql_parameters,
)


def answer(code: str, message: str = "", operation: str = "ExecuteStatement") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


def error_id(error: Exception) -> str:
    if isinstance(error, ClientError):
        return str(error.response["Error"]["Code"])
    return type(error).__name__


def test_each_python_type_becomes_its_field_and_type_hint():
    """Mutation caught: a bool sent as longValue (bool is an int in Python), a datetime
    sent in its own time zone instead of UTC, a Decimal as a double."""
    values: dict[str, Any] = {
        "s": "Ada",
        "i": 42,
        "b": True,
        "f": 2.5,
        "d": Decimal("12.30"),
        "t": datetime(2026, 11, 22, 11, 15, 0, 123000, tzinfo=timezone(timedelta(hours=1))),
        "day": date(2026, 11, 22),
        "raw": b"\x00",
        "none": None,
    }

    found = {p["name"]: (p["value"], p.get("typeHint")) for p in sql_parameters(values)}

    assert found == {
        "s": ({"stringValue": "Ada"}, None),
        "i": ({"longValue": 42}, None),
        "b": ({"booleanValue": True}, None),
        "f": ({"doubleValue": 2.5}, None),
        "d": ({"stringValue": "12.30"}, "DECIMAL"),
        "t": ({"stringValue": "2026-11-22 10:15:00.123"}, "TIMESTAMP"),
        "day": ({"stringValue": "2026-11-22"}, "DATE"),
        "raw": ({"blobValue": b"\x00"}, None),
        "none": ({"isNull": True}, None),
    }


@pytest.mark.parametrize(
    "text", ["2026-11-22 10:15:00.123", "2026-11-22 10:15:00.12", "2026-11-22T10:15:00.123"]
)
def test_a_datetime_column_reads_back_in_utc_whatever_its_fraction(text: str):
    assert parse_timestamp(text).replace(microsecond=0) == datetime(
        2026, 11, 22, 10, 15, tzinfo=UTC
    )


@pytest.mark.parametrize(
    "error",
    [
        answer("DatabaseResumingException", "The Aurora DB instance is resuming"),
        answer("StatementTimeoutException", "The execution of the SQL statement timed out."),
        answer("TransactionNotFoundException", "Transaction abc is not found"),
        answer("BadRequestException", "Transaction abc is not found"),
        answer("ThrottlingException", "Rate exceeded"),
        answer("ServiceUnavailableError"),
        answer("DatabaseUnavailableException"),
        ReadTimeoutError(endpoint_url="https://rds-data.us-east-1.amazonaws.com"),
        SqlError(1213, "Database error code: 1213. Message: Deadlock found"),
        Retry(),
    ],
    ids=error_id,
)
def test_answers_that_mean_not_now_are_retried(error: Exception):
    assert _transient(error)


@pytest.mark.parametrize(
    "error",
    [
        answer("DatabaseErrorException", "Database error code: 1062. Message: Duplicate entry"),
        answer("BadRequestException", "Database error code: 1146. Message: Table doesn't exist"),
        answer("AccessDeniedException", "User is not authorized to perform rds-data:..."),
        answer("ForbiddenException"),
        answer("HttpEndpointNotEnabledException"),
        ParamValidationError(report="a bug in our request"),
        SqlError(1062, "Database error code: 1062. Message: Duplicate entry"),
    ],
    ids=error_id,
)
def test_answers_about_the_request_or_the_data_are_not_retried(error: Exception):
    """Mutation caught: every BotoCoreError retried (ParamValidationError is one: a bug in
    the request would be sent again and again until the budget ran out, then a 503)."""
    assert not _transient(error)


def test_only_a_resume_or_throttling_means_a_statement_certainly_did_not_run():
    """An autocommit write is retried only on these: after a timeout or a 5xx it may have
    run (data_api.DataApi.execute)."""
    assert {"DatabaseResumingException", "ThrottlingException"} <= NOT_RUN
    assert not NOT_RUN & {"StatementTimeoutException", "InternalServerErrorException"}


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (answer("DatabaseErrorException", "Database error code: 1062. Message: Dup"), 1062),
        (answer("BadRequestException", "Database error code: 1146. Message: No table"), 1146),
        (answer("DatabaseErrorException", "Something else"), None),
    ],
)
def test_a_refused_statement_carries_mysqls_error_number(error: ClientError, code: int | None):
    refused = _sql_error(error)

    assert refused is not None
    assert refused.code == code


def test_a_lost_transaction_is_not_mistaken_for_a_refused_statement():
    assert _sql_error(answer("BadRequestException", "Transaction abc is not found")) is None
