"""The RDS Data API endpoint of the local stack: a WSGI middleware in front of moto.

The local AWS endpoint (local_stack.services.endpoint) puts it behind the IAM gate and before moto:
a request signed for `rds-data` to one of the service's operations (POST /Execute,
/BatchExecute, /BeginTransaction, /CommitTransaction, /RollbackTransaction) is answered
here, over the local MySQL server; anything else goes on to moto, whose own rds-data only
returns canned results. By the time a request arrives the gate has authorized it: the
`rds-data:*` action on the cluster ARN, and the caller's `secretsmanager:GetSecretValue` on
the secret (plus kms:Decrypt through Secrets Manager), which AWS requires of Data API callers.

Requests and answers follow botocore's service model of rds-data (2018-08-01; checked by
tests/local_stack/test_data_api.py): REST-JSON bodies, errors with `x-amzn-ErrorType` and
the model's HTTP status. The secret is read the way the Data API reads it, from Secrets
Manager (moto, in this process): its `username` and `password` log in to the cluster.
"""

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from moto.backends import get_backend

from local_stack.services.data_api import types
from local_stack.services.data_api.cluster import LocalCluster, Login, Outcome, find
from local_stack.services.data_api.errors import DataApiError

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

OPERATIONS = {
    "/Execute": "ExecuteStatement",
    "/BatchExecute": "BatchExecuteStatement",
    "/BeginTransaction": "BeginTransaction",
    "/CommitTransaction": "CommitTransaction",
    "/RollbackTransaction": "RollbackTransaction",
    "/ExecuteSql": "ExecuteSql",
}
SIGNING_SCOPE = "/rds-data/aws4_request"
MAX_RESPONSE_BYTES = 1024 * 1024  # "The response size limit is 1 MiB" (Data API limitations)
MAX_ROW_BYTES = 64 * 1024  # "64 KB per row in the result set" (same page)
COMMITTED = "Transaction Committed"
ROLLED_BACK = "Rollback Complete"


def _secret_document(secret_arn: str, account: str, region: str) -> Mapping[str, Any]:
    parts = secret_arn.split(":")
    where = parts[3] if len(parts) > 3 and parts[0] == "arn" else region
    backend = get_backend("secretsmanager")[account][where]
    try:
        value = backend.get_secret_value(secret_arn, "", "AWSCURRENT")
    except Exception:  # noqa: BLE001 - moto's not-found and decryption errors alike
        raise DataApiError(
            "SecretsErrorException", "The secret provided wasn't found or couldn't be read."
        ) from None
    try:
        document = json.loads(value.get("SecretString") or "")
    except ValueError:
        document = None
    if not isinstance(document, dict) or not {"username", "password"} <= set(document):
        raise DataApiError(
            "InvalidSecretException", "The secret must hold a username and a password."
        )
    return document


class DataApiService:
    """`DataApiService(moto_app)`: rds-data requests here, everything else to `app`."""

    def __init__(self, app: WsgiApp, *, account: str, region: str) -> None:
        self.app = app
        self.account = account
        self.region = region

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        operation = OPERATIONS.get(str(environ.get("PATH_INFO", "")))
        signed_for_us = SIGNING_SCOPE in str(environ.get("HTTP_AUTHORIZATION", ""))
        if operation is None or environ.get("REQUEST_METHOD") != "POST" or not signed_for_us:
            return self.app(environ, start_response)
        stream = environ["wsgi.input"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        try:
            request = json.loads(stream.read(length) or b"{}")
            if not isinstance(request, dict):
                raise types.bad_request("The request body must be a JSON object")
            body = json.dumps(self.handle(operation, request)).encode()
            status, headers = 200, [("Content-Type", "application/json")]
        except DataApiError as error:
            status, headers, body = error.response()
        except ValueError:
            status, headers, body = types.bad_request("The request body is not JSON").response()
        start_response(
            f"{status} {'OK' if status == 200 else 'Error'}",
            [
                *headers,
                ("Content-Length", str(len(body))),
            ],
        )
        return [body]

    # -- operations ---------------------------------------------------------------------

    def handle(self, operation: str, request: Mapping[str, Any]) -> dict[str, Any]:
        if operation == "ExecuteSql":
            raise types.bad_request(
                "ExecuteSql is the Aurora Serverless v1 operation; use ExecuteStatement"
            )
        cluster = self._cluster(request)
        cluster.check_available()
        if operation == "ExecuteStatement":
            return self._execute(cluster, request)
        if operation == "BatchExecuteStatement":
            return self._batch(cluster, request)
        if operation == "BeginTransaction":
            login = self._login(request)
            return {"transactionId": cluster.begin(login, _required(request, "secretArn"))}
        transaction = cluster.transaction(_required(request, "transactionId"))
        with transaction.lock:
            if operation == "RollbackTransaction":
                cluster.end(transaction, commit=False)
                return {"transactionStatus": ROLLED_BACK}
            cluster.end(transaction, commit=True)
        if cluster.take_lost_commit():
            raise DataApiError("InternalServerErrorException", "An internal error occurred.")
        return {"transactionStatus": COMMITTED}

    def _cluster(self, request: Mapping[str, Any]) -> LocalCluster:
        arn = _required(request, "resourceArn")
        _required(request, "secretArn")
        cluster = find(arn)
        if cluster is None:
            raise types.bad_request(f"Invalid cluster arn: {arn}")
        return cluster

    def _login(self, request: Mapping[str, Any]) -> Login:
        document = _secret_document(_required(request, "secretArn"), self.account, self.region)
        database = request.get("database") or None
        return Login(str(document["username"]), str(document["password"]), database)

    def _statement(
        self,
        cluster: LocalCluster,
        request: Mapping[str, Any],
        run: Callable[[Any], Any],
    ) -> Any:
        """Run `run(connection)` in the request's transaction (an error ends it) or on a
        pooled autocommit connection."""
        sql = _required(request, "sql")
        cluster.statement_fault(sql)
        transaction_id = request.get("transactionId")
        if not transaction_id:
            with cluster.connection(self._login(request)) as connection:
                return run(connection)
        transaction = cluster.transaction(str(transaction_id))
        with transaction.lock:
            try:
                return run(transaction.connection)
            except DataApiError:
                cluster.abort(transaction)
                raise

    def _execute(self, cluster: LocalCluster, request: Mapping[str, Any]) -> dict[str, Any]:
        sql, args = types.bind(_required(request, "sql"), request.get("parameters") or [])
        outcome: Outcome = self._statement(
            cluster,
            request,
            lambda connection: cluster.run(
                connection,
                sql,
                args,
                continue_after_timeout=bool(request.get("continueAfterTimeout")),
            ),
        )
        if outcome.fields is None:
            generated = [{"longValue": outcome.lastrowid}] if outcome.lastrowid else []
            return {"numberOfRecordsUpdated": outcome.rowcount, "generatedFields": generated}
        return _result_set(outcome, request)

    def _batch(self, cluster: LocalCluster, request: Mapping[str, Any]) -> dict[str, Any]:
        text = _required(request, "sql")
        statements = [types.bind(text, p) for p in request.get("parameterSets") or []]

        def run(connection: Any) -> list[dict[str, Any]]:
            results = []
            for sql, args in statements:
                outcome = cluster.run(connection, sql, args)
                generated = [{"longValue": outcome.lastrowid}] if outcome.lastrowid else []
                results.append({"generatedFields": generated})
            return results

        return {"updateResults": self._statement(cluster, request, run)}


def _required(request: Mapping[str, Any], name: str) -> str:
    value = request.get(name)
    if not value or not isinstance(value, str):
        raise types.bad_request(f"{name} is required")
    return value


def _result_set(outcome: Outcome, request: Mapping[str, Any]) -> dict[str, Any]:
    options = request.get("resultSetOptions") or {}
    fields = outcome.fields or []
    records = [
        [
            types.field_value(value, column, options)
            for value, column in zip(row, fields, strict=True)
        ]
        for row in outcome.rows
    ]
    for record in records:
        if len(json.dumps([types.wire_field(f) for f in record])) > MAX_ROW_BYTES:
            raise types.bad_request("Query packet too large: a row is over 64 KB")
    response: dict[str, Any] = {"numberOfRecordsUpdated": 0}
    if request.get("formatRecordsAs") == "JSON":
        labels = [column.name for column in fields]
        rows = [
            {label: types.json_value(f) for label, f in zip(labels, record, strict=True)}
            for record in records
        ]
        response["formattedRecords"] = json.dumps(rows)
    else:
        response["records"] = [[types.wire_field(f) for f in record] for record in records]
        if request.get("includeResultMetadata"):
            response["columnMetadata"] = [types.column_metadata(column) for column in fields]
    if len(json.dumps(response)) > MAX_RESPONSE_BYTES:
        raise types.bad_request("Database response exceeded size limit")
    return response
