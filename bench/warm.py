"""Warm latency of the customers APIs on both backends, beside same-work floors and the
notes' handlers, on loopback and at a network round-trip time.

Every series runs in one bench worker per backend and network (bench/workers.py): the
function's interpreter, folder and environment, its handler called directly (the local
runtime's emulator hop is measured on its own, in local_api). The variants:

ours         the function's `lambda_handler` on an API Gateway proxy event built from
             events/customers_<backend>/*.json; everything inside is timed (resolver,
             validation, logging, metrics, logic, storage, JSON)
floor        the same statements (MySQL) or calls (DynamoDB) our repository makes for the
             operation, sent raw on an open connection or client (bench/inside.py); that
             they are the same is checked, not assumed: the server's statement counters
             and the endpoint's call counts for one call of each are recorded and compared
floor_one    the one statement or call a handler needs at the least (autocommit SELECT,
             a plain PutItem...)
naive        the notes' handlers as written (bench/naive_rds.py, bench/naive_dynamodb.py)
naive_reuse  (RDS) the notes' handlers with their Secrets Manager client reused: still a
             secret fetch and a connection per call

Fairness: in each round every variant runs one block of calls, in an order that is a
random permutation in one round and its reverse in the next (ABBA; the seed and every
round's order are recorded). Each block starts from the same table state: what a create
block adds is removed after it, what a delete block removes is put there before it
(untimed), the outbox and moto's stream records are emptied between blocks.

Network: at rtt 0 the worker reaches MySQL and the AWS endpoint directly (loopback); at
another round-trip time both paths go through a latency-injecting TCP proxy
(local_stack.network.tcp_proxy): the database secret's host and port point at one, AWS_ENDPOINT_URL
at the other. The proxies' delay is calibrated so that the measured added round trip
matches the figure asked, and the measured value is recorded.
"""

import contextlib
import copy
import json
import math
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pymysql
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends

from bench import roles
from bench.harness import REPO, Counters, Rounds, Series, ServerStatus, Tally, progress
from bench.workers import Worker
from local_stack.assembly.stack import LocalStack
from local_stack.network.tcp_proxy import TcpProxy
from local_stack.services import data_api, mysql

OPS = ("get", "create", "update", "delete", "list")
EXPECTED_STATUS = {"create": 201, "get": 200, "update": 200, "list": 200, "delete": 204}
FUNCTIONS = {
    "rds": "CustomersRdsFunction",
    "dynamodb": "CustomersDynamoDBFunction",
    "aurora": "CustomersAuroraFunction",
    "django": "CustomersDjangoFunction",
}
BACKENDS = tuple(FUNCTIONS)
VARIANTS = {
    "rds": ("ours", "floor", "floor_one", "naive", "naive_reuse"),
    "dynamodb": ("ours", "floor", "floor_one", "naive"),
    "aurora": ("ours", "floor", "floor_one"),
    "django": ("ours", "floor", "floor_one"),
}
NAIVE = ("naive", "naive_reuse")  # the notes' handlers: under a role of their own (roles.py)
# Backends whose floor is the same work as ours, checked (any difference is an error). The
# Django floor is the MySQL floor's raw SQL (what the same work costs without an ORM): its
# statements differ from Django's by design, and both are recorded.
SAME_WORK_CHECKED = ("rds", "dynamodb", "aurora")
TRACED = ("rds", "django")  # MySQL through pymysql in the worker: statements as sent
PAGE_SIZE = 20  # the API's default page size
LIST_FILL = 3 * PAGE_SIZE  # customers in the table besides the seed: list signs a token
WARMUP = 10  # untimed calls per variant before each operation's rounds
ROUNDS = 20  # rounds per operation (pairs of ABBA), each a block of every variant


@dataclass
class Comparison:
    """One operation on one backend at one round-trip time: every variant's series."""

    backend: str
    op: str
    rtt_ms: float
    series: dict[str, Series]
    rounds: Rounds
    work: dict[str, dict[str, int]] = field(default_factory=dict)  # per call, counted
    sql: dict[str, list[str]] = field(default_factory=dict)  # per call, as sent (MySQL)
    same_work_checked: bool = True  # False: the floor is other work by design (Django's)

    @property
    def key(self) -> str:
        base = f"{self.backend}_{self.op}"
        return base if self.rtt_ms == 0 else f"{base}@rtt{self.rtt_ms:g}ms"

    @property
    def same_work(self) -> bool | None:
        """Whether the floor sends ours' statements and does ours' work, as counted; None
        where the floor is other work by design (both are still recorded)."""
        if not self.same_work_checked:
            return None
        ours, floor = self.work.get("ours"), self.work.get("floor")
        return ours == floor and self.sql.get("ours") == self.sql.get("floor")


@dataclass
class WarmResults:
    comparisons: list[Comparison] = field(default_factory=list)
    tallies: dict[str, Tally] = field(default_factory=dict)
    networks: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    roles: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # backend, variant
    notes: list[str] = field(default_factory=list)
    # where a warm RDS get's time goes (bench/inside.py's _profile): part -> share in %
    profile: dict[str, Any] = field(default_factory=dict)


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
        event["requestContext"]["requestId"] = str(uuid.uuid4())
        if customer_id is not None:
            event["pathParameters"] = {"id": customer_id}
        if body is not None:
            event["body"] = json.dumps(body)
        if query is not None:
            event["queryStringParameters"] = query
            event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()}
        return event


def now_ms() -> datetime:
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- the network between the functions and their backends ---------------------------------


class Network:
    """Direct loopback (rtt 0) or both paths through calibrated TcpProxy instances."""

    def __init__(self, stack: LocalStack, aws_proxy: TcpProxy, endpoint_url: str) -> None:
        self.stack = stack
        self.aws_proxy = aws_proxy
        self.endpoint_url = endpoint_url
        secrets = stack.cloud.client("secretsmanager")
        self.secret_arn = stack.cloud.physical_id("DatabaseSecret")
        self.secret = json.loads(secrets.get_secret_value(SecretId=self.secret_arn)["SecretString"])
        self.mysql_address = (str(self.secret["host"]), int(self.secret["port"]))
        self.mysql_proxy = TcpProxy(self.mysql_address)
        # The secrets the functions connect with (the application user's, not the master's
        # above): these are the ones whose host and port must point at the proxy.
        self.function_secrets = sorted(
            {
                function.environment["DATABASE_SECRET_ARN"]
                for function in stack.functions.values()
                if function.environment.get("DATABASE_SECRET_ARN")
            }
        )
        self.measured: dict[float, dict[str, Any]] = {}
        self.samples = 200  # SELECT 1 per path and calibration step (half as many AWS calls)

    def connect(self, address: tuple[str, int] | None = None, **options: Any) -> Any:
        host, port = address or self.mysql_address
        return pymysql.connect(
            host=host,
            port=port,
            user=self.secret["username"],
            password=self.secret["password"],
            database=self.secret["dbname"],
            charset="utf8mb4",
            autocommit=True,
            **options,
        )

    def _point_secret(self, address: tuple[str, int]) -> None:
        """Every database secret a function reads names `address` as its host and port."""
        client = self.stack.cloud.client("secretsmanager")
        for arn in self.function_secrets:
            current = json.loads(client.get_secret_value(SecretId=arn)["SecretString"])
            document = current | {"host": address[0], "port": address[1]}
            client.put_secret_value(SecretId=arn, SecretString=json.dumps(document))

    def apply(self, rtt_ms: float) -> dict[str, str]:
        """Set the network for workers started from now on; the variables they need."""
        if rtt_ms == 0:
            self._point_secret(self.mysql_address)
            self.measured[0.0] = {"rtt_ms": 0.0, "path": "loopback, no proxy"}
            return {"AWS_ENDPOINT_URL": self.endpoint_url}
        self._point_secret((self.mysql_proxy.host, self.mysql_proxy.port))
        mysql_ms = self._calibrate(self.mysql_proxy, rtt_ms, self._mysql_rtt)
        aws_ms = self._calibrate(self.aws_proxy, rtt_ms, self._aws_rtt)
        self.measured[rtt_ms] = {
            "rtt_ms": rtt_ms,
            "path": "local_stack.network.tcp_proxy.TcpProxy on both paths",
            "database_secrets_pointed_at_the_proxy": self.function_secrets,
            "mysql_added_rtt_measured_ms": round(mysql_ms, 3),
            "aws_added_rtt_measured_ms": round(aws_ms, 3),
            "proxy_settings_ms": {
                "mysql": round(self.mysql_proxy.latency * 1000, 3),
                "aws": round(self.aws_proxy.latency * 1000, 3),
            },
        }
        return {}  # the function's own AWS_ENDPOINT_URL: the proxy (function_endpoint_url)

    @staticmethod
    def _calibrate(
        proxy: TcpProxy, rtt_ms: float, measure: Callable[[], float], steps: int = 6
    ) -> float:
        """Set the proxy so that the added round trip measures `rtt_ms`, as near as this
        machine allows: sleeping threads overshoot by the scheduler's latency and forwarding
        costs a little, both more under load, so the setting is corrected a few times (each
        step moves it by the error measured) and the closest setting is kept. Returns what
        that setting measured (reported beside the figures; under heavy load it can stay
        above or below the RTT asked)."""
        setting, measured = rtt_ms, math.inf
        best = (math.inf, rtt_ms, math.inf)  # (error, setting, measured)
        for _ in range(steps):
            if measured != math.inf:
                setting = max(0.0, setting - (measured - rtt_ms))
            proxy.latency = setting / 1000
            measured = measure()
            if abs(measured - rtt_ms) < best[0]:
                best = (abs(measured - rtt_ms), setting, measured)
            if best[0] <= 0.05 * rtt_ms:
                break
        proxy.latency = best[1] / 1000
        return best[2]

    def _mysql_rtt(self) -> float:
        """Added round trip through the proxy: SELECT 1 through it minus SELECT 1 direct."""

        def median_ms(address: tuple[str, int]) -> float:
            connection = self.connect(address)
            try:
                durations = []
                with connection.cursor() as cursor:
                    for _ in range(self.samples):
                        started = time.perf_counter()
                        cursor.execute("SELECT 1")
                        cursor.fetchall()
                        durations.append(time.perf_counter() - started)
                return statistics.median(durations) * 1000
            finally:
                connection.close()

        return median_ms((self.mysql_proxy.host, self.mysql_proxy.port)) - median_ms(
            self.mysql_address
        )

    def _aws_rtt(self) -> float:
        """Added round trip through the proxy: one cheap API call through it minus direct."""
        import boto3  # noqa: PLC0415

        def median_ms(url: str) -> float:
            client = boto3.client("sts", endpoint_url=url)
            client.get_caller_identity()
            durations = []
            for _ in range(max(1, self.samples // 2)):
                started = time.perf_counter()
                client.get_caller_identity()
                durations.append(time.perf_counter() - started)
            return statistics.median(durations) * 1000

        proxied = f"http://127.0.0.1:{self.aws_proxy.port}"
        return median_ms(proxied) - median_ms(self.endpoint_url)

    def close(self) -> None:
        self._point_secret(self.mysql_address)
        self.mysql_proxy.close()


# -- one backend ------------------------------------------------------------------------


class Workload:
    """A backend's table state, payloads for every variant, and the blocks that time them."""

    backend = ""
    floor_backend = ""  # whose floor targets the floors run (default: this backend's)

    def __init__(self, stack: LocalStack, network: Network, counters: Counters) -> None:
        self.stack = stack
        self.network = network
        self.counters = counters
        self.function = stack.function(FUNCTIONS[self.backend])
        self.key = self.function.credentials.access_key_id
        self.events = Events(self.backend)
        self.tag = uuid.uuid4().hex[:8]
        self.serial = 0
        self.seed_id = ""
        self.seed_email = ""
        self.warmup = WARMUP
        # one worker per role: the function's (ours, the floors), the notes' (roles.py)
        self.workers: dict[str, Worker] = {}
        self.keys = {"function": self.key}
        self.tallies = {variant: Tally() for variant in ("ours", *NAIVE)}

    @staticmethod
    def role_of(variant: str) -> str:
        return "naive" if variant in NAIVE else "function"

    def worker_for(self, variant: str) -> Worker:
        worker = self.workers.get(self.role_of(variant))
        if worker is None:
            raise RuntimeError(f"no worker for {variant}")
        return worker

    def email(self, who: str) -> str:
        self.serial += 1
        return f"bench-{self.tag}-{who}-{self.serial}@example.com"

    # -- state ----------------------------------------------------------------------------

    def seed(self) -> None:
        """The customer that get and update read, and a few pages for list (untimed)."""
        raise NotImplementedError

    def put_customers(self, count: int, who: str) -> list[dict[str, str]]:
        """`count` customers written directly (what a delete block then removes)."""
        raise NotImplementedError

    def remove(self, created: list[dict[str, str]]) -> None:
        """Remove what a create block wrote."""
        raise NotImplementedError

    def between_blocks(self) -> None:
        """Empty what grows with every write and nobody reads during the benchmark."""

    def close(self) -> None:
        """Release what the workload holds."""

    def count_work(self, call: Callable[[], Any]) -> dict[str, int]:
        """What one call does at the boundary: statements or API calls, by kind."""
        raise NotImplementedError

    # -- payloads -------------------------------------------------------------------------

    def target(self, variant: str, op: str) -> str:
        if variant == "ours":
            return "ours"
        backend = self.backend
        if variant in ("floor", "floor_one"):
            backend = self.floor_backend or self.backend
        family = {"naive_reuse": "naive_rds_reuse"}.get(variant, f"{variant}_{backend}")
        return f"{family}.{op}"

    def payloads(self, variant: str, op: str, count: int) -> tuple[list[Any], list[dict[str, str]]]:
        """The calls of one block, and the customers they create or delete."""
        customers: list[dict[str, str]] = []
        if op == "delete":
            customers = self.put_customers(count, variant)
        elif op == "create":
            customers = [self.new_customer(variant) for _ in range(count)]
        calls = []
        for i in range(count):
            customer = customers[i] if customers else {}
            if variant in ("floor", "floor_one"):
                calls.append(self.floor_payload(op, i, customer))
            else:
                calls.append(self.event(variant, op, i, customer))
        return calls, customers

    def new_customer(self, who: str) -> dict[str, str]:
        return {"id": str(uuid.uuid4()), "name": f"{who} customer", "email": self.email(who)}

    def event(self, variant: str, op: str, i: int, customer: dict[str, str]) -> dict[str, Any]:
        if op == "create":
            body: dict[str, Any] = {"name": customer["name"], "email": customer["email"]}
            if variant == "naive" and self.backend == "dynamodb":
                moment = iso(now_ms())  # the notes store the body as the item: all of it
                body = {"customerId": customer["id"], **body, "createdAt": moment}
                body["updatedAt"] = moment
            return self.events.make(op, body=body)
        if op == "get":
            return self.events.make(op, customer_id=self.seed_id)
        if op == "update":
            body = {"name": f"Seed {variant} {i}", "email": self.seed_email}
            return self.events.make(op, customer_id=self.seed_id, body=body)
        if op == "list":
            return self.events.make(op, query={"limit": str(PAGE_SIZE)})
        return self.events.make(op, customer_id=customer["id"])

    def floor_payload(self, op: str, i: int, customer: dict[str, str]) -> dict[str, Any]:
        moment = now_ms()
        payload: dict[str, Any] = {
            "id": customer.get("id", self.seed_id),
            "name": customer.get("name", f"Seed floor {i}"),
            "email": customer.get("email", self.seed_email),
            "at": iso(moment) if self.backend == "dynamodb" else moment.isoformat(),
            "backend": self.backend,
            "limit": PAGE_SIZE,
            "event_id": str(uuid.uuid4()),
        }
        # an outbox payload of the size ours writes (the event's JSON)
        payload["payload"] = json.dumps(
            {"version": 1, "eventType": "CustomerChanged", "eventId": payload["event_id"]}
            | {"occurredAt": payload["at"], "customerId": payload["id"]}
            | {"backend": self.backend}
            | {"customer": {k: payload[k] for k in ("id", "name", "email")}}
        )
        return payload

    def check(self, variant: str, op: str, results: list[Any], worker: Worker) -> None:
        if variant in ("floor", "floor_one"):
            return
        expected = EXPECTED_STATUS[op] if variant == "ours" else 200
        for result in results:
            if not isinstance(result, dict) or result.get("statusCode") != expected:
                raise RuntimeError(
                    f"{self.backend} {op} ({variant}): expected {expected}, got {result!r:.300}"
                    f"\nthe worker's log ends:\n{worker.log_tail()}"
                )

    # -- blocks ---------------------------------------------------------------------------

    def block(self, variant: str, op: str, count: int, series: Series | None) -> None:
        worker = self.worker_for(variant)
        calls, customers = self.payloads(variant, op, count)
        # counted once warm: a warm-up block may be an environment's first use of a key
        tally = self.tallies.get(variant) if series is not None else None
        key = self.keys[self.role_of(variant)]
        with self.counters.counting(tally, key, count) if tally else _nothing():
            durations, results = worker.run(self.target(variant, op), calls)
        self.check(variant, op, results, worker)
        if series is not None:
            for duration in durations:
                series.add_ns(duration)
        if op == "create":
            self.remove(self._created(variant, customers, results))
        self.between_blocks()

    @staticmethod
    def _created(
        variant: str, customers: list[dict[str, str]], results: list[Any]
    ) -> list[dict[str, str]]:
        """What a create block wrote: ours chose its own ids (they are in its responses)."""
        if variant != "ours":
            return customers
        return [
            c | {"id": json.loads(r["body"])["id"]} for c, r in zip(customers, results, strict=True)
        ]

    def verify(self, comparison: Comparison) -> None:
        """One call of ours and of each floor, counted at the boundary (untimed)."""
        worker = self.worker_for("ours")
        op = comparison.op
        for variant in ("ours", "floor", "floor_one"):
            calls, customers = self.payloads(variant, op, 1)
            results: list[Any] = []

            def call(
                calls: list[Any] = calls, variant: str = variant, results: list[Any] = results
            ) -> None:
                if self.backend in TRACED:  # the statements as the driver sends them, too
                    statements, result = worker.trace(self.target(variant, op), calls[0])
                    comparison.sql[variant] = statements
                    results.append(result)
                else:
                    results.extend(worker.run(self.target(variant, op), calls)[1])

            comparison.work[variant] = self.count_work(call)
            self.check(variant, op, results, worker)
            if op == "create":
                self.remove(self._created(variant, customers, results))
            self.between_blocks()

    def run(self, rtt_ms: float, requests: dict[str, int], seed: int) -> list[Comparison]:
        variants = VARIANTS[self.backend]
        comparisons = []
        for op in OPS:
            comparison = Comparison(
                backend=self.backend,
                op=op,
                rtt_ms=rtt_ms,
                series={
                    v: Series(
                        f"{self.backend}_{op}@{rtt_ms:g}.{v}",
                        f"{self.backend} {op}, {v}, rtt {rtt_ms:g} ms",
                    )
                    for v in variants
                },
                rounds=Rounds(list(variants), seed + OPS.index(op)),
                same_work_checked=self.backend in SAME_WORK_CHECKED,
            )
            for variant in variants:
                self.block(variant, op, self.warmup if variant not in NAIVE else 2, None)
            self.verify(comparison)
            rounds = min(ROUNDS, requests["ours"])
            for number in range(rounds):
                for variant in comparison.rounds.next():
                    total = requests["naive" if "naive" in variant else "ours"]
                    count = total // rounds + (1 if number < total % rounds else 0)
                    self.block(variant, op, count, comparison.series[variant])
            comparisons.append(comparison)
        return comparisons


@contextlib.contextmanager
def _nothing() -> Iterator[None]:
    yield


class RdsWorkload(Workload):
    backend = "rds"

    def __init__(self, stack: LocalStack, network: Network, counters: Counters) -> None:
        super().__init__(stack, network, counters)
        self.db = network.connect()  # direct, for untimed set-up and clean-up

    def seed(self) -> None:
        seed = self.put_customers(1 + LIST_FILL, "seed")
        self.seed_id, self.seed_email = seed[0]["id"], seed[0]["email"]

    def put_customers(self, count: int, who: str) -> list[dict[str, str]]:
        customers = [self.new_customer(who) for _ in range(count)]
        moment = now_ms().replace(tzinfo=None)
        with self.db.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO customers (id, name, email, created_at, updated_at) "
                "VALUES (%s, %s, %s, %s, %s)",
                [(c["id"], c["name"], c["email"], moment, moment) for c in customers],
            )
        return customers

    def remove(self, created: list[dict[str, str]]) -> None:
        if not created:
            return
        emails = [c["email"] for c in created]
        with self.db.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM customers WHERE email IN ({', '.join(['%s'] * len(emails))})",  # noqa: S608
                emails,
            )

    def between_blocks(self) -> None:
        with self.db.cursor() as cursor:
            cursor.execute("DELETE FROM customer_events_outbox")

    def count_work(self, call: Callable[[], Any]) -> dict[str, int]:
        before = self.counters.mysql.read()
        call()
        return ServerStatus.statements(before, self.counters.mysql.read())

    def close(self) -> None:
        self.db.close()


class DynamoDBWorkload(Workload):
    backend = "dynamodb"

    def __init__(self, stack: LocalStack, network: Network, counters: Counters) -> None:
        super().__init__(stack, network, counters)
        self.client = stack.cloud.client("dynamodb")
        self.table = self.function.environment["CUSTOMERS_TABLE_NAME"]

    def seed(self) -> None:
        seed = self.put_customers(1 + LIST_FILL, "seed")
        self.seed_id, self.seed_email = seed[0]["id"], seed[0]["email"]

    def put_customers(self, count: int, who: str) -> list[dict[str, str]]:
        customers = [self.new_customer(who) for _ in range(count)]
        moment = iso(now_ms())
        for c in customers:
            item = {
                "pk": {"S": "CUSTOMER#" + c["id"]},
                "customerId": {"S": c["id"]},
                "name": {"S": c["name"]},
                "email": {"S": c["email"]},
                "createdAt": {"S": moment},
                "updatedAt": {"S": moment},
            }
            self.client.put_item(TableName=self.table, Item=item)
            guard = {"pk": {"S": "EMAIL#" + c["email"]}, "owner": {"S": c["id"]}}
            self.client.put_item(TableName=self.table, Item=guard)
        self.between_blocks()
        return customers

    def remove(self, created: list[dict[str, str]]) -> None:
        for c in created:
            self.client.delete_item(TableName=self.table, Key={"pk": {"S": "CUSTOMER#" + c["id"]}})
            self.client.delete_item(TableName=self.table, Key={"pk": {"S": "EMAIL#" + c["email"]}})

    def between_blocks(self) -> None:
        """Drop the stream records moto keeps: moto, unlike DynamoDB, deep-copies the whole
        table, stream records included, for each item of a transaction, so every write
        would cost more than the one before. Nothing reads the stream here."""
        backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][self.stack.region]
        shard = backend.get_table(self.table).stream_shard
        if shard is not None:
            shard.items.clear()

    def count_work(self, call: Callable[[], Any]) -> dict[str, int]:
        before = self.counters.aws.of(self.key)
        call()
        after = self.counters.aws.of(self.key)
        return dict(sorted((after - before).items()))

    def close(self) -> None:
        """Nothing held."""


class DjangoWorkload(RdsWorkload):
    """The same table, user and secret as /rds (docs/customers-django.md); the floors are
    the MySQL floor's raw statements through pymysql: the same work without the ORM."""

    backend = "django"
    floor_backend = "rds"


class AuroraWorkload(RdsWorkload):
    """/aurora: the cluster's database on the local MySQL server, set up and cleaned
    directly (untimed); ours and the floor reach it through the local Data API."""

    backend = "aurora"

    def __init__(self, stack: LocalStack, network: Network, counters: Counters) -> None:
        Workload.__init__(self, stack, network, counters)
        environment = self.function.environment
        cluster = data_api.cluster(environment["AURORA_CLUSTER_ARN"])
        database = cluster.physical(environment["AURORA_DATABASE_NAME"])
        self.db = mysql.server().connect(database=database)

    def count_work(self, call: Callable[[], Any]) -> dict[str, int]:
        """Data API and SNS calls, counted at the AWS endpoint by the function's key."""
        before = self.counters.aws.of(self.key)
        call()
        after = self.counters.aws.of(self.key)
        return dict(sorted((after - before).items()))


WORKLOADS: dict[str, type[Workload]] = {
    "rds": RdsWorkload,
    "dynamodb": DynamoDBWorkload,
    "aurora": AuroraWorkload,
    "django": DjangoWorkload,
}


def run(
    stack: LocalStack,
    network: Network,
    counters: Counters,
    requests: dict[str, dict[str, int]],
    *,
    rtts: tuple[float, ...],
    backends: tuple[str, ...] = BACKENDS,
    warmup: int = WARMUP,
) -> WarmResults:
    results = WarmResults()
    unknown = sorted(set(backends) - set(WORKLOADS))
    if unknown:
        raise ValueError(f"unknown backends {unknown}; choose from {', '.join(WORKLOADS)}")
    if "aurora" in backends:
        results.notes.append(AURORA_NOTE)
    for backend, workload_class in WORKLOADS.items():
        if backend not in backends:
            continue
        if FUNCTIONS[backend] not in stack.functions:
            results.errors.append(f"{backend}: {FUNCTIONS[backend]} is not deployed")
            continue
        workload = workload_class(stack, network, counters)
        workload.warmup = warmup
        naive = roles.naive_role(stack, backend) if set(NAIVE) & set(VARIANTS[backend]) else None
        results.roles[backend] = {
            variant: (
                naive.describe()
                if naive is not None and variant in NAIVE
                else roles.function_role(stack, workload.function.logical_id)
            )
            for variant in VARIANTS[backend]
        }
        try:
            workload.seed()
            for rtt in rtts:
                environment = network.apply(rtt)
                results.networks[f"{rtt:g}"] = network.measured[rtt]
                progress(
                    f"warm {backend} at rtt {rtt:g} ms: {requests[backend]['ours']} calls per "
                    f"series, {requests[backend]['naive']} for the notes' handlers"
                )
                with contextlib.ExitStack() as scope:
                    workload.workers["function"] = scope.enter_context(
                        Worker(workload.function, environment=environment)
                    )
                    if naive is not None:
                        credentials = scope.enter_context(
                            roles.credentials(stack, naive, f"bench-{backend}")
                        )
                        workload.keys["naive"] = credentials["AWS_ACCESS_KEY_ID"]
                        workload.workers["naive"] = scope.enter_context(
                            Worker(
                                workload.function,
                                handler=False,
                                environment=environment | credentials,
                            )
                        )
                    before = network.mysql_proxy.connections
                    cold = workload.events.make("get", customer_id=workload.seed_id)
                    # the cold call: connection, secrets, clients
                    workload.check(
                        "ours",
                        "get",
                        workload.workers["function"].run("ours", [cold])[1],
                        workload.workers["function"],
                    )
                    if rtt and backend in TRACED and network.mysql_proxy.connections == before:
                        results.errors.append(
                            f"{backend} at rtt {rtt:g} ms: the function's database connection "
                            "did not go through the latency proxy"
                        )
                    comparisons = workload.run(rtt, requests[backend], seed=int(rtt * 1000))
                    _profile_get(results, workload, cold, rtt, requests[backend]["ours"])
                workload.workers.clear()
                results.comparisons += comparisons
                for comparison in comparisons:
                    _compare_work(comparison, results)
        finally:
            workload.close()
        for variant, tally in workload.tallies.items():
            if tally.invocations:
                results.tallies[f"{backend}_{variant}"] = tally
    return results


PROFILED = "rds"  # the backend whose warm get is profiled: the one the target judges
PROFILE_CALLS = 2000


def _profile_get(
    results: WarmResults, workload: Workload, get: dict[str, Any], rtt: float, requests: int
) -> None:
    """Where the time of the profiled backend's warm get goes, at the first RTT (loopback
    in a full run), after its timed series, so the profiler never slows a timed call."""
    if workload.backend != PROFILED or results.profile:
        return
    calls = min(PROFILE_CALLS, 5 * requests)
    worker = workload.workers["function"]
    profiled = worker.request(op="profile", target="ours", calls=[get] * calls)
    results.profile = {
        "function": workload.function.logical_id,
        "op": "get",
        "rtt_ms": rtt,
        "calls": calls,
        "self_time_percent": profiled["parts"],
        "other_largest": profiled["other_top"],  # what the "other" part holds, largest first
    }


AURORA_NOTE = (
    "aurora: every statement is an HTTPS call to the RDS Data API (a hop the MySQL backends "
    "do not make: at an RTT it crosses the AWS-side proxy once per call), and the local Data "
    "API reaches MySQL on loopback, where AWS adds its own hop to the cluster"
)


def _compare_work(comparison: Comparison, results: WarmResults) -> None:
    """An error for a floor that is not the same work, saying how it differs."""
    if comparison.same_work is not False:
        return
    ours, floor = comparison.work.get("ours"), comparison.work.get("floor")
    sql = comparison.sql
    if sql.get("ours") != sql.get("floor"):
        results.errors.append(
            f"{comparison.key}: the floor does not send ours' statements: "
            f"ours {sql.get('ours')}, floor {sql.get('floor')}"
        )
    if ours != floor:
        results.errors.append(
            f"{comparison.key}: the floor does not do ours' work: ours {ours}, floor {floor}"
        )


def counts_as_text(work: dict[str, int]) -> str:
    return ", ".join(f"{n} {kind}" for kind, n in sorted(Counter(work).items()))
