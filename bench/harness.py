"""What every benchmark here shares: fake AWS credentials, timing, statistics, and counters.

Timing is a plain `time.perf_counter_ns()` around each call, kept per call so that p50 and
p99 are percentiles of real invocations. Statistics, metadata and the result file are
pyperf's: every series becomes a `pyperf.Benchmark` (values in seconds), so the figures
come from pyperf's median and percentile, and the suite written next to results.json can
be read with pyperf's own tools (`python -m pyperf stats|hist|compare_to FILE`). pyperf's
`Runner` is not used to drive the calls: it spreads values over freshly spawned worker
processes, and a worker would have to deploy the whole local stack (moto, MySQL, the
functions) again for each of them; and for cold starts the worker, with pyperf and half
the standard library already imported, is exactly the warm interpreter a cold start must
not run in. So the loops are ours and the numbers go through pyperf.

Counting is not estimating: `AwsCalls` sees every AWS API call any botocore session in
this process makes (a `before-call` hook installed into every new session), and
`MySQLConnections` counts every connection pymysql opens, checked against the server's own
`Connections` status.
"""

import contextlib
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import pyperf

REPO = Path(__file__).resolve().parents[1]
WORK_DIR = REPO / ".local" / "bench"  # scratch space (ignored by git)
T = TypeVar("T")


def fake_aws_environment() -> None:
    """Before anything imports boto3: never reach a real account (as tests/conftest.py does)."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(name, None)
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",  # noqa: S106 - fake, for moto
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
    )


_STARTED = time.monotonic()


def progress(message: str) -> None:
    """A line on stderr (stdout may be an invocation's log capture while a handler runs)."""
    print(f"  [{time.monotonic() - _STARTED:5.0f} s] {message}", file=sys.__stderr__, flush=True)


# -- series of timings ------------------------------------------------------------------


@dataclass
class Series:
    """Durations of one kind of call, one value per call."""

    name: str
    description: str = ""
    unit: str = "second"
    values_ns: list[int] = field(default_factory=list)

    def time(self, call: Callable[[], T]) -> T:
        started = time.perf_counter_ns()
        result = call()
        self.values_ns.append(max(1, time.perf_counter_ns() - started))
        return result

    def add_ns(self, value_ns: int) -> None:
        self.values_ns.append(max(1, value_ns))

    def __len__(self) -> int:
        return len(self.values_ns)

    @property
    def benchmark(self) -> pyperf.Benchmark:
        return _benchmark(self.name, self.description, tuple(self.values_ns))

    def p50_ms(self) -> float:
        return float(self.benchmark.median()) * 1000

    def percentile_ms(self, p: float) -> float:
        return float(self.benchmark.percentile(p)) * 1000


@cache
def _benchmark(name: str, description: str, values_ns: tuple[int, ...]) -> pyperf.Benchmark:
    metadata = {"name": name, "unit": "second"}
    if description:
        metadata["description"] = description
    run = pyperf.Run([v / 1e9 for v in values_ns], metadata=metadata, collect_metadata=False)
    return pyperf.Benchmark([run])


def machine_metadata() -> dict[str, Any]:
    """pyperf's description of this machine and interpreter (CPU, cores, load, platform)."""
    run = pyperf.Run([1.0], metadata={"name": "machine"}, collect_metadata=True)
    metadata: dict[str, Any] = dict(run.get_metadata())
    return metadata


def write_suite(series: list[Series], path: Path) -> None:
    """Every series as one pyperf suite (`python -m pyperf stats PATH`)."""
    benchmarks = [s.benchmark for s in series if s.values_ns]
    if not benchmarks:
        return
    suite = pyperf.BenchmarkSuite(benchmarks)
    path.parent.mkdir(parents=True, exist_ok=True)
    suite.dump(str(path), replace=True)


# -- counters ---------------------------------------------------------------------------


class AwsCalls:
    """Every AWS API call made from this process, by "service.Operation".

    botocore registers `botocore.handlers.BUILTIN_HANDLERS` on each session it creates, so a
    `before-call` hook appended there sees the calls of every client created afterwards:
    the functions' own cached clients, the notes' per-call sessions and the local stack's.
    Install it before anything creates a session.
    """

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def install(self) -> "AwsCalls":
        from botocore import handlers  # noqa: PLC0415 - after fake_aws_environment()

        handlers.BUILTIN_HANDLERS.append(("before-call", self._count))
        return self

    def _count(self, model: Any, **_: Any) -> None:
        self.counts[f"{model.service_model.service_name}.{model.name}"] += 1

    def of(self, operation: str) -> int:
        return self.counts[operation]


class MySQLConnections:
    """Connections pymysql opens in this process (client side), and the server's count."""

    def __init__(self) -> None:
        self.opened = 0
        self._admin: Any = None

    def install(self) -> "MySQLConnections":
        from pymysql.connections import Connection  # noqa: PLC0415

        original = Connection.connect
        counter = self

        def connect(connection: Any, *args: Any, **kwargs: Any) -> Any:
            result = original(connection, *args, **kwargs)
            counter.opened += 1
            return result

        Connection.connect = connect
        return self

    def watch_server(self, admin_connection: Any) -> None:
        """An admin connection, opened beforehand, to read `Connections` through."""
        self._admin = admin_connection

    def server_count(self) -> int | None:
        """The server's `Connections` status (every connection attempt, from anyone)."""
        if self._admin is None:
            return None
        with self._admin.cursor() as cursor:
            cursor.execute("SHOW GLOBAL STATUS LIKE 'Connections'")
            row = cursor.fetchone()
        return int(row[1]) if row else None


@dataclass
class Tally:
    """Invocations of one handler, and the secret fetches and connections they caused."""

    invocations: int = 0
    secret_fetches: int = 0
    connections: int = 0
    server_connections: int | None = 0

    def per_1000(self) -> dict[str, float | None]:
        scale = 1000 / self.invocations if self.invocations else 0.0
        server = None if self.server_connections is None else self.server_connections * scale
        return {
            "invocations": self.invocations,
            "secret_fetches": round(self.secret_fetches * scale, 3),
            "db_connections": round(self.connections * scale, 3),
            "db_connections_server_side": None if server is None else round(server, 3),
        }


@dataclass
class Counters:
    aws: AwsCalls
    mysql: MySQLConnections

    @contextlib.contextmanager
    def counting(self, tally: Tally, invocations: int) -> Iterator[None]:
        """Add what happens inside the block to `tally` (nothing else may run meanwhile)."""
        fetches = self.aws.of("secretsmanager.GetSecretValue")
        opened = self.mysql.opened
        server = self.mysql.server_count()
        yield
        tally.invocations += invocations
        tally.secret_fetches += self.aws.of("secretsmanager.GetSecretValue") - fetches
        tally.connections += self.mysql.opened - opened
        after = self.mysql.server_count()
        if server is None or after is None or tally.server_connections is None:
            tally.server_connections = None
        else:
            tally.server_connections += after - server
