"""What runs inside a bench worker (bench/worker.py): the handler, the floors, the notes' code.

Everything here executes in the function's own interpreter and environment, so ours, the
floor and the notes' handlers share the Python version, the driver (pymysql from the
layer), the SDK (the runtime's boto3) and the network path (AWS_ENDPOINT_URL and the
database secret of the function). Only the standard library is imported at module level.

A target is called once per payload; only the call is timed (`perf_counter_ns`), never
building its payload or summarising its result.
"""

import contextlib
import importlib
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

Payload = Any
Target = Callable[[Payload], Any]


class LambdaContext:
    """The attributes of the runtime's context object that handlers and Powertools read."""

    def __init__(self) -> None:
        name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "bench")
        region = os.environ.get("AWS_REGION", "us-east-1")
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:123456789012:function:{name}"
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = "bench"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + int(os.environ.get("AWS_LAMBDA_FUNCTION_TIMEOUT", "3"))

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _summary(result: Any) -> Any:
    """What the parent needs of a result: status, body, failures; never megabytes."""
    if isinstance(result, dict):
        keep = {k: result[k] for k in ("statusCode", "body", "batchItemFailures") if k in result}
        return keep or {"keys": sorted(result)[:10]}
    return result if isinstance(result, str | int | float | bool | type(None)) else repr(result)


# Where a warm call's time goes: each profiled function's own time (cProfile's tottime,
# which partitions the total) goes to the first part whose marker is in its file name, or
# for a built-in in its name. Markers are path fragments, as the built layer lays them out.
PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "MySQL: pymysql, TLS and waiting for the server",
        ("/pymysql/", "/ssl.py", "/socket.py", "_ssl.", "_socket."),
    ),
    (
        "Powertools event handler: routing, validation, response",
        ("/aws_lambda_powertools/event_handler/", "/aws_lambda_powertools/utilities/data_classes/"),
    ),
    ("pydantic (our models, the handler's validation)", ("/pydantic/", "pydantic_core")),
    ("Powertools tracer and the X-Ray SDK", ("/aws_lambda_powertools/tracing/", "/aws_xray_sdk/")),
    ("Powertools logger and logging", ("/aws_lambda_powertools/logging/", "/logging/")),
    ("Powertools metrics", ("/aws_lambda_powertools/metrics/",)),
    ("our code: customer_platform and the function", ("/customer_platform/", "/app.py")),
)
OTHER_PART = "other: the standard library, jmespath, Powertools' shared helpers"


def _part(filename: str, name: str) -> str:
    where = name if filename == "~" else filename  # built-ins: "<method 'read' of ...>"
    for part, markers in PARTS:
        if any(marker in where for marker in markers):
            return part
    return OTHER_PART


def _profile(target: Target, calls: list[Payload]) -> dict[str, Any]:
    """Each part's share (%) of the calls' time under cProfile. The profiler slows Python
    code more than waiting on a socket, so the shares are the figure, not the milliseconds."""
    import cProfile  # noqa: PLC0415 - only this request needs it
    import pstats  # noqa: PLC0415

    profile = cProfile.Profile()
    profile.enable()
    for call in calls:
        target(call)
    profile.disable()
    seconds: dict[str, float] = {}
    other: dict[str, float] = {}

    def add(part: str, own: float, filename: str, line: int, name: str) -> None:
        seconds[part] = seconds.get(part, 0.0) + own
        if part == OTHER_PART:
            where = name if filename == "~" else f"{filename.rsplit('/', 1)[-1]}:{line} {name}"
            other[where] = other.get(where, 0.0) + own

    entries: dict[Any, Any] = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    for (filename, line, name), (_, _, own, _, callers) in entries.items():
        part = _part(filename, name)
        if filename == "~" and part == OTHER_PART and callers:
            # a built-in (dict.get, isinstance, str.format...) is the work of whoever
            # called it: its time is split over its callers, by the time each spent in it
            spent = sum(edge[2] for edge in callers.values()) or 1.0
            for caller, edge in callers.items():
                add(_part(caller[0], caller[2]), own * edge[2] / spent, filename, line, name)
        else:
            add(part, own, filename, line, name)
    total = sum(seconds.values()) or 1.0
    ordered = sorted(seconds.items(), key=lambda item: -item[1])
    return {
        "parts": {part: round(100 * own / total, 1) for part, own in ordered},
        "other_top": [
            {"function": where, "percent": round(100 * own / total, 1)}
            for where, own in sorted(other.items(), key=lambda item: -item[1])[:8]
        ],
    }


@contextlib.contextmanager
def _statements() -> Iterator[list[str]]:
    """Every SQL statement this process sends meanwhile, COMMIT and ROLLBACK included, as
    the driver sends it (query text with placeholders, whitespace normalised)."""
    from pymysql import connections, cursors  # noqa: PLC0415

    sent: list[str] = []
    originals = {
        (cursors.Cursor, "execute"): cursors.Cursor.execute,
        (cursors.Cursor, "executemany"): cursors.Cursor.executemany,
        (connections.Connection, "commit"): connections.Connection.commit,
        (connections.Connection, "rollback"): connections.Connection.rollback,
    }

    def execute(self: Any, query: str, args: Any = None) -> Any:
        sent.append(" ".join(query.split()))
        return originals[(cursors.Cursor, "execute")](self, query, args)

    def executemany(self: Any, query: str, args: Any) -> Any:
        sent.append("MANY " + " ".join(query.split()))
        return originals[(cursors.Cursor, "executemany")](self, query, args)

    def commit(self: Any) -> Any:
        sent.append("COMMIT")
        return originals[(connections.Connection, "commit")](self)

    def rollback(self: Any) -> Any:
        sent.append("ROLLBACK")
        return originals[(connections.Connection, "rollback")](self)

    replacements = {"execute": execute, "executemany": executemany, "commit": commit}
    replacements["rollback"] = rollback
    for owner, name in originals:
        setattr(owner, name, replacements[name])
    try:
        yield sent
    finally:
        for (owner, name), original in originals.items():
            setattr(owner, name, original)


class Environment:
    """The worker's state: the function's handler and the comparison targets."""

    def __init__(self) -> None:
        self.targets: dict[str, Target] = {}
        self._floors: dict[str, Any] = {}

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        if request["op"] == "load":
            module, _, attribute = request["handler"].rpartition(".")
            handler = getattr(importlib.import_module(module), attribute)
            self.targets["ours"] = lambda event: handler(event, LambdaContext())
            return {"ok": True}
        if request["op"] == "run":
            target = self.target(request["target"])
            durations, results = [], []
            for payload in request["calls"]:
                started = time.perf_counter_ns()
                result = target(payload)
                durations.append(time.perf_counter_ns() - started)
                results.append(_summary(result))
            return {"ns": durations, "results": results}
        if request["op"] == "profile":
            return _profile(self.target(request["target"]), request["calls"])
        if request["op"] == "trace":
            target = self.target(request["target"])
            with _statements() as statements:
                result = target(request["call"])
            return {"statements": statements, "result": _summary(result)}
        raise ValueError(f"unknown request {request['op']!r}")

    def target(self, name: str) -> Target:
        if name not in self.targets:
            self.targets[name] = self._make(name)
        return self.targets[name]

    def _make(self, name: str) -> Target:
        family, _, op = name.partition(".")
        if family == "naive_rds":
            from bench import naive_rds  # noqa: PLC0415

            handler = naive_rds.HANDLERS[op]
            return lambda event: handler(event, None)
        if family == "naive_rds_reuse":
            from bench import naive_rds  # noqa: PLC0415

            handler = naive_rds.REUSING_CLIENT[op]
            return lambda event: handler(event, None)
        if family == "naive_dynamodb":
            from bench import naive_dynamodb  # noqa: PLC0415

            handler = naive_dynamodb.HANDLERS[op]
            return lambda event: handler(event, None)
        if family.startswith("floor_"):
            one = family.startswith("floor_one_")
            backend = family.removeprefix("floor_one_" if one else "floor_")
            kinds = {"rds": RdsFloor, "dynamodb": DynamoDBFloor, "aurora": AuroraFloor}
            floor = self._floor(backend, kinds[backend])
            return getattr(floor, f"one_{op}" if one else op)  # type: ignore[no-any-return]
        if family == "ingest":
            ingest = self._floor("ingest", Ingest)
            return getattr(ingest, op)  # type: ignore[no-any-return]
        raise ValueError(f"unknown target {name!r}")

    def _floor(self, name: str, kind: Callable[[], Any]) -> Any:
        if name not in self._floors:
            self._floors[name] = kind()
        return self._floors[name]


# -- MySQL ----------------------------------------------------------------------------------


def _secret() -> dict[str, Any]:
    import boto3  # noqa: PLC0415

    client = boto3.client("secretsmanager")
    text = client.get_secret_value(SecretId=os.environ["DATABASE_SECRET_ARN"])["SecretString"]
    secret: dict[str, Any] = json.loads(text)
    return secret


def _connect(secret: dict[str, Any], *, autocommit: bool) -> Any:
    """A connection as customer_platform.database opens one (same driver, settings and
    session init); with `autocommit`, as the notes and the one-statement floor use it."""
    import pymysql  # noqa: PLC0415
    from pymysql.constants import CLIENT  # noqa: PLC0415

    from customer_platform.database import SESSION_INIT  # noqa: PLC0415

    return pymysql.connect(
        host=secret["host"],
        port=int(secret["port"]),
        user=secret["username"],
        password=secret["password"],
        database=secret["dbname"],
        charset="utf8mb4",
        autocommit=autocommit,
        connect_timeout=2,
        read_timeout=5,
        write_timeout=5,
        init_command=SESSION_INIT,
        client_flag=CLIENT.FOUND_ROWS,
    )


COLUMNS = "id, name, email, created_at, updated_at"
SELECT_ONE = f"SELECT {COLUMNS} FROM customers WHERE id = %s"  # noqa: S608 - constant
INSERT = f"INSERT INTO customers ({COLUMNS}) VALUES (%s, %s, %s, %s, %s)"  # noqa: S608
UPDATE = (
    "UPDATE customers SET name = %s, email = %s, updated_at = %s WHERE id = %s AND updated_at = %s"
)
DELETE = "DELETE FROM customers WHERE id = %s AND updated_at = %s"
LIST = f"SELECT {COLUMNS} FROM customers ORDER BY id LIMIT %s"  # noqa: S608
OUTBOX = (
    "INSERT INTO customer_events_outbox "
    "(event_id, event_type, customer_id, payload, created_at) VALUES (%s, %s, %s, %s, %s)"
)


def _time(text: str) -> Any:
    from datetime import datetime  # noqa: PLC0415

    return datetime.fromisoformat(text).replace(tzinfo=None)


class RdsFloor:
    """The statements our MySQL repository sends for each operation, sent raw.

    Same-work floors (`get`, `create`, ...) run what `customer_platform.customers.mysql`
    runs, unit of work by unit of work, each ending in COMMIT as `Database.run` does: get
    and list are SELECT + COMMIT; create is INSERT + outbox INSERT + COMMIT; update and
    delete read first (SELECT + COMMIT) and then change the row conditioned on the
    `updated_at` they read, with the outbox INSERT, + COMMIT. The benchmark checks that
    they match by counting statements at the server. One-statement floors (`one_*`) are
    the single statement on an autocommit connection, the least any handler can do.
    """

    def __init__(self) -> None:
        secret = _secret()
        self.work = _connect(secret, autocommit=False)
        self.single = _connect(secret, autocommit=True)

    def _read(self, customer_id: str) -> Any:
        with self.work.cursor() as cursor:
            cursor.execute(SELECT_ONE, (customer_id,))
            row = cursor.fetchone()
        self.work.commit()
        if row is None:
            raise RuntimeError(f"floor: no customer {customer_id}")
        return row

    def get(self, p: dict[str, Any]) -> None:
        self._read(p["id"])

    def create(self, p: dict[str, Any]) -> None:
        with self.work.cursor() as cursor:
            cursor.execute(INSERT, (p["id"], p["name"], p["email"], _time(p["at"]), _time(p["at"])))
            cursor.execute(
                OUTBOX, (p["event_id"], "CustomerCreated", p["id"], p["payload"], _time(p["at"]))
            )
        self.work.commit()

    def update(self, p: dict[str, Any]) -> None:
        _, _, email, _, seen = self._read(p["id"])
        with self.work.cursor() as cursor:
            cursor.execute(UPDATE, (p["name"], email, _time(p["at"]), p["id"], seen))
            if cursor.rowcount != 1:
                raise RuntimeError("floor: update matched no row")
            cursor.execute(
                OUTBOX, (p["event_id"], "CustomerUpdated", p["id"], p["payload"], _time(p["at"]))
            )
        self.work.commit()

    def delete(self, p: dict[str, Any]) -> None:
        _, _, _, _, seen = self._read(p["id"])
        with self.work.cursor() as cursor:
            cursor.execute(DELETE, (p["id"], seen))
            if cursor.rowcount != 1:
                raise RuntimeError("floor: delete matched no row")
            cursor.execute(
                OUTBOX, (p["event_id"], "CustomerDeleted", p["id"], p["payload"], _time(p["at"]))
            )
        self.work.commit()

    def list(self, p: dict[str, Any]) -> None:
        with self.work.cursor() as cursor:
            cursor.execute(LIST, (p["limit"] + 1,))
            cursor.fetchall()
        self.work.commit()

    # one statement, autocommit
    def one_get(self, p: dict[str, Any]) -> None:
        with self.single.cursor() as cursor:
            cursor.execute(SELECT_ONE, (p["id"],))
            if cursor.fetchone() is None:
                raise RuntimeError(f"floor: no customer {p['id']}")

    def one_create(self, p: dict[str, Any]) -> None:
        with self.single.cursor() as cursor:
            cursor.execute(INSERT, (p["id"], p["name"], p["email"], _time(p["at"]), _time(p["at"])))

    def one_update(self, p: dict[str, Any]) -> None:
        with self.single.cursor() as cursor:
            cursor.execute(
                "UPDATE customers SET name = %s, updated_at = %s WHERE id = %s",
                (p["name"], _time(p["at"]), p["id"]),
            )

    def one_delete(self, p: dict[str, Any]) -> None:
        with self.single.cursor() as cursor:
            cursor.execute("DELETE FROM customers WHERE id = %s", (p["id"],))

    def one_list(self, p: dict[str, Any]) -> None:
        with self.single.cursor() as cursor:
            cursor.execute(LIST, (p["limit"] + 1,))
            cursor.fetchall()


# -- DynamoDB -------------------------------------------------------------------------------


class DynamoDBFloor:
    """The calls our DynamoDB repository makes for each operation, made raw with the same
    client configuration (customer_platform.aws.CLIENT_CONFIG): get is GetItem; create one
    TransactWriteItems (customer + email guard); update and delete read first (GetItem)
    and then write conditioned on the `updatedAt` read (update: one Put in a transaction,
    delete: the customer and its guard); list is Scan of the sparse index. The benchmark
    checks that they match by counting calls at the AWS endpoint. One-call floors are the
    single plain call (PutItem, UpdateItem-free PutItem, DeleteItem) the notes make."""

    def __init__(self) -> None:
        import boto3  # noqa: PLC0415

        from customer_platform.aws import CLIENT_CONFIG  # noqa: PLC0415

        self.client = boto3.client("dynamodb", config=CLIENT_CONFIG)
        self.table = os.environ["CUSTOMERS_TABLE_NAME"]
        self.index = os.environ["CUSTOMERS_LIST_INDEX_NAME"]

    @staticmethod
    def _item(p: dict[str, Any], at: str) -> dict[str, Any]:
        return {
            "pk": {"S": "CUSTOMER#" + p["id"]},
            "customerId": {"S": p["id"]},
            "name": {"S": p["name"]},
            "email": {"S": p["email"]},
            "createdAt": {"S": p.get("created", at)},
            "updatedAt": {"S": at},
        }

    def _read(self, customer_id: str) -> dict[str, Any]:
        key = {"pk": {"S": "CUSTOMER#" + customer_id}}
        item: dict[str, Any] | None = self.client.get_item(
            TableName=self.table, Key=key, ConsistentRead=True
        ).get("Item")
        if item is None:
            raise RuntimeError(f"floor: no customer {customer_id}")
        return item

    def get(self, p: dict[str, Any]) -> None:
        self._read(p["id"])

    def create(self, p: dict[str, Any]) -> None:
        self.client.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": self._item(p, p["at"]),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": {"pk": {"S": "EMAIL#" + p["email"]}, "owner": {"S": p["id"]}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )

    def update(self, p: dict[str, Any]) -> None:
        current = self._read(p["id"])
        item = self._item(
            p | {"email": current["email"]["S"], "created": current["createdAt"]["S"]}, p["at"]
        )
        self.client.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": item,
                        "ConditionExpression": "updatedAt = :seen",
                        "ExpressionAttributeValues": {":seen": current["updatedAt"]},
                    }
                }
            ]
        )

    def delete(self, p: dict[str, Any]) -> None:
        current = self._read(p["id"])
        self.client.transact_write_items(
            TransactItems=[
                {
                    "Delete": {
                        "TableName": self.table,
                        "Key": {"pk": {"S": "CUSTOMER#" + p["id"]}},
                        "ConditionExpression": "updatedAt = :seen",
                        "ExpressionAttributeValues": {":seen": current["updatedAt"]},
                    }
                },
                {
                    "Delete": {
                        "TableName": self.table,
                        "Key": {"pk": {"S": "EMAIL#" + current["email"]["S"]}},
                        "ConditionExpression": "#owner = :id",
                        "ExpressionAttributeNames": {"#owner": "owner"},
                        "ExpressionAttributeValues": {":id": {"S": p["id"]}},
                    }
                },
            ]
        )

    def list(self, p: dict[str, Any]) -> None:
        self.client.scan(TableName=self.table, IndexName=self.index, Limit=p["limit"] + 1)

    def one_get(self, p: dict[str, Any]) -> None:
        self.get(p)

    def one_create(self, p: dict[str, Any]) -> None:
        self.client.put_item(TableName=self.table, Item=self._item(p, p["at"]))

    def one_update(self, p: dict[str, Any]) -> None:
        self.client.put_item(TableName=self.table, Item=self._item(p, p["at"]))

    def one_delete(self, p: dict[str, Any]) -> None:
        self.client.delete_item(TableName=self.table, Key={"pk": {"S": "CUSTOMER#" + p["id"]}})

    def one_list(self, p: dict[str, Any]) -> None:
        self.list(p)


# -- Aurora through the RDS Data API ---------------------------------------------------------

AURORA_SELECT_ONE = f"SELECT {COLUMNS} FROM customers WHERE id = :id"  # noqa: S608 - constant
AURORA_LOCK = "SELECT updated_at FROM customers WHERE id = :id FOR UPDATE"
AURORA_INSERT = (
    f"INSERT INTO customers ({COLUMNS}) "  # noqa: S608 - constant
    "VALUES (:id, :name, :email, :created_at, :updated_at)"
)
AURORA_UPDATE = (
    "UPDATE customers SET name = :name, email = :email, updated_at = :updated_at WHERE id = :id"
)
AURORA_DELETE = "DELETE FROM customers WHERE id = :id"
AURORA_LIST = f"SELECT {COLUMNS} FROM customers ORDER BY id LIMIT :limit"  # noqa: S608
AURORA_OUTBOX = (
    "INSERT INTO customer_events_outbox (event_id, event_type, customer_id, payload, created_at)"
    " VALUES (:event_id, :event_type, :customer_id, :payload, :created_at)"
)
AURORA_STAMP = (
    "UPDATE customer_events_outbox SET published_at = UTC_TIMESTAMP(3)"
    " WHERE event_id = :event_id AND published_at IS NULL"
)


def _s(name: str, value: str, hint: str | None = None) -> dict[str, Any]:
    parameter: dict[str, Any] = {"name": name, "value": {"stringValue": value}}
    if hint is not None:
        parameter["typeHint"] = hint
    return parameter


def _stamp(text: str) -> str:
    """An ISO time as the Data API's TIMESTAMP type hint takes it (milliseconds)."""
    return _time(text).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]  # type: ignore[no-any-return]


class AuroraFloor:
    """The Data API calls our Aurora repository makes for each operation, made raw with
    boto3's rds-data client (customer_platform.customers.data_api, events.data_api_outbox):
    get and list are one ExecuteStatement; create is BeginTransaction, the INSERT and the
    outbox INSERT, CommitTransaction, then the event's PublishBatch and its stamp (one more
    ExecuteStatement); update and delete read first (ExecuteStatement), then in a
    transaction lock the row (SELECT ... FOR UPDATE), change it, write the outbox row,
    commit, publish and stamp. The benchmark checks the calls match by counting them at the
    AWS endpoint. One-call floors are the single autocommit statement."""

    def __init__(self) -> None:
        import boto3  # noqa: PLC0415

        from customer_platform.aws import CLIENT_CONFIG  # noqa: PLC0415

        self.client: Any = boto3.client("rds-data", config=CLIENT_CONFIG)
        self.sns = boto3.client("sns", config=CLIENT_CONFIG)
        self.cluster = os.environ["AURORA_CLUSTER_ARN"]
        self.secret = os.environ["AURORA_SECRET_ARN"]
        self.database = os.environ["AURORA_DATABASE_NAME"]
        self.topic = os.environ["CUSTOMER_EVENTS_TOPIC_ARN"]

    def _execute(self, sql: str, parameters: list[dict[str, Any]], **extra: Any) -> Any:
        return self.client.execute_statement(
            resourceArn=self.cluster,
            secretArn=self.secret,
            database=self.database,
            sql=sql,
            parameters=parameters,
            **extra,
        )

    def _query(self, sql: str, parameters: list[dict[str, Any]], **extra: Any) -> list[Any]:
        response = self._execute(sql, parameters, formatRecordsAs="JSON", **extra)
        rows: list[Any] = json.loads(response.get("formattedRecords") or "[]")
        return rows

    def _read(self, customer_id: str) -> dict[str, Any]:
        rows = self._query(AURORA_SELECT_ONE, [_s("id", customer_id)])
        if not rows:
            raise RuntimeError(f"floor: no customer {customer_id}")
        row: dict[str, Any] = rows[0]
        return row

    def _values(self, p: dict[str, Any], email: str | None = None) -> list[dict[str, Any]]:
        at = _stamp(p["at"])
        return [
            _s("id", p["id"]),
            _s("name", p["name"]),
            _s("email", email or p["email"]),
            _s("created_at", at, "TIMESTAMP"),
            _s("updated_at", at, "TIMESTAMP"),
        ]

    def _change(
        self, p: dict[str, Any], event_type: str, statements: Callable[[str], None]
    ) -> None:
        """One Data API transaction with the outbox row, then publish and stamp."""
        transaction = self.client.begin_transaction(
            resourceArn=self.cluster, secretArn=self.secret, database=self.database
        )["transactionId"]
        statements(transaction)
        outbox = [
            _s("event_id", p["event_id"]),
            _s("event_type", event_type),
            _s("customer_id", p["id"]),
            _s("payload", p["payload"]),
            _s("created_at", _stamp(p["at"]), "TIMESTAMP"),
        ]
        self._execute(AURORA_OUTBOX, outbox, transactionId=transaction)
        self.client.commit_transaction(
            resourceArn=self.cluster, secretArn=self.secret, transactionId=transaction
        )
        self.sns.publish_batch(
            TopicArn=self.topic,
            PublishBatchRequestEntries=[
                {
                    "Id": "0",
                    "Message": p["payload"],
                    "MessageAttributes": {
                        "eventType": {"DataType": "String", "StringValue": event_type},
                        "backend": {"DataType": "String", "StringValue": "aurora"},
                    },
                }
            ],
        )
        self._execute(AURORA_STAMP, [_s("event_id", p["event_id"])])

    def get(self, p: dict[str, Any]) -> None:
        self._read(p["id"])

    def create(self, p: dict[str, Any]) -> None:
        self._change(
            p,
            "CustomerCreated",
            lambda t: self._execute(AURORA_INSERT, self._values(p), transactionId=t),
        )

    def _locked(self, customer_id: str, transaction: str) -> None:
        if not self._query(AURORA_LOCK, [_s("id", customer_id)], transactionId=transaction):
            raise RuntimeError(f"floor: no customer {customer_id}")

    def update(self, p: dict[str, Any]) -> None:
        email = self._read(p["id"])["email"]

        def statements(transaction: str) -> None:
            self._locked(p["id"], transaction)
            values = [v for v in self._values(p, email) if v["name"] != "created_at"]
            self._execute(AURORA_UPDATE, values, transactionId=transaction)

        self._change(p, "CustomerUpdated", statements)

    def delete(self, p: dict[str, Any]) -> None:
        self._read(p["id"])

        def statements(transaction: str) -> None:
            self._locked(p["id"], transaction)
            self._execute(AURORA_DELETE, [_s("id", p["id"])], transactionId=transaction)

        self._change(p, "CustomerDeleted", statements)

    def list(self, p: dict[str, Any]) -> None:
        limit = {"name": "limit", "value": {"longValue": p["limit"] + 1}}
        self._query(AURORA_LIST, [limit])

    # one statement, autocommit
    def one_get(self, p: dict[str, Any]) -> None:
        self.get(p)

    def one_create(self, p: dict[str, Any]) -> None:
        self._execute(AURORA_INSERT, self._values(p))

    def one_update(self, p: dict[str, Any]) -> None:
        values = [v for v in self._values(p) if v["name"] != "created_at"]
        self._execute(AURORA_UPDATE, values)

    def one_delete(self, p: dict[str, Any]) -> None:
        self._execute(AURORA_DELETE, [_s("id", p["id"])])

    def one_list(self, p: dict[str, Any]) -> None:
        self.list(p)


# -- partner ingest -------------------------------------------------------------------------

ROW_INSERT = (
    "INSERT INTO customers (id, partner_id, name, email, created_at, updated_at) "
    "VALUES (%s, %s, %s, %s, NOW(3), NOW(3))"
)


class Ingest:
    """The partner writer's way of writing a message of rows, and the notes' cron loop.

    ours         `Database.run(upsert_rows)` per message: what PartnerWriterFunction does
                 for each record once it is parsed (customer_platform.partners.writing)
    same_work_loop  the same work row by row: `upsert_rows` called with one row at a
                 time (its two locked reads, its upsert, its outbox event: four statements
                 per row), one transaction per message as ours; what batching alone buys
    row_by_row   the notes' cron job: one `execute` per row, one commit at the end (less
                 work than ours: no uniqueness checks, no events)
    commit_each  the same loop committing every row, as the notes' create handler does
    A payload is one message body (JSON text, as the fetcher queues it) for `ours`,
    `ours_parsing` and `same_work_loop`, and the same rows as plain lists for the notes'
    loops."""

    def __init__(self) -> None:
        from customer_platform.database import Credentials, Database  # noqa: PLC0415
        from customer_platform.partners.models import IngestMessage  # noqa: PLC0415

        secret = _secret()
        credentials = Credentials.from_secret(json.dumps(secret))
        self.database = Database(lambda _force: credentials)
        self.notes = _connect(secret, autocommit=False)
        self.parse = IngestMessage.model_validate_json
        self.parsed: dict[str, Any] = {}

    def prepare(self, body: str) -> int:
        """Parse a message once, untimed (the `ours` variant times the writing only)."""
        self.parsed[body] = self.parse(body).rows
        return len(self.parsed[body])

    def _write(self, rows: Any, *, one_at_a_time: bool = False) -> int:
        from datetime import UTC, datetime  # noqa: PLC0415

        from customer_platform.partners.writing import WriteResult, upsert_rows  # noqa: PLC0415

        now = datetime.now(UTC)

        def write(cursor: Any) -> list[WriteResult]:
            if one_at_a_time:
                return [upsert_rows(cursor, [row], now) for row in rows]
            return [upsert_rows(cursor, rows, now)]

        written = self.database.run(write)
        rejected = [reason for result in written for reason in result.rejected]
        if rejected:
            raise RuntimeError(f"ingest rejected rows: {rejected[:3]}")
        return sum(result.inserted + result.updated + result.unchanged for result in written)

    def ours(self, body: str) -> int:
        return self._write(self.parsed[body])

    def same_work_loop(self, body: str) -> int:
        return self._write(self.parsed[body], one_at_a_time=True)

    def ours_parsing(self, body: str) -> int:
        return self._write(self.parse(body).rows)

    def row_by_row(self, rows: list[list[str]]) -> int:
        with self.notes.cursor() as cursor:
            for partner_id, name, email in rows:
                cursor.execute(ROW_INSERT, (str(uuid.uuid4()), partner_id, name, email))
        self.notes.commit()
        return len(rows)

    def commit_each(self, rows: list[list[str]]) -> int:
        with self.notes.cursor() as cursor:
            for partner_id, name, email in rows:
                cursor.execute(ROW_INSERT, (str(uuid.uuid4()), partner_id, name, email))
                self.notes.commit()
        return len(rows)
