"""The local Lambda runtime: every function in its own execution environments.

    LocalRuntime ── builds (build.py) ─ runtime folder, layers, function folders, by hash
        │
        ├── FunctionPool per function (pool.py) ── ExecutionEnvironment = RIE + awslambdaric
        │        environment variables from nothing but template.yaml (environment.py)
        ├── LogRouter: each line to .local/logs/<LogicalId>.log, and to the terminal
        └── Reaper: no environment outlives the process that started it

Beside it: functions.py (a function of the template, as the emulators and the tests invoke
it) and snapstart_entry/ (the entry point local_stack.assembly.snapstart starts a function
with, to run its SnapStart hooks).

What the runtime does not do (docs/local-runtime.md): enforce memory (reported only), or
play AWS services; the service emulators (local_stack.services.apigateway, .event_sources, .s3)
turn requests, batches and notifications into invocations.
"""

import os
import secrets
import string
import sys
import threading
from pathlib import Path
from typing import TextIO

from local_stack.runtime.build import Builder, find_interpreter
from local_stack.runtime.environment import Credentials, FunctionConfig, lambda_environment
from local_stack.runtime.pool import (
    Admission,
    FunctionError,
    FunctionPool,
    FunctionSpec,
    Invocation,
    Throttled,
)
from local_stack.runtime.reaper import Reaper

__all__ = [
    "Admission",
    "Credentials",
    "FunctionConfig",
    "FunctionError",
    "FunctionPool",
    "Invocation",
    "LocalRuntime",
    "Throttled",
]

# Environments per function (at most its reserved concurrency): enough to show concurrency
# on a laptop without starting dozens of interpreters. LOCAL_LAMBDA_CONCURRENCY changes it.
# Past it a caller waits for a free environment: an emulation limit, not a throttle, since
# Lambda would run more (reserved concurrency, where the template sets it, throttles).
DEFAULT_MAX_ENVIRONMENTS = 4
# Lambda keeps an idle environment for minutes; locally they are stopped after this long.
DEFAULT_IDLE_TIMEOUT_S = 300.0


class LogRouter:
    """Function log lines to one file per function and, optionally, the terminal."""

    def __init__(self, folder: Path, echo: TextIO | None = None) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.echo = echo
        self._files: dict[str, TextIO] = {}
        self._lock = threading.Lock()
        self._width = 0

    def path(self, logical_id: str) -> Path:
        return self.folder / f"{logical_id}.log"

    def line(self, logical_id: str, line: str, echo: bool = True) -> None:
        with self._lock:
            handle = self._files.get(logical_id)
            if handle is None:
                handle = self._files[logical_id] = self.path(logical_id).open("a", buffering=1)
            handle.write(line + "\n")
            if echo:
                self._echo(logical_id, [line])

    def show(self, logical_id: str, lines: list[str]) -> None:
        """Lines already in the function's file, on the terminal."""
        with self._lock:
            self._echo(logical_id, lines)

    def _echo(self, logical_id: str, lines: list[str]) -> None:
        if self.echo is None:
            return
        self._width = max(self._width, len(logical_id))
        self.echo.write("".join(f"{logical_id:<{self._width}} | {line}\n" for line in lines))
        self.echo.flush()

    def close(self) -> None:
        with self._lock:
            for handle in self._files.values():
                handle.close()
            self._files.clear()


def new_credentials() -> Credentials:
    """Temporary credentials in AWS's shape (an ASIA access key, a secret, a session token)."""
    alphabet = string.ascii_uppercase + string.digits
    return Credentials(
        access_key_id="ASIA" + "".join(secrets.choice(alphabet) for _ in range(16)),
        secret_access_key=secrets.token_urlsafe(30),
        session_token=secrets.token_urlsafe(96),
    )


class LocalRuntime:
    """The execution environments of one local stack's functions."""

    def __init__(
        self,
        *,
        log_dir: Path,
        echo: TextIO | None = None,
        max_environments: int | None = None,
        idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
        trust: tuple[str, str] | None = None,
    ) -> None:
        """`trust`: (a CA bundle's path inside the layers' python/ folder, a PEM to add to
        it): local servers the functions must trust besides what the layer ships."""
        self.trust = trust
        self.max_environments = max_environments or int(
            os.environ.get("LOCAL_LAMBDA_CONCURRENCY") or DEFAULT_MAX_ENVIRONMENTS
        )
        self.idle_timeout_s = idle_timeout_s
        self.reaper = Reaper()
        self.logs = LogRouter(log_dir, echo)
        self.pools: dict[str, FunctionPool] = {}
        self._builders: dict[str, Builder] = {}
        self._stop = threading.Event()
        self._idle_thread = threading.Thread(target=self._stop_idle, name="idle", daemon=True)
        self._idle_thread.start()

    def builder(self, runtime: str) -> Builder:
        if runtime not in self._builders:
            self._builders[runtime] = Builder(find_interpreter(runtime))
        return self._builders[runtime]

    def add(
        self,
        config: FunctionConfig,
        *,
        code_dir: Path,
        layers: dict[str, tuple[Path, str]],
        region: str,
        credentials: Credentials,
        endpoint_url: str,
    ) -> FunctionPool:
        """Build `config`'s function (or find its build) and give it a pool."""
        builder = self.builder(config.runtime)
        layer_dirs = [builder.layer(layer_id, *layers[layer_id]) for layer_id in config.layer_ids]
        if self.trust is not None:
            layer_dirs = [builder.trusting(layer, *self.trust) for layer in layer_dirs]
        task_dir = builder.function(config.logical_id, code_dir)
        environment = lambda_environment(
            config,
            region=region,
            credentials=credentials,
            endpoint_url=endpoint_url,
            task_dir=task_dir,
            layer_dirs=layer_dirs,
            runtime_dir=builder.runtime(),
            interpreter=builder.interpreter.path,
        )
        spec = FunctionSpec(
            logical_id=config.logical_id,
            name=config.name,
            handler=config.handler,
            timeout_s=config.timeout_s,
            memory_mb=config.memory_mb,
            task_dir=task_dir,
            interpreter=builder.interpreter.path,
            environment=environment,
        )
        limit = self.max_environments
        if config.reserved_concurrency is not None:
            limit = min(limit, config.reserved_concurrency)
        pool = FunctionPool(spec, self.reaper, limit, self.logs, config.reserved_concurrency)
        self.pools[config.logical_id] = pool
        return pool

    def _stop_idle(self) -> None:
        while not self._stop.wait(min(30.0, self.idle_timeout_s)):
            for pool in list(self.pools.values()):
                pool.stop_idle(self.idle_timeout_s)

    def close(self) -> None:
        self._stop.set()
        for pool in self.pools.values():
            pool.close()
        self.logs.close()
        self.reaper.close()


def interpreter_note(runtime: str) -> str:
    """One line for the start-up banner: which Python runs the functions."""
    interpreter = find_interpreter(runtime)
    if interpreter.exact:
        return f"{runtime} ({interpreter.path})"
    return f"Python {interpreter.version} ({sys.executable}) INSTEAD OF {runtime}"
