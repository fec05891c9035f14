"""Cold starts, two ways, of every function of template.yaml, beside a boto3-only baseline.

    .venv/bin/python -m bench --only cold [--cold-runs 9]

Each function's probe is a real first request on the deployed local stack, fresh for every
run: a GET of a stored customer (/rds), a list with a next page (/dynamodb, /documents:
it signs a page token with the key from Secrets Manager), a new SQS message for each
consumer, a stream record, an upload notification, a scheduled run (the fetcher reads its
feed URL from SSM and fetches a local partner feed; the relay drains the outbox), a
migration run. So the cold path pays for what the first real request pays: the lazy
imports, the secret read, the MySQL connection, the clients and their first calls.

fresh_interpreter  bench/cold_child.py in a bare `python3.13 -I -S -B` with the function's
                   folder, layer and runtime folder on sys.path and the function's
                   environment: handler import + first request, timed inside the process
local_runtime      process start to first response under the local runtime: the function's
                   pool has no idle environment, so the invocation starts the Lambda
                   Runtime Interface Emulator, awslambdaric, the handler's import and the
                   request, timed around `invoke`

The baseline in both ways is bench/cold_baseline.py: boto3 (and pymysql) only, making the
same AWS calls and SQL statements the function's first request made (recorded in one
untimed discovery run). ours/baseline is therefore what our code and its libraries add
to the same I/O. Runs are interleaved: in every round each function runs its four
variants in ABBA order (recorded); medians of `runs` rounds are reported. One more run per
function under `-X importtime` gives its import profile (the ten heaviest imports by
cumulative time).
"""

import contextlib
import copy
import dataclasses
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.consumers import customer_created
from bench.harness import REPO, WORK_DIR, Counters, Rounds, Series, progress
from local_stack.assembly.stack import LocalStack
from local_stack.runtime import FunctionPool
from local_stack.runtime.functions import LocalFunction
from local_stack.services import data_api, mysql
from local_stack.services.partner_feed import PartnerFeed, sample_rows

if TYPE_CHECKING:
    from customer_platform.events.models import Backend

CHILD = Path(__file__).with_name("cold_child.py")
BASELINE = Path(__file__).with_name("cold_baseline.py")
VARIANTS = ("ours", "baseline", "ours_runtime", "baseline_runtime")
TOP_IMPORTS = 10


@dataclass
class ColdFunction:
    logical_id: str
    request: str  # what the first request is
    series: dict[str, Series] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    modules: int = 0
    calls: list[str] = field(default_factory=list)  # the first request's AWS operations
    statements: int = 0  # and SQL statements
    import_profile: list[dict[str, Any]] = field(default_factory=list)
    order: dict[str, Any] = field(default_factory=dict)

    def p50_ms(self, variant: str) -> float | None:
        series = self.series.get(variant)
        return series.p50_ms() if series is not None and len(series) else None


@dataclass
class ColdResults:
    interpreter: str
    python_version: str
    runs: int
    functions: list[ColdFunction]
    error: str | None = None
    instructions: dict[str, Any] | None = None  # bench/instructions.py, by __main__


# -- first requests -----------------------------------------------------------------------

EventFactory = Callable[[], dict[str, Any]]


def _event_file(name: str) -> Any:
    return json.loads((REPO / "events" / name).read_text())


def _api_event(name: str, path: str, **changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = _event_file(name)
    event["path"] = path
    event["requestContext"]["path"] = f"/{event['requestContext']['stage']}{path}"
    event["requestContext"]["requestId"] = str(uuid.uuid4())
    event.update(changes)
    return event


def _customer_created() -> str:
    """A CustomerCreated event with a fresh customer, as the consumers' bench sends it."""
    return customer_created(uuid.uuid4().hex[:8], 0)


def _sqs(name: str, body: str) -> dict[str, Any]:
    event = copy.deepcopy(_event_file(name))
    record = event["Records"][0]
    record["messageId"] = str(uuid.uuid4())
    record["body"] = body
    return {"Records": [record]}


class Probes:
    """The stack prepared for first requests (stored customers and documents, a partner
    feed), and a fresh first-request event per function and run."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        api = stack.api
        self.rds_id = api.request(
            "POST", "/rds/customers", body=json.dumps({"name": "Cold", "email": _email()})
        ).json()["id"]
        self.ids = {"rds": self.rds_id}
        for backend in ("aurora", "django"):
            if f"Customers{backend.title()}Function" in stack.functions:
                self.ids[backend] = api.request(
                    "POST",
                    f"/{backend}/customers",
                    body=json.dumps({"name": "Cold", "email": _email()}),
                ).json()["id"]
        for _ in range(2):  # a next page: list signs a token with the secret key
            api.request(
                "POST", "/dynamodb/customers", body=json.dumps({"name": "Cold", "email": _email()})
            )
            api.request(
                "POST",
                "/documents",
                body=json.dumps({"filename": "cold.pdf", "contentType": "application/pdf"}),
            )
        self.feed = PartnerFeed(rows=sample_rows(3)).start()
        stack.cloud.client("ssm").put_parameter(
            Name=stack.cloud.physical_id("PartnerFeedUrlParameter"),
            Value=self.feed.url,
            Overwrite=True,
        )
        self.bucket = stack.cloud.physical_id("DocumentsBucket")

    def close(self) -> None:
        self.feed.stop()

    def _outbox_database(self, relay: str) -> str:
        """The physical database whose outbox the relay function drains."""
        if relay == "AuroraOutboxRelayFunction":
            environment = self.stack.function(relay).environment
            cluster = data_api.cluster(environment["AURORA_CLUSTER_ARN"])
            return str(cluster.physical(environment["AURORA_DATABASE_NAME"]))
        if self.stack.database is None:
            raise RuntimeError("the stack has no local database")
        return self.stack.database.name

    def relay_run(self, relay: str, backend: "Backend") -> dict[str, Any]:
        """A scheduled run of an outbox relay on an outbox of its own: emptied of whatever
        earlier phases left (a backlog would make the probe drain it, a different first
        request every run), then holding one unpublished event, so every run, discovery
        and baseline included, publishes exactly one."""
        from customer_platform.customers.models import Customer  # noqa: PLC0415
        from customer_platform.events import outbox  # noqa: PLC0415

        moment = datetime.now(UTC).replace(microsecond=0)
        customer = Customer(
            id=str(uuid.uuid4()), name="Cold", email=_email(), created_at=moment, updated_at=moment
        )
        connection = mysql.server().connect(database=self._outbox_database(relay))
        try:
            with connection.cursor() as cursor:
                cursor.execute("DELETE FROM customer_events_outbox")
                outbox.record(cursor, "CustomerCreated", customer, backend)
        finally:
            connection.close()
        return {}

    def factories(self) -> dict[str, tuple[str, EventFactory]]:
        bucket = self.bucket

        def uploaded() -> dict[str, Any]:
            event: dict[str, Any] = copy.deepcopy(
                _event_file("document_uploaded/object-created-orphan.json")
            )
            s3 = event["Records"][0]["s3"]
            s3["bucket"] |= {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"}
            s3["object"]["key"] = f"documents%2F{uuid.uuid4()}%2Fstray.pdf"
            return event

        def stream_record() -> dict[str, Any]:
            batch = _event_file("customer_events_publisher/stream-batch.json")
            record = next(
                r
                for r in batch["Records"]
                if r["dynamodb"]["Keys"]["pk"]["S"].startswith("CUSTOMER#")
            )
            record["eventID"] = uuid.uuid4().hex
            return {"Records": [record]}

        def partner_rows() -> dict[str, Any]:
            tag = uuid.uuid4().hex[:8]
            rows = [
                {"id": f"cold-{tag}-{i}", "name": "Cold", "email": f"cold-{tag}-{i}@example.com"}
                for i in range(2)
            ]
            return _sqs(
                "partner_writer/ingest-batch.json",
                json.dumps({"run_id": str(uuid.uuid4()), "rows": rows}),
            )

        rds_get = f"/rds/customers/{self.rds_id}"
        return {
            "CustomersRdsFunction": (
                "GET /rds/customers/{id}: secret, connect, SELECT",
                lambda: _api_event(
                    "customers_rds/get.json", rds_get, pathParameters={"id": self.rds_id}
                ),
            ),
            "CustomersDynamoDBFunction": (
                "GET /dynamodb/customers?limit=1: Scan, page-token key from Secrets Manager",
                lambda: _api_event(
                    "customers_dynamodb/list.json",
                    "/dynamodb/customers",
                    queryStringParameters={"limit": "1"},
                    multiValueQueryStringParameters={"limit": ["1"]},
                ),
            ),
            "DocumentsFunction": (
                "GET /documents?limit=1: Scan, page-token key from Secrets Manager",
                lambda: _api_event(
                    "documents/list.json",
                    "/documents",
                    queryStringParameters={"limit": "1"},
                    multiValueQueryStringParameters={"limit": ["1"]},
                ),
            ),
            "DocumentUploadedFunction": (
                "an upload notification (an object with no record)",
                uploaded,
            ),
            "CustomerEventsPublisherFunction": (
                "a stream record of a new customer: SNS publish",
                stream_record,
            ),
            "CustomerAuditFunction": (
                "an SQS CustomerCreated: conditional put to the audit table",
                lambda: _sqs("customer_audit/sqs-batch.json", _customer_created()),
            ),
            "WelcomeEmailFunction": (
                "an SQS CustomerCreated: idempotency record, notification",
                lambda: _sqs("welcome_email/sqs-batch.json", _customer_created()),
            ),
            "PartnerWriterFunction": (
                "an SQS ingest message of two rows: secret, connect, upsert",
                partner_rows,
            ),
            "PartnerFetcherFunction": (
                "a scheduled run: SSM feed URL, HTTP fetch of a local feed, SQS send",
                lambda: _event_file("partner_fetcher/scheduled.json"),
            ),
            "OutboxRelayFunction": (
                "a scheduled run: secret, connect, publish the one event of a clean outbox",
                lambda: self.relay_run("OutboxRelayFunction", "rds"),
            ),
            "DatabaseMigrationsFunction": (
                "a migration run: secret, connect, nothing to apply",
                lambda: {},
            ),
            "CustomersAuroraFunction": (
                "GET /aurora/customers/{id}: one ExecuteStatement through the Data API",
                lambda: _api_event(
                    "customers_aurora/get.json",
                    f"/aurora/customers/{self.ids.get('aurora', '')}",
                    pathParameters={"id": self.ids.get("aurora", "")},
                ),
            ),
            "CustomersDjangoFunction": (
                "GET /django/customers/{id}: secret, connect, SELECT through Django's ORM",
                lambda: _api_event(
                    "customers_django/get.json",
                    f"/django/customers/{self.ids.get('django', '')}",
                    pathParameters={"id": self.ids.get("django", "")},
                ),
            ),
            "AuroraMigrationsFunction": (
                "a migration run through the Data API: nothing to apply",
                lambda: {},
            ),
            "AuroraOutboxRelayFunction": (
                "a scheduled sweep through the Data API: publish the one event of a clean outbox",
                lambda: self.relay_run("AuroraOutboxRelayFunction", "aurora"),
            ),
        }


def _email() -> str:
    return f"cold-{uuid.uuid4().hex[:12]}@example.com"


# -- running ------------------------------------------------------------------------------


class ColdRunner:
    def __init__(self, stack: LocalStack, work: Path) -> None:
        self.stack = stack
        self.work = work
        self.baselines: dict[str, Path] = {}
        self.baseline_pools: dict[str, FunctionPool] = {}

    def _layer_paths(self, function: LocalFunction) -> list[str]:
        return [p for p in function.environment["PYTHONPATH"].split(":") if p]

    def child(
        self,
        function: LocalFunction,
        event: dict[str, Any],
        *,
        baseline: bool = False,
        record: bool = False,
        flags: tuple[str, ...] = (),
    ) -> tuple[dict[str, Any], str]:
        """One fresh interpreter; its result and its stderr."""
        spec = function.pool.spec
        path = self._layer_paths(function)
        task_dir = spec.task_dir
        if baseline:
            task_dir = self.baselines[function.logical_id]
            path = [str(task_dir), *path[1:]]  # layer for pymysql only; never imported else
        result_file = self.work / "result.json"
        spec_file = self.work / "spec.json"
        spec_file.write_text(
            json.dumps(
                {
                    "path": path,
                    "handler": "app.lambda_handler" if baseline else spec.handler,
                    "event": event,
                    "function_name": spec.name,
                    "memory": spec.memory_mb,
                    "result": str(result_file),
                    "record": record,
                }
            )
        )
        result_file.unlink(missing_ok=True)
        process = subprocess.run(  # noqa: S603 - the runtime interpreter, our own script
            [str(spec.interpreter), "-I", "-S", *(flags or ("-B",)), str(CHILD), str(spec_file)],
            cwd=task_dir,
            env=function.environment | {"AWS_ENDPOINT_URL": self.stack.endpoint.url},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if process.returncode != 0:
            raise RuntimeError(f"exit {process.returncode}: {process.stderr[-1500:]}")
        outcome: dict[str, Any] = json.loads(result_file.read_text())
        return outcome, process.stderr

    def make_baseline(self, function: LocalFunction, discovery: dict[str, Any]) -> None:
        folder = self.work / "baseline" / function.logical_id
        folder.mkdir(parents=True)
        shutil.copy(BASELINE, folder / "app.py")
        replay = {"calls": discovery["calls"], "statements": discovery["statements"]}
        (folder / "replay.json").write_text(json.dumps(replay, default=str))
        self.baselines[function.logical_id] = folder
        config = dataclasses.replace(
            function.config,
            logical_id=f"{function.logical_id}Baseline",
            handler="app.lambda_handler",
        )
        self.baseline_pools[function.logical_id] = self.stack.runtime.add(
            config,
            code_dir=folder,
            layers=self.stack._layers,
            region=self.stack.region,
            credentials=function.credentials,
            endpoint_url=function.environment["AWS_ENDPOINT_URL"],
        )

    @staticmethod
    def runtime_cold(pool: FunctionPool, event: dict[str, Any]) -> int:
        """Process start to first response: stop idle environments, then invoke."""
        pool.stop_idle(0)
        started = time.perf_counter_ns()
        invocation = pool.invoke(event)
        elapsed = time.perf_counter_ns() - started
        if not invocation.cold:
            raise RuntimeError("the invocation was not a cold start")
        _check(invocation.result)
        return elapsed


def _check(response: Any) -> None:
    if isinstance(response, dict):
        status = response.get("statusCode", 200)
        if not 200 <= int(status) < 300:
            raise RuntimeError(f"first request answered {response!r:.300}")
        if response.get("batchItemFailures"):
            raise RuntimeError(f"a record failed: {response!r:.300}")


def import_profile(stderr: str, top: int = TOP_IMPORTS) -> list[dict[str, Any]]:
    """The heaviest imports of an `-X importtime` run by cumulative time, among the modules
    the handler imports and those they import (depth 0 and 1: deeper, one chain such as
    boto3's would fill the list with its own links)."""
    rows = []
    for line in stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if match:
            own, cumulative, indent, name = match.groups()
            rows.append((int(cumulative), int(own), len(indent) // 2, name))
    return [
        {"module": name, "cumulative_ms": round(c / 1000, 1), "self_ms": round(o / 1000, 1)}
        | {"depth": depth}
        for c, o, depth, name in sorted((r for r in rows if r[2] <= 1), reverse=True)[:top]
    ]


def run(stack: LocalStack, counters: Counters, runs: int, *, profile: bool = True) -> ColdResults:
    del counters  # the probes are checked by their responses
    interpreter = stack.function("CustomersRdsFunction").pool.spec.interpreter
    version = subprocess.run(  # noqa: S603
        [str(interpreter), "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    probes = Probes(stack)
    factories = probes.factories()
    unprobed = sorted(set(stack.functions) - set(factories))
    if unprobed:  # every function the stack runs has its first request here
        raise RuntimeError(f"no cold-start probe for {', '.join(unprobed)} (bench/coldstart.py)")
    functions = [
        ColdFunction(logical_id, factories[logical_id][0]) for logical_id in sorted(stack.functions)
    ]
    results = ColdResults(str(interpreter), version, runs, functions)
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="cold-", dir=WORK_DIR))
    runner = ColdRunner(stack, work)
    try:
        progress(f"cold start: discovery and import profiles of {len(functions)} functions")
        for cold in functions:
            function = stack.function(cold.logical_id)
            event = factories[cold.logical_id][1]
            try:
                # untimed: records the I/O for the baseline, writes any missing bytecode
                discovery, _ = runner.child(
                    function, event(), record=True, flags=("-X", "frozen_modules=on")
                )
                _check(discovery["response"])
                cold.calls = [
                    f"{service}.{operation}" for service, operation, _ in discovery["calls"]
                ]
                cold.statements = len(discovery["statements"])
                runner.make_baseline(function, discovery)
                if profile:
                    profiled, stderr = runner.child(
                        function, event(), flags=("-B", "-X", "importtime")
                    )
                    cold.import_profile = import_profile(stderr)
                    cold.modules = int(profiled["modules"])
            except (RuntimeError, subprocess.SubprocessError, ValueError, OSError) as error:
                cold.errors.append(f"discovery: {error}")
            cold.series = {
                v: Series(f"cold.{cold.logical_id}.{v}", f"cold start of {cold.logical_id}, {v}")
                for v in VARIANTS
            }
        rounds = {
            c.logical_id: Rounds(list(VARIANTS), seed=11 + i) for i, c in enumerate(functions)
        }
        for number in range(runs):
            progress(f"cold start round {number + 1} of {runs} ({len(functions) * 4} cold starts)")
            for cold in functions:
                if cold.errors:
                    continue
                function = stack.function(cold.logical_id)
                event = factories[cold.logical_id][1]
                for variant in rounds[cold.logical_id].next():
                    try:
                        cold.series[variant].add_ns(_one(runner, function, variant, event()))
                    except (RuntimeError, subprocess.SubprocessError, ValueError) as error:
                        cold.errors.append(f"{variant}: {error}")
                        break
        for cold in functions:
            cold.order = rounds[cold.logical_id].record()
    finally:
        for pool in runner.baseline_pools.values():
            pool.close()
        probes.close()
        with contextlib.suppress(OSError):
            shutil.rmtree(work)
    return results


def _one(runner: ColdRunner, function: LocalFunction, variant: str, event: dict[str, Any]) -> int:
    if variant == "ours":
        outcome, _ = runner.child(function, event)
        _check(outcome["response"])
        return int(outcome["total_ns"])
    if variant == "baseline":
        outcome, _ = runner.child(function, event, baseline=True)
        return int(outcome["total_ns"])
    if variant == "ours_runtime":
        return runner.runtime_cold(function.pool, event)
    return runner.runtime_cold(runner.baseline_pools[function.logical_id], event)


def main() -> int:
    print("run cold starts with: .venv/bin/python -m bench --only cold", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
