"""Warm latency of the customers APIs on both backends: ours, the floor, the notes' handlers.

For each backend (RDS MySQL, DynamoDB) and each operation (create, get, update, list,
delete), three series run on the same data, interleaved in blocks so that a change in
machine load hits all three alike:

ours    the deployed function's `lambda_handler` (customers_rds, customers_dynamodb) on an
        API Gateway proxy event built from events/customers_<backend>/*.json, in its warm
        execution environment (connection open, secrets and clients cached). Everything a
        request costs inside Lambda is timed: Powertools resolver, validation, logging,
        metrics, the logic, the storage calls, the JSON response. Nothing is subtracted.
floor   the storage work done raw: one pymysql statement on an already open autocommit
        connection to the same database; on DynamoDB the boto3 call our repository makes
        (get_item, scan, and for writes the transact_write_items that keeps emails unique
        and catches a concurrent writer) against the same moto.
naive   the notes' handlers (bench/naive_rds.py, bench/naive_dynamodb.py) on the same
        events.

Creates and deletes alternate block by block, so the table keeps its size; list runs last,
on several pages of customers, so every list also signs a next-page token. The first
invocation of each function (the cold one: connection, secret, clients) creates the
customer that get and update then read; it is not timed. Every later invocation is
counted: secret fetches (GetSecretValue calls) and MySQL connections per 1,000.
"""

import contextlib
import copy
import io
import json
import os
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

import pymysql
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends

from bench import naive_dynamodb, naive_rds
from bench.harness import REPO, Counters, Series, Tally, progress
from local_stack.functions import LambdaContext, LocalFunction, _captured_stdout
from local_stack.stack import LocalStack

OPS = ("get", "create", "update", "delete", "list")
# create and delete run together (a block of each in turn); list last, on a full page
SCHEDULE = (("create", "delete"), ("get",), ("update",), ("list",))
EXPECTED_STATUS = {"create": 201, "get": 200, "update": 200, "list": 200, "delete": 204}
FUNCTIONS = {"rds": "CustomersRdsFunction", "dynamodb": "CustomersDynamoDBFunction"}
PAGE_SIZE = 20  # the API's default page size
LIST_FILL = 3 * PAGE_SIZE  # customers added before the list runs
WARMUP = 20  # untimed calls per series before each operation's timed rounds
# Timed rounds per operation; each round runs a short block of every series in turn, so a
# change in machine load, or in the table's size while creates and deletes alternate,
# reaches all three series alike.
BLOCKS = 50


@dataclass
class Case:
    backend: str
    op: str
    ours: Series
    floor: Series
    naive: Series
    extra: dict[str, Series] = field(default_factory=dict)  # reference series, if any


@dataclass
class WarmResults:
    cases: list[Case] = field(default_factory=list)
    tallies: dict[str, Tally] = field(default_factory=dict)


class Events:
    """API Gateway proxy events from events/customers_<backend>/<op>.json, re-aimed."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        folder = REPO / "events" / f"customers_{backend}"
        self._templates = {op: json.loads((folder / f"{op}.json").read_text()) for op in OPS}

    def make(
        self,
        op: str,
        *,
        customer_id: str | None = None,
        body: dict[str, Any] | None = None,
        query: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        event: dict[str, Any] = copy.deepcopy(self._templates[op])
        path = f"/{self.backend}/customers" + (f"/{customer_id}" if customer_id else "")
        event["path"] = path
        event["requestContext"]["path"] = f"/{event['requestContext']['stage']}{path}"
        if customer_id is not None:
            event["pathParameters"] = {"id": customer_id}
        if body is not None:
            event["body"] = json.dumps(body)
        if query is not None:
            event["queryStringParameters"] = query
            event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()}
        return event


def status(response: Any, expected: int, what: str, logs: str = "") -> Any:
    if not isinstance(response, dict) or response.get("statusCode") != expected:
        raise RuntimeError(
            f"{what}: expected {expected}, got {response!r:.500}"
            + (f"\nthe handler's log ends:\n{logs}" if logs else "")
        )
    return response


class WarmInvoker:
    """Calls a function's handler as Lambda calls it in a warm execution environment."""

    def __init__(self, function: LocalFunction, handler: Any, logs: io.StringIO) -> None:
        self._function = function
        self._handler = handler
        self._logs = logs

    def __call__(self, event: dict[str, Any], series: Series | None = None) -> Any:
        function = self._function
        context = LambdaContext(function_name=function.name, timeout_s=function.source.timeout)
        if series is None:
            return self._handler(event, context)
        return series.time(lambda: self._handler(event, context))

    def log_tail(self, chars: int = 3000) -> str:
        """The end of what the handler logged (for an error message)."""
        return self._logs.getvalue()[-chars:]


@contextlib.contextmanager
def warm_handler(function: LocalFunction) -> Iterator[WarmInvoker]:
    """The function's handler as Lambda calls it in a warm execution environment.

    `LocalFunction.invoke()` swaps the function's modules and environment variables into
    the process around every call (a few ms with thousands of modules loaded), which
    Lambda never does. Here the swap happens once per block of calls, the handler's logs
    go to a buffer as invoke() sends them, and only `handler(event, context)` is timed.
    """
    with function._namespace(), _captured_stdout() as logs:
        if function._handler is None:
            function._handler = function._load()
        yield WarmInvoker(function, function._handler, logs)


def _now() -> datetime:
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Workload:
    """The three series' steps for one backend; subclasses hold the floor and the naive."""

    backend = ""

    def __init__(self, stack: LocalStack, counters: Counters, requests: int, naive: int) -> None:
        self.stack = stack
        self.counters = counters
        self.requests = requests
        self.naive_requests = naive
        self.function = stack.function(FUNCTIONS[self.backend])
        self.events = Events(self.backend)
        self.tag = uuid.uuid4().hex[:8]
        self.ours_ids: list[str] = []
        self.naive_ids: list[str] = []
        self.floor_ids: list[str] = []
        self.serial = 0
        self.ours_tally = Tally()
        self.naive_tally = Tally()
        self.seed_id = ""
        self.seed_email = ""

    def email(self, who: str) -> str:
        self.serial += 1
        return f"bench-{self.tag}-{who}-{self.serial}@example.com"

    # -- ours -----------------------------------------------------------------------------

    def cold_start(self) -> None:
        """The first invocation (not timed, not counted): it creates the seed customer."""
        self.seed_email = self.email("seed")
        event = self.events.make("create", body={"name": "Seed", "email": self.seed_email})
        response = status(self.function.invoke(event).result, 201, "seed create")
        self.seed_id = json.loads(response["body"])["id"]

    def ours_event(self, op: str, i: int) -> dict[str, Any]:
        if op == "create":
            return self.events.make(op, body={"name": f"Ours {i}", "email": self.email("ours")})
        if op == "get":
            return self.events.make(op, customer_id=self.seed_id)
        if op == "update":
            body = {"name": f"Seed {i}", "email": self.seed_email}
            return self.events.make(op, customer_id=self.seed_id, body=body)
        if op == "list":
            return self.events.make(op, query={"limit": str(PAGE_SIZE)})
        return self.events.make(op, customer_id=self.ours_ids.pop())

    def ours_block(self, op: str, count: int, series: Series | None) -> None:
        events = [self.ours_event(op, i) for i in range(count)]
        with warm_handler(self.function) as call, self.counters.counting(self.ours_tally, count):
            responses = [call(event, series) for event in events]
            logs = call.log_tail()
        for response in responses:
            status(response, EXPECTED_STATUS[op], f"{self.backend} {op} (ours)", logs)
            if op == "create":
                self.ours_ids.append(json.loads(response["body"])["id"])

    # -- the notes' handlers --------------------------------------------------------------

    def naive_event(self, op: str, i: int) -> dict[str, Any]:
        raise NotImplementedError

    def naive_handlers(self) -> Mapping[str, Callable[[dict[str, Any], Any], dict[str, Any]]]:
        raise NotImplementedError

    def naive_block(self, op: str, count: int, series: Series | None) -> None:
        handler = self.naive_handlers()[op]
        events = [self.naive_event(op, i) for i in range(count)]
        responses = []
        with self.counters.counting(self.naive_tally, count):
            for event in events:
                if series is None:
                    responses.append(handler(event, None))
                else:
                    responses.append(series.time(partial(handler, event, None)))
        for response in responses:
            status(response, 200, f"{self.backend} {op} (the notes' handler)")

    # -- the floor ------------------------------------------------------------------------

    def floor_step(self, op: str, i: int) -> Callable[[], Any]:
        raise NotImplementedError

    def floor_block(self, op: str, count: int, series: Series | None) -> None:
        for i in range(count):
            call = self.floor_step(op, i)
            if series is None:
                call()
            else:
                series.time(call)

    def prepare(self, op: str, naive_count: int) -> None:
        """Untimed set-up before an operation (rows for the notes' delete to remove)."""

    # -- one operation, all three series --------------------------------------------------

    def after_block(self) -> None:
        """Called after every block of calls."""

    def extra_blocks(self, case: Case, count: int) -> None:
        """Reference series beside the floor, for some operations."""

    def _case(self, op: str) -> Case:
        return Case(
            backend=self.backend,
            op=op,
            ours=Series(f"{self.backend}_{op}.ours", f"{FUNCTIONS[self.backend]} {op}, warm"),
            floor=Series(f"{self.backend}_{op}.floor", f"raw {self.backend} {op}"),
            naive=Series(f"{self.backend}_{op}.naive", f"the notes' {self.backend} {op} handler"),
        )

    def run(self, *ops: str) -> list[Case]:
        """Warm-up, then BLOCKS rounds; each round runs a block of every series of every op
        in `ops` (create and delete go together, so the table keeps its size)."""
        cases = [self._case(op) for op in ops]
        for op in ops:
            self.prepare(op, WARMUP + self.naive_requests)
        for op in ops:
            for block_of in (self.ours_block, self.floor_block, self.naive_block):
                block_of(op, WARMUP, None)
                self.after_block()
        for block in range(BLOCKS):
            count, naive = _share(self.requests, block), _share(self.naive_requests, block)
            for case in cases:
                self.ours_block(case.op, count, case.ours)
                self.after_block()
                self.floor_block(case.op, count, case.floor)
                self.after_block()
                self.extra_blocks(case, count)
                self.naive_block(case.op, naive, case.naive)
                self.after_block()
        return cases

    def close(self) -> None:
        """Release what the floor holds."""


def _share(total: int, block: int) -> int:
    """Block `block`'s part of `total` calls spread over BLOCKS blocks."""
    return total // BLOCKS + (1 if block < total % BLOCKS else 0)


class RdsWorkload(Workload):
    backend = "rds"

    def __init__(self, stack: LocalStack, counters: Counters, requests: int, naive: int) -> None:
        super().__init__(stack, counters, requests, naive)
        secrets = stack.cloud.client("secretsmanager")
        arn = self.function.environment["DATABASE_SECRET_ARN"]
        secret = json.loads(secrets.get_secret_value(SecretId=arn)["SecretString"])
        self.connection = pymysql.connect(
            host=secret["host"],
            port=int(secret["port"]),
            user=secret["username"],
            password=secret["password"],
            database=secret["dbname"],
            charset="utf8mb4",
            autocommit=True,
        )
        self.cursor = self.connection.cursor()
        # The floor in a transaction, as Database.run does every unit of work: the statement,
        # then COMMIT, one more round trip (a reference for get, beside the floor).
        self.transactional = pymysql.connect(
            host=secret["host"],
            port=int(secret["port"]),
            user=secret["username"],
            password=secret["password"],
            database=secret["dbname"],
            charset="utf8mb4",
            autocommit=False,
        )
        # what the notes' handlers read from their environment
        os.environ["DATABASE_SECRET_ARN"] = arn

    def naive_handlers(self) -> Mapping[str, Callable[[dict[str, Any], Any], dict[str, Any]]]:
        return naive_rds.HANDLERS

    def naive_event(self, op: str, i: int) -> dict[str, Any]:
        if op == "create":
            return self.events.make(op, body={"name": f"Naive {i}", "email": self.email("naive")})
        if op == "get":
            return self.events.make(op, customer_id=self.seed_id)
        if op == "update":
            body = {"name": f"Seed {i}", "email": self.seed_email}
            return self.events.make(op, customer_id=self.seed_id, body=body)
        if op == "list":
            return self.events.make(op, query={"limit": str(PAGE_SIZE)})
        return self.events.make(op, customer_id=self.naive_ids.pop())

    def _insert(self, who: str, count: int) -> list[str]:
        moment = _now().replace(tzinfo=None)
        rows = [
            (str(uuid.uuid4()), f"{who} {i}", self.email(who.lower()), moment, moment)
            for i in range(count)
        ]
        self.cursor.executemany(
            "INSERT INTO customers (id, name, email, created_at, updated_at) "
            "VALUES (%s, %s, %s, %s, %s)",
            rows,
        )
        return [row[0] for row in rows]

    def prepare(self, op: str, naive_count: int) -> None:
        if op == "delete":  # the notes' create returns no id: rows for their delete
            self.naive_ids = self._insert("Naive", naive_count)
        elif op == "list":  # several pages, so every list also issues a next-page token
            self._insert("Listed", LIST_FILL)

    def extra_blocks(self, case: Case, count: int) -> None:
        if case.op != "get":
            return
        series = case.extra.setdefault(
            "floor_with_commit",
            Series("rds_get.floor_with_commit", "raw SELECT then COMMIT, as one unit of work"),
        )
        select = "SELECT id, name, email, created_at, updated_at FROM customers WHERE id = %s"
        connection = self.transactional

        def select_and_commit() -> None:
            with connection.cursor() as cursor:
                cursor.execute(select, (self.seed_id,))
                if cursor.fetchone() is None:
                    raise RuntimeError("floor get found no row")
            connection.commit()

        for _ in range(count):
            series.time(select_and_commit)

    def floor_step(self, op: str, i: int) -> Callable[[], Any]:
        cursor = self.cursor
        columns = "id, name, email, created_at, updated_at"
        if op == "create":
            moment = _now().replace(tzinfo=None)
            row = (str(uuid.uuid4()), f"Floor {i}", self.email("floor"), moment, moment)
            self.floor_ids.append(row[0])
            sql = f"INSERT INTO customers ({columns}) VALUES (%s, %s, %s, %s, %s)"  # noqa: S608
            return lambda: cursor.execute(sql, row)
        if op == "get":
            select = f"SELECT {columns} FROM customers WHERE id = %s"  # noqa: S608

            def get() -> None:
                cursor.execute(select, (self.seed_id,))
                if cursor.fetchone() is None:
                    raise RuntimeError("floor get found no row")

            return get
        if op == "update":
            values = (f"Seed {i}", _now().replace(tzinfo=None), self.seed_id)
            sql = "UPDATE customers SET name = %s, updated_at = %s WHERE id = %s"
            return lambda: cursor.execute(sql, values)
        if op == "list":
            select = f"SELECT {columns} FROM customers ORDER BY id LIMIT %s"  # noqa: S608

            def list_() -> None:
                cursor.execute(select, (PAGE_SIZE + 1,))
                cursor.fetchall()

            return list_
        customer_id = self.floor_ids.pop()
        return lambda: cursor.execute("DELETE FROM customers WHERE id = %s", (customer_id,))

    def close(self) -> None:
        self.connection.close()
        self.transactional.close()


class DynamoDBWorkload(Workload):
    backend = "dynamodb"

    def __init__(self, stack: LocalStack, counters: Counters, requests: int, naive: int) -> None:
        super().__init__(stack, counters, requests, naive)
        self.client = stack.cloud.client("dynamodb")
        self.table = self.function.environment["CUSTOMERS_TABLE_NAME"]
        self.index = self.function.environment["CUSTOMERS_LIST_INDEX_NAME"]
        self.floor_items: list[dict[str, str]] = []
        self.floor_seed: dict[str, str] = {}
        os.environ["CUSTOMERS_TABLE_NAME"] = self.table  # what the notes' handlers read

    def naive_handlers(self) -> Mapping[str, Callable[[dict[str, Any], Any], dict[str, Any]]]:
        return naive_dynamodb.HANDLERS

    def _item(self, who: str, i: int) -> dict[str, str]:
        customer_id = str(uuid.uuid4())
        moment = _iso(_now())
        return {
            "customerId": customer_id,
            "name": f"{who} {i}",
            "email": self.email(who.lower()),
            "createdAt": moment,
            "updatedAt": moment,
        }

    def naive_event(self, op: str, i: int) -> dict[str, Any]:
        if op == "create":
            # The notes store the request body as the item: the client sends all of it.
            item = self._item("Naive", i)
            self.naive_ids.append(item["customerId"])
            return self.events.make(op, body=item)
        if op == "get":
            return self.events.make(op, customer_id=self.seed_id)
        if op == "update":
            body = {"name": f"Seed {i}", "email": self.seed_email}
            return self.events.make(op, customer_id=self.seed_id, body=body)
        if op == "list":
            return self.events.make(op, query={"limit": str(PAGE_SIZE)})
        return self.events.make(op, customer_id=self.naive_ids.pop())

    def _typed(self, item: dict[str, str]) -> dict[str, Any]:
        attributes: dict[str, Any] = {name: {"S": value} for name, value in item.items()}
        return attributes | {"pk": {"S": "CUSTOMER#" + item["customerId"]}}

    def prepare(self, op: str, naive_count: int) -> None:
        if op == "update":  # the floor's own customer, so its condition never races ours
            self.floor_seed = self._item("Floor seed", 0)
            self.client.put_item(TableName=self.table, Item=self._typed(self.floor_seed))
        elif op == "list":  # several pages, so every list also issues a next-page token
            for i in range(LIST_FILL):
                item = self._item("Listed", i)
                self.client.put_item(TableName=self.table, Item=self._typed(item))
                guard = {"pk": {"S": "EMAIL#" + item["email"]}, "owner": {"S": item["customerId"]}}
                self.client.put_item(TableName=self.table, Item=guard)

    def after_block(self) -> None:
        """Drop the stream records moto keeps for the customers table.

        moto, unlike DynamoDB, deep-copies the whole table, stream records included, for
        each item of a transaction (to roll back), so a write would cost more with every
        record written before it and the figures would measure moto's copying. Nothing
        reads the stream during the benchmark (its event source is not polled)."""
        backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][self.stack.region]
        shard = backend.get_table(self.table).stream_shard
        if shard is not None:
            shard.items.clear()

    def floor_step(self, op: str, i: int) -> Callable[[], Any]:
        """The boto3 call our repository makes for `op` (customer_platform.customers.dynamodb),
        made raw: writes are the transactions that keep emails unique and catch a concurrent
        writer, so moto's cost of a transaction is in the floor too."""
        client, table = self.client, self.table
        if op == "create":
            item = self._item("Floor", i)
            self.floor_items.append(item)
            put_customer = {
                "Put": {
                    "TableName": table,
                    "Item": self._typed(item),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
            claim_email = {
                "Put": {
                    "TableName": table,
                    "Item": {
                        "pk": {"S": "EMAIL#" + item["email"]},
                        "owner": {"S": item["customerId"]},
                    },
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
            return lambda: client.transact_write_items(TransactItems=[put_customer, claim_email])
        if op == "get":
            key = {"pk": {"S": "CUSTOMER#" + self.seed_id}}

            def get() -> None:
                if "Item" not in client.get_item(TableName=table, Key=key, ConsistentRead=True):
                    raise RuntimeError("floor get found no item")

            return get
        if op == "update":
            seen = self.floor_seed["updatedAt"]
            moment = _iso(_now())  # a real timestamp: ours lists this customer later
            self.floor_seed = self.floor_seed | {"name": f"Floor seed {i}", "updatedAt": moment}
            put = {
                "Put": {
                    "TableName": table,
                    "Item": self._typed(self.floor_seed),
                    "ConditionExpression": "updatedAt = :seen",
                    "ExpressionAttributeValues": {":seen": {"S": seen}},
                }
            }
            return lambda: client.transact_write_items(TransactItems=[put])
        if op == "list":
            return lambda: client.scan(TableName=table, IndexName=self.index, Limit=PAGE_SIZE + 1)
        item = self.floor_items.pop()
        delete_customer = {
            "Delete": {
                "TableName": table,
                "Key": {"pk": {"S": "CUSTOMER#" + item["customerId"]}},
                "ConditionExpression": "updatedAt = :seen",
                "ExpressionAttributeValues": {":seen": {"S": item["updatedAt"]}},
            }
        }
        release_email = {
            "Delete": {
                "TableName": table,
                "Key": {"pk": {"S": "EMAIL#" + item["email"]}},
                "ConditionExpression": "#owner = :id",
                "ExpressionAttributeNames": {"#owner": "owner"},
                "ExpressionAttributeValues": {":id": {"S": item["customerId"]}},
            }
        }
        return lambda: client.transact_write_items(TransactItems=[delete_customer, release_email])


def run(
    stack: LocalStack,
    counters: Counters,
    requests: int,
    naive: dict[str, int],
    backends: tuple[str, ...] = ("rds", "dynamodb"),
) -> WarmResults:
    results = WarmResults()
    for workload_class in (RdsWorkload, DynamoDBWorkload):
        backend = workload_class.backend
        if backend not in backends:
            continue
        workload = workload_class(stack, counters, requests, naive[backend])
        try:
            workload.cold_start()
            cases: dict[str, Case] = {}
            for ops in SCHEDULE:
                progress(
                    f"warm {backend} {' and '.join(ops)}: {requests} ours, {requests} floor, "
                    f"{naive[backend]} notes' handler, each"
                )
                cases |= {case.op: case for case in workload.run(*ops)}
            results.cases += [cases[op] for op in OPS]
        finally:
            workload.close()
        results.tallies[f"{backend}_ours"] = workload.ours_tally
        results.tallies[f"{backend}_naive"] = workload.naive_tally
    return results
