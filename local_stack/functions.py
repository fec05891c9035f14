"""Load and invoke functions the way the Lambda Python runtime does, in one process.

Lambda puts a function's own folder and each layer's `python/` folder on `sys.path`,
imports the handler module once per execution environment and calls the handler per event.
Here every function gets its own module namespace: modules loaded from its folder or its
layers (its `app`, its copy of `customer_platform`) are kept apart from other functions'
and swapped into `sys.modules` only while that function runs. Its environment variables
(resolved from template.yaml) are in `os.environ` the same way. One lock serialises
invocations, as one Lambda execution environment serves one event at a time.
"""

import contextlib
import importlib
import io
import os
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from local_stack.template import FunctionSource

_LOCK = threading.RLock()
# ids of modules that live in some function's namespace (kept out of sys.modules between runs)
_FUNCTION_MODULES: set[int] = set()

# Locally there is no X-Ray daemon; everything else about the environment is the template's.
LOCAL_ENVIRONMENT = {"POWERTOOLS_TRACE_DISABLED": "true"}


@dataclass
class LambdaContext:
    """The context object handlers receive (the attributes Powertools reads)."""

    function_name: str
    memory_limit_in_mb: int = 512
    timeout_s: int = 10
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_s

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class FunctionError(Exception):
    """The handler raised; like Lambda, the logs it wrote until then are kept."""

    def __init__(self, function: str, cause: Exception, logs: str) -> None:
        super().__init__(f"{function} failed: {cause!r}")
        self.cause = cause
        self.logs = logs


@dataclass
class Invocation:
    result: Any
    logs: str
    duration_ms: float


class _OutputRouter(io.TextIOBase):
    """Stands in for stdout, per thread.

    Loggers bind the stream they find at creation (Powertools does), so a plain
    redirect would send later invocations' logs to the first one's buffer; and a redirect
    is process-wide, so it would also swallow what other threads print meanwhile (the HTTP
    server, the demo). The router sends a write to the invocation running on the writing
    thread, or else to the stdout it replaced."""

    def __init__(self) -> None:
        self._local = threading.local()
        self.fallback: Any = sys.__stdout__

    def writable(self) -> bool:
        return True

    def buffers(self) -> list[io.StringIO]:
        if not hasattr(self._local, "buffers"):
            self._local.buffers = []
        stack: list[io.StringIO] = self._local.buffers
        return stack

    def write(self, text: str) -> int:
        buffers = self.buffers()
        target = buffers[-1] if buffers else self.fallback
        return target.write(text) if target else len(text)

    def flush(self) -> None:
        if not self.buffers() and self.fallback:
            self.fallback.flush()


_ROUTER = _OutputRouter()


@contextlib.contextmanager
def _captured_stdout() -> Iterator[io.StringIO]:
    if sys.stdout is not _ROUTER:  # installed once (again after pytest swaps stdout)
        _ROUTER.fallback = sys.stdout
        sys.stdout = _ROUTER
    buffer = io.StringIO()
    buffers = _ROUTER.buffers()
    buffers.append(buffer)
    try:
        yield buffer
    finally:
        buffers.remove(buffer)


@contextlib.contextmanager
def _patched_environ(values: dict[str, str]) -> Iterator[None]:
    # Key by key: other threads (pollers, the HTTP server) read os.environ meanwhile and
    # must never see it half-restored (a client built then would aim at real AWS).
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class LocalFunction:
    """One function of the template, loaded lazily like a Lambda execution environment."""

    def __init__(
        self,
        source: FunctionSource,
        layer_paths: list[Path],
        environment: dict[str, str],
        name: str | None = None,
    ) -> None:
        self.source = source
        self.name = name or source.logical_id
        self.paths = [str(source.code_dir), *(str(p) for p in layer_paths)]
        self.environment = environment | LOCAL_ENVIRONMENT
        self._modules: dict[str, ModuleType] = {}
        self._handler: Any = None

    def _owns(self, module: ModuleType) -> bool:
        location = getattr(module, "__file__", None) or ""
        search = getattr(getattr(module, "__spec__", None), "submodule_search_locations", None)
        candidates = [location, *(search or [])]
        return any(c and c.startswith(tuple(self.paths)) for c in candidates)

    @contextlib.contextmanager
    def _namespace(self) -> Iterator[None]:
        """sys.path, sys.modules and os.environ as this function's environment sees them."""
        with _LOCK, _patched_environ(self.environment):
            # Hide modules of other functions, and copies of this function's code that
            # something else imported (a unit test); then show this function's own.
            hidden = {
                name: module
                for name, module in list(sys.modules.items())
                if id(module) in _FUNCTION_MODULES or self._owns(module)
            }
            for name in hidden:
                del sys.modules[name]
            sys.modules.update(self._modules)
            saved_path = list(sys.path)
            sys.path[:0] = self.paths
            try:
                yield
            finally:
                sys.path[:] = saved_path
                for name, module in list(sys.modules.items()):
                    if self._owns(module):
                        self._modules[name] = module
                        _FUNCTION_MODULES.add(id(module))
                        del sys.modules[name]
                for name, module in hidden.items():
                    if id(module) not in _FUNCTION_MODULES:
                        sys.modules.setdefault(name, module)

    def _load(self) -> Any:
        module_name, _, attribute = self.source.handler.rpartition(".")
        module = importlib.import_module(module_name)
        return getattr(module, attribute)

    def module(self, name: str) -> ModuleType:
        """A module as this function's environment has it (loading the function if needed);
        tests use it to reach the function's own clients, e.g. to inject a fault."""
        with self._namespace():
            if self._handler is None:
                self._handler = self._load()
            return importlib.import_module(name)

    def invoke(self, event: Any) -> Invocation:
        """Run the handler on `event`, capturing what it logs (stdout, as in Lambda)."""
        context = LambdaContext(function_name=self.name, timeout_s=self.source.timeout)
        with self._namespace(), _captured_stdout() as logs:
            if self._handler is None:
                self._handler = self._load()
            started = time.perf_counter()
            try:
                result = self._handler(event, context)
            except Exception as error:
                raise FunctionError(self.name, error, logs.getvalue()) from error
            duration_ms = (time.perf_counter() - started) * 1000
        return Invocation(result=result, logs=logs.getvalue(), duration_ms=duration_ms)
