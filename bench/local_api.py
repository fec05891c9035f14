"""The local runtime's own figures: `make api` start time, the emulator's overhead per
invocation, and requests per second through HTTP.

start_s        `python -m local_stack.commands.server` (what `make api` runs) from process start
               until `.local/outputs.json` exists (it is written once everything answers),
               with an empty build cache (cold: the runtime, layer and functions are built)
               and with the cache that run left (warm, median of a few); then SIGTERM until
               the process has exited, everything stopped. Each start brings up its own
               MySQL server, as `make api` does on a laptop.
emulator       for a GET of each customers backend: the same event through the local
               runtime (`invoke`: the pool, the Lambda Runtime Interface Emulator, the
               runtime interface client, the handler) and to the handler called directly
               in a bench worker with the same environment, interleaved; the difference of
               the medians is what the emulator hop costs per invocation.
requests/s     GET /<backend>/customers/{id} through the local API Gateway over HTTP,
               with 1, 4 and 16 keep-alive clients (bench/load.py, a separate process)
               for a few seconds each; the functions' pools grow up to their environment
               cap, as `make api` lets them.
"""

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.harness import REPO, WORK_DIR, Rounds, progress
from bench.workers import Worker
from local_stack.assembly.stack import LocalStack
from local_stack.commands.server import _handler_for, _listen
from local_stack.runtime import DEFAULT_MAX_ENVIRONMENTS

CLIENTS = (1, 4, 16)
FUNCTIONS = {"rds": "CustomersRdsFunction", "dynamodb": "CustomersDynamoDBFunction"}


def start_once(build_dir: Path | None, timeout_s: float = 600) -> tuple[float, float]:
    """Seconds from `make api`'s process start to ready, and from SIGTERM to exit."""
    with tempfile.TemporaryDirectory(prefix="api-start-") as state:
        outputs = Path(state) / "outputs.json"
        environment = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("AWS_", "MYSQL_"))
        }
        environment |= {
            "PORT": "0",  # a port the system picks when the API listens: no race for one
            "LOCAL_STATE_DIR": state,
            "LOCAL_API_QUIET": "1",
            "PYTHONPATH": str(REPO),
        }
        if build_dir is not None:  # else the default, the one `make api` uses
            environment["LOCAL_BUILD_DIR"] = str(build_dir)
        started = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-m", "local_stack.commands.server"],
            cwd=REPO,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            while not outputs.exists():
                if process.poll() is not None:
                    raise RuntimeError(f"make api exited with {process.returncode} before ready")
                if time.monotonic() - started > timeout_s:
                    raise RuntimeError("make api was not ready in time")
                time.sleep(0.05)
            ready = time.monotonic() - started
            stopping = time.monotonic()
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
            return ready, time.monotonic() - stopping
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _get_event(backend: str, customer_id: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(
        (REPO / "events" / f"customers_{backend}" / "get.json").read_text()
    )
    event["path"] = f"/{backend}/customers/{customer_id}"
    event["requestContext"]["path"] = f"/{event['requestContext']['stage']}{event['path']}"
    event["pathParameters"] = {"id": customer_id}
    return event


def emulator_overhead(stack: LocalStack, ids: dict[str, str], calls: int) -> dict[str, Any]:
    results = {}
    for backend, logical_id in FUNCTIONS.items():
        function = stack.function(logical_id)
        event = _get_event(backend, ids[backend])
        runtime_ms: list[float] = []
        direct_ms: list[float] = []
        rounds = Rounds(["runtime", "direct"], seed=3)
        with Worker(function) as worker:
            worker.run("ours", [event] * 5)
            for _ in range(5):
                function.invoke(event)
            for _ in range(10):
                for variant in rounds.next():
                    if variant == "direct":
                        durations, _ = worker.run("ours", [event] * (calls // 10))
                        direct_ms += [d / 1e6 for d in durations]
                    else:
                        for _ in range(calls // 10):
                            began = time.perf_counter()
                            function.invoke(event)
                            runtime_ms.append((time.perf_counter() - began) * 1000)
        runtime_p50, direct_p50 = statistics.median(runtime_ms), statistics.median(direct_ms)
        results[backend] = {
            "runtime_p50": round(runtime_p50, 3),
            "direct_p50": round(direct_p50, 3),
            "overhead": round(runtime_p50 - direct_p50, 3),
            "calls": len(runtime_ms),
            "order": rounds.record(),
        }
    return results


def requests_per_second(
    stack: LocalStack, ids: dict[str, str], seconds: float
) -> dict[str, dict[str, Any]]:
    os.environ["LOCAL_API_QUIET"] = "1"  # no access-log line per request
    server = _listen(0, _handler_for(stack.api), "127.0.0.1")
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        results: dict[str, dict[str, Any]] = {}
        for backend in FUNCTIONS:
            url = f"{base}/{backend}/customers/{ids[backend]}"
            results[backend] = {}
            for clients in CLIENTS:
                progress(f"local api: {clients} clients on GET /{backend}/customers/{{id}}")
                # first untimed, so the pool has its environments (their cold starts are
                # the cold-start figures' business), then measured
                for duration in (min(2.0, seconds), seconds):
                    done = subprocess.run(  # noqa: S603 - this interpreter, bench/load.py
                        [sys.executable, "-m", "bench.load", url, str(clients), str(duration)],
                        cwd=REPO,
                        capture_output=True,
                        text=True,
                        timeout=duration + 120,
                        check=False,
                    )
                    if done.returncode != 0:
                        raise RuntimeError(
                            f"load failed: {done.stdout[-500:]} {done.stderr[-1500:]}"
                        )
                outcome = json.loads(done.stdout)
                results[backend][str(clients)] = {
                    k: round(v, 3) if isinstance(v, float) else v
                    for k, v in outcome.items()
                    if k != "errors"
                }
        return results
    finally:
        server.shutdown()
        server.server_close()


def run(
    stack: LocalStack,
    seconds: float,
    *,
    quick: bool = False,
    calls: int | None = None,
    cold_build: bool = True,
) -> dict[str, Any]:
    """`cold_build=False` (the tiny run) skips the start from an empty build cache (it
    installs the runtime's packages: a minute) and starts once on the build cache the
    stack already uses."""
    result: dict[str, Any] = {
        "rps_seconds": seconds,
        "environments_per_function": int(
            os.environ.get("LOCAL_LAMBDA_CONCURRENCY") or DEFAULT_MAX_ENVIRONMENTS
        ),
    }
    api = stack.api
    ids = {
        backend: api.request(
            "POST",
            f"/{backend}/customers",
            body=json.dumps(
                {"name": "Load", "email": f"load-{backend}-{time.time_ns()}@example.com"}
            ),
        ).json()["id"]
        for backend in FUNCTIONS
    }
    try:
        progress("local api: the emulator's overhead per invocation")
        calls = calls or (50 if quick else 300)
        result["emulator_overhead_ms"] = emulator_overhead(stack, ids, calls)
        result["requests_per_s"] = requests_per_second(stack, ids, seconds)
        progress("local api: `make api` start, cold and warm build cache")
        WORK_DIR.mkdir(parents=True, exist_ok=True)
        cold: float | None = None
        stops: list[float] = []
        if cold_build:
            with tempfile.TemporaryDirectory(prefix="api-build-", dir=WORK_DIR) as build:
                cold, stop = start_once(Path(build))
                stops.append(stop)
                warm = [start_once(Path(build)) for _ in range(1 if quick else 2)]
        else:
            warm = [start_once(None)]
        result["start_s"] = {
            "cold": round(cold, 1) if cold is not None else None,
            "warm": round(statistics.median(ready for ready, _ in warm), 1),
            "stop": round(statistics.median([*stops, *(s for _, s in warm)]), 1),
            "warm_runs": len(warm),
        }
    except (RuntimeError, OSError, subprocess.SubprocessError, ValueError) as error:
        result["error"] = str(error)
    return result
