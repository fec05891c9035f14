"""Bench workers: one function's code in a clean interpreter, driven over a pipe.

`Worker(function)` starts bench/worker.py on the function's interpreter, in its built
folder, with the environment its execution environments get from the local runtime
(optionally with other values for some variables, e.g. AWS_ENDPOINT_URL through a proxy).
`run(target, payloads)` times one call per payload inside that process and returns the
durations and what each call returned.
"""

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench.harness import REPO
from local_stack.runtime.functions import LocalFunction

WORKER = Path(__file__).with_name("worker.py")


class WorkerError(RuntimeError):
    """A call inside the worker raised; the message has the traceback and the log's end."""


class Worker:
    def __init__(
        self,
        function: LocalFunction,
        *,
        handler: bool = True,
        environment: dict[str, str] | None = None,
    ) -> None:
        self.function = function
        spec = function.pool.spec
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in close()
            mode="w+", prefix=f"bench-{function.logical_id}-", suffix=".log"
        )
        self.process = subprocess.Popen(  # noqa: S603 - the function's interpreter, our script
            [str(spec.interpreter), "-S", str(WORKER), str(REPO)],
            cwd=spec.task_dir,
            env=function.environment
            | {"AWS_LAMBDA_LOG_STREAM_NAME": "bench"}
            | (environment or {}),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        if handler:
            self.request(op="load", handler=spec.handler)

    def request(self, **request: Any) -> dict[str, Any]:
        stdin, stdout = self.process.stdin, self.process.stdout
        if stdin is None or stdout is None:  # pragma: no cover - always pipes
            raise RuntimeError("worker without pipes")
        stdin.write(json.dumps(request) + "\n")
        stdin.flush()
        line = stdout.readline()
        if not line:
            raise WorkerError(f"{self.function.logical_id}: the worker exited\n{self.log_tail()}")
        reply: dict[str, Any] = json.loads(line)
        if "error" in reply:
            raise WorkerError(
                f"{self.function.logical_id}: {reply['error']}\n{reply.get('trace', '')}"
                f"\nthe worker's log ends:\n{self.log_tail()}"
            )
        return reply

    def run(self, target: str, payloads: list[Any]) -> tuple[list[int], list[Any]]:
        if not payloads:
            return [], []
        reply = self.request(op="run", target=target, calls=payloads)
        return reply["ns"], reply["results"]

    def trace(self, target: str, payload: Any) -> tuple[list[str], Any]:
        """The SQL statements one call of `target` sends, in order, and its result."""
        reply = self.request(op="trace", target=target, call=payload)
        return reply["statements"], reply["result"]

    def log_tail(self, chars: int = 3000) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-chars:]

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.log.close()

    def __enter__(self) -> "Worker":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
