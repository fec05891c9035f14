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

Counting is not estimating, and happens at the boundaries, as AWS and MySQL see it:
`EndpointCalls` sees every AWS API call that reaches the local endpoint, by the caller's
access key (each function has its own), and `ServerStatus` reads the MySQL server's own
counters (connections, statements of each kind).
"""

import contextlib
import io
import os
import random
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs

import pyperf

REPO = Path(__file__).resolve().parents[1]
# scratch space (ignored by git); BENCH_WORK_DIR gives a run its own (the test's tiny run)
WORK_DIR = Path(os.environ.get("BENCH_WORK_DIR") or REPO / ".local" / "bench")
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


# -- order ------------------------------------------------------------------------------


class Rounds:
    """The order of the variants in each round: ABBA over random permutations.

    Rounds come in pairs: a random permutation, then the same reversed, so over each pair
    every variant runs as often early as late in the round (what it meets: a table grown by
    the variant before it, a cache warmed or evicted) and a drift in machine load cancels
    out. The seed and every round's order are recorded next to the figures."""

    def __init__(self, variants: list[str], seed: int) -> None:
        self.variants = list(variants)
        self.seed = seed
        self._random = random.Random(seed)  # noqa: S311 - an order, not a secret
        self.history: list[list[str]] = []

    def next(self) -> list[str]:
        if len(self.history) % 2 == 0:
            order = self._random.sample(self.variants, len(self.variants))
        else:
            order = list(reversed(self.history[-1]))
        self.history.append(order)
        return order

    def record(self) -> dict[str, Any]:
        return {
            "scheme": "ABBA: each pair of rounds is a random permutation, then its reverse",
            "seed": self.seed,
            "rounds": [" ".join(order) for order in self.history],
        }


# -- counters at the boundaries ---------------------------------------------------------


class EndpointCalls:
    """Every AWS API call that reaches the local endpoint, by caller and operation.

    A WSGI middleware in front of moto (`AwsEndpoint(middleware=calls.middleware)`): the
    access key in the SigV4 Authorization header says who called (each function has its
    own credentials), X-Amz-Target or the query protocol's Action says what. Counted where
    AWS would count it, whatever client, session or process made the call."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def middleware(self, app: Any) -> Any:
        def counted(environ: dict[str, Any], start_response: Any) -> Any:
            key, operation = self._identify(environ)
            with self._lock:
                self.counts[(key, operation)] += 1
            return app(environ, start_response)

        return counted

    @staticmethod
    def _identify(environ: dict[str, Any]) -> tuple[str, str]:
        match = re.search(r"Credential=([^/]+)/", environ.get("HTTP_AUTHORIZATION", ""))
        key = match.group(1) if match else ""
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target:
            return key, target.rpartition(".")[2]
        query = parse_qs(environ.get("QUERY_STRING", ""))
        if "Action" not in query and environ.get("CONTENT_TYPE", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            query = parse_qs(body.decode("utf-8", "replace"))
        action = query.get("Action", [""])[0]
        return key, action or f"{environ.get('REQUEST_METHOD', '')} {environ.get('PATH_INFO', '')}"

    def of(self, key: str) -> Counter[str]:
        """Calls made with access key `key`, by operation."""
        with self._lock:
            return Counter({op: n for (k, op), n in self.counts.items() if k == key})


class ServerStatus:
    """The MySQL server's own counters (SHOW GLOBAL STATUS) through an admin connection."""

    STATEMENTS = ("select", "insert", "update", "delete", "commit", "rollback")

    def __init__(self, admin_connection: Any) -> None:
        self._admin = admin_connection

    def read(self) -> dict[str, int]:
        with self._admin.cursor() as cursor:
            cursor.execute(
                "SHOW GLOBAL STATUS WHERE Variable_name IN "
                "('Connections', 'Access_denied_errors', "
                + ", ".join(f"'Com_{name}'" for name in self.STATEMENTS)
                + ")"
            )
            return {name.lower(): int(value) for name, value in cursor.fetchall()}

    @staticmethod
    def statements(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
        """Statements of each kind the server ran between two readings."""
        delta = {
            name: after[f"com_{name}"] - before[f"com_{name}"] for name in ServerStatus.STATEMENTS
        }
        return {name: count for name, count in delta.items() if count}


@dataclass
class Tally:
    """Invocations of one handler, and the secret fetches and connections they caused."""

    invocations: int = 0
    secret_fetches: int = 0
    connections: int = 0

    def per_1000(self) -> dict[str, float | int]:
        scale = 1000 / self.invocations if self.invocations else 0.0
        return {
            "invocations": self.invocations,
            "secret_fetches": round(self.secret_fetches * scale, 3),
            # counted by the server (its Connections status), the only count there is
            "db_connections": round(self.connections * scale, 3),
            "db_connections_server_side": round(self.connections * scale, 3),
        }


@dataclass
class Counters:
    """Secret fetches (at the AWS endpoint) and connections (at the MySQL server)."""

    aws: EndpointCalls
    mysql: ServerStatus

    @contextlib.contextmanager
    def counting(self, tally: Tally, key: str, invocations: int) -> Iterator[None]:
        """Add what `key`'s calls and the server saw inside the block to `tally` (nothing
        else may connect to MySQL meanwhile)."""
        fetches = self.aws.of(key)["GetSecretValue"]
        server = self.mysql.read()["connections"]
        yield
        tally.invocations += invocations
        tally.secret_fetches += self.aws.of(key)["GetSecretValue"] - fetches
        tally.connections += self.mysql.read()["connections"] - server
