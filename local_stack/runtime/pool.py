"""Execution environments: the Lambda Runtime Interface Emulator running awslambdaric.

One environment is one process pair, as one Lambda execution environment is one microVM:
SAM CLI's bundled RIE (`samcli/local/rapid/aws-lambda-rie-<arch>`, the emulator
`sam local invoke` runs inside its container) on two explicit 127.0.0.1 ports, starting
`python -m awslambdaric <Handler>` in the function's built folder with nothing in its
environment but what Lambda would set. The RIE enforces the function's timeout, prints
START / END / REPORT around each invocation and answers a runtime crash with a 502.

A pool per function keeps Lambda's rules: one invocation at a time per environment (the
RIE cannot take a second concurrent one), a new environment when all are busy, up to the
function's reserved concurrency (or a local cap), idle ones stopped after a while, and a
timed-out, crashed or failed-to-initialise environment discarded, so the next call is cold.

Reserved concurrency is a limit Lambda enforces: an invocation beyond it is throttled
(`Throttled`: a synchronous caller gets 429 TooManyRequestsException, an event source
mapping's batch goes back to its queue), while an asynchronous one waits in Lambda's own
queue (`invoke(wait=True)`). The local cap on environments is not: a function without
reserved concurrency would scale into the account's pool, so beyond the cap a caller
waits for a free environment.
"""

import contextlib
import http.client
import json
import os
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from local_stack.runtime.reaper import Reaper, stop_group

INVOKE_PATH = "/2015-03-31/functions/function/invocations"
# Lambda's synchronous invocation limits: 6 MB in and out (6 * 1024 * 1024 bytes).
MAX_REQUEST_BYTES = 6 * 1024 * 1024
MAX_RESPONSE_BYTES = 6 * 1024 * 1024
# What the RIE answers on a timeout (status 200, plain text).
_TIMED_OUT = "Task timed out after"
_START_TIMEOUT_S = 10.0


def rie_binary() -> Path:
    """The RIE that SAM CLI ships for this machine's architecture."""
    import samcli  # noqa: PLC0415 - only where the runtime starts

    machine = os.uname().machine.lower()
    arch = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(
        machine
    )
    binary = Path(samcli.__file__).parent / "local" / "rapid" / f"aws-lambda-rie-{arch}"
    if arch is None or not binary.exists():
        raise RuntimeError(
            f"no Lambda Runtime Interface Emulator for {machine} in SAM CLI ({binary}); "
            "reinstall the venv with `make venv`"
        )
    return binary


@dataclass(frozen=True)
class FunctionSpec:
    """Everything an execution environment of one function needs, resolved."""

    logical_id: str
    name: str  # the physical function name
    handler: str
    timeout_s: int
    memory_mb: int
    task_dir: Path
    interpreter: Path
    environment: dict[str, str] = field(repr=False)


@dataclass
class Invocation:
    """A successful invocation: the handler's result and the logs it wrote."""

    result: Any
    logs: str
    duration_ms: float
    request_id: str
    cold: bool


class FunctionError(Exception):
    """The invocation failed as Lambda reports a failure (the payload has errorType and
    errorMessage): an error the handler raised, a timeout, an initialisation failure or a
    runtime exit. `logs` holds what the function wrote, as CloudWatch would."""

    def __init__(self, function: str, error: dict[str, Any], logs: str) -> None:
        self.function = function
        self.error = error
        self.error_type = str(error.get("errorType", "Unknown"))
        self.logs = logs
        super().__init__(f"{function} failed: {self.error_type}: {error.get('errorMessage', '')}")

    @property
    def timed_out(self) -> bool:
        return self.error_type == "Sandbox.Timedout"


class Throttled(Exception):
    """Lambda refused the invocation: as many invocations run as the function's reserved
    concurrency allows. Lambda's Invoke answers 429 TooManyRequestsException with `payload`
    (the Lambda API reference's TooManyRequestsException; Reason
    ReservedFunctionConcurrentInvocationLimitExceeded); nothing ran."""

    error_type = "TooManyRequestsException"
    reason = "ReservedFunctionConcurrentInvocationLimitExceeded"

    def __init__(self, function: str, reserved: int) -> None:
        self.function = function
        self.reserved = reserved
        super().__init__(f"{function} throttled: its reserved concurrency ({reserved}) is in use")

    @property
    def payload(self) -> dict[str, str]:
        return {"Reason": self.reason, "Type": "User", "message": "Rate Exceeded."}


class Admission:
    """One invocation counted against its function's reserved concurrency, from the
    moment it is admitted until it ends (`release`, once)."""

    def __init__(self, pool: "FunctionPool") -> None:
        self._pool = pool
        self._released = False

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._pool._admitted_ended()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


LogCallback = Callable[[str, bool], None]  # one log line of a function; to the terminal too?


class LogSink(Protocol):
    """Where a pool's log lines go (runtime.LogRouter): the function's file, and the terminal
    unless `echo` is False; `show` puts lines already filed on the terminal."""

    def line(self, logical_id: str, line: str, echo: bool = True) -> None: ...

    def show(self, logical_id: str, lines: list[str]) -> None: ...


class ExecutionEnvironment:
    """One RIE process (and the runtime it starts) serving one invocation at a time."""

    def __init__(self, spec: FunctionSpec, reaper: Reaper, on_line: LogCallback) -> None:
        self.spec = spec
        self.id = uuid.uuid4().hex
        self.invocations = 0
        self.last_used = time.monotonic()
        self._on_line = on_line
        self._reaper = reaper
        self.quiet = False  # this invocation's lines go to the file only (see FunctionPool)
        self._capture: list[str] | None = None
        self._report = threading.Event()
        self._lock = threading.Lock()
        self.process, self.port = self._start()
        self._reader = threading.Thread(
            target=self._read, name=f"logs-{spec.logical_id}-{self.id[:8]}", daemon=True
        )
        self._reader.start()

    def _start(self) -> tuple["subprocess.Popen[bytes]", int]:
        for _ in range(3):  # a port taken between probing and binding: try other ports
            invoke_port, runtime_port = _free_port(), _free_port()
            process = subprocess.Popen(  # noqa: S603 - SAM CLI's RIE, fixed arguments
                [
                    str(rie_binary()),
                    "--log-level",
                    "error",
                    "--runtime-interface-emulator-address",
                    f"127.0.0.1:{invoke_port}",
                    "--runtime-api-address",
                    f"127.0.0.1:{runtime_port}",
                    str(self.spec.interpreter),
                    "-S",  # only what PYTHONPATH names: no site-packages of this machine
                    "-m",
                    "awslambdaric",
                    self.spec.handler,
                ],
                cwd=self.spec.task_dir,
                env=self.spec.environment
                | {"AWS_LAMBDA_LOG_STREAM_NAME": f"{time.strftime('%Y/%m/%d')}/[$LATEST]{self.id}"},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            self._reaper.register(process.pid)
            deadline = time.monotonic() + _START_TIMEOUT_S
            while time.monotonic() < deadline and process.poll() is None:
                with (
                    contextlib.suppress(OSError),
                    socket.create_connection(("127.0.0.1", invoke_port), timeout=0.5),
                ):
                    return process, invoke_port
                time.sleep(0.01)
            self._stop_process(process)
        raise RuntimeError(f"{self.spec.logical_id}: the runtime emulator did not start")

    def _stop_process(self, process: "subprocess.Popen[bytes]") -> None:
        stop_group(process)
        self._reaper.forget(process.pid)

    # -- logs ---------------------------------------------------------------------------

    def _read(self) -> None:
        stream = self.process.stdout
        if stream is None:  # pragma: no cover - always a pipe
            return
        for raw in stream:
            # awslambdaric joins a multi-line record with \r (one CloudWatch event per record)
            for line in raw.decode("utf-8", "replace").rstrip("\n").split("\r"):
                self._line(line)
        self._report.set()  # the process ended: nobody waits for a REPORT line any longer

    def _line(self, line: str) -> None:
        self._on_line(line, not self.quiet)
        capture = self._capture
        if capture is not None:
            capture.append(line)
            if line.startswith("REPORT RequestId:"):
                self._report.set()

    # -- invocation ---------------------------------------------------------------------

    def invoke(self, payload: bytes, trace_header: str) -> tuple[int, bytes, list[str]]:
        """POST the event to the RIE; the status, the body and the invocation's log lines."""
        with self._lock:
            self.invocations += 1
            captured: list[str] = []
            self._report.clear()
            self._capture = captured
            connection = http.client.HTTPConnection(
                "127.0.0.1", self.port, timeout=self.spec.timeout_s + 30
            )
            try:
                connection.request(
                    "POST", INVOKE_PATH, body=payload, headers={"X-Amzn-Trace-Id": trace_header}
                )
                response = connection.getresponse()
                status, body = response.status, response.read()
            except (OSError, http.client.HTTPException) as error:
                # The emulator itself went away mid-invocation (killed, or out of memory):
                # answered as the emulator answers a runtime that exits, so the caller sees
                # a failed invocation (API Gateway a 502) and the environment is discarded.
                status, body = 502, _exit_error(error)
            finally:
                connection.close()
            # The RIE prints REPORT before it answers; give the reader a moment to get there.
            self._report.wait(timeout=2.0 if status == 200 else 0.3)
            self._capture = None
            self.last_used = time.monotonic()
            return status, body, captured

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        self._stop_process(self.process)
        self._reader.join(timeout=2)


def _exit_error(error: Exception) -> bytes:
    message = (
        f"Runtime exited without providing a reason: the execution environment ended ({error!r})"
    )
    return json.dumps({"errorType": "Runtime.ExitError", "errorMessage": message}).encode()


def _request_id(lines: list[str]) -> str:
    for line in lines:
        if line.startswith("START RequestId: "):
            return line.split()[2]
    return ""


class FunctionPool:
    """The execution environments of one function."""

    def __init__(
        self,
        spec: FunctionSpec,
        reaper: Reaper,
        max_environments: int,
        logs: LogSink,
        reserved: int | None = None,
    ) -> None:
        """`reserved`: the function's ReservedConcurrentExecutions, past which invocations
        are throttled; `max_environments`: how many environments may run (at most
        `reserved`), past which callers wait."""
        self.spec = spec
        self.max_environments = max(1, max_environments)
        self.reserved = reserved
        self._running = 0  # admitted invocations: waiting for an environment or in one
        self._reaper = reaper
        self._logs = logs
        self._idle: list[ExecutionEnvironment] = []
        self._busy: set[ExecutionEnvironment] = set()
        self._starting = 0
        self._condition = threading.Condition()
        self._closed = False
        self.started = 0  # environments started so far (cold starts)

    # -- admission: reserved concurrency ------------------------------------------------

    def admit(self, *, wait: bool = False) -> Admission:
        """Count one invocation against the reserved concurrency, as Lambda does when it
        accepts one; `Throttled` when every reserved slot is taken (with `wait`, an
        asynchronous invocation, until one is free)."""
        with self._condition:
            while True:
                if self._closed:
                    raise RuntimeError(f"{self.spec.logical_id}: the local stack is stopping")
                if self.reserved is None or self._running < self.reserved:
                    self._running += 1
                    return Admission(self)
                if not wait:
                    raise Throttled(self.spec.name, self.reserved)
                self._condition.wait()

    def _admitted_ended(self) -> None:
        with self._condition:
            self._running -= 1
            self._condition.notify_all()

    @property
    def running(self) -> int:
        """Invocations admitted and not ended (Lambda's ConcurrentExecutions)."""
        with self._condition:
            return self._running

    # -- environments -------------------------------------------------------------------

    def _acquire(self) -> tuple[ExecutionEnvironment, bool]:
        with self._condition:
            while True:
                if self._closed:
                    raise RuntimeError(f"{self.spec.logical_id}: the local stack is stopping")
                while self._idle:
                    environment = self._idle.pop()  # the most recently used: warmest
                    if environment.alive:
                        self._busy.add(environment)
                        return environment, False
                    environment.stop()
                if len(self._busy) + self._starting < self.max_environments:
                    self._starting += 1
                    break
                self._condition.wait()
        try:
            environment = ExecutionEnvironment(
                self.spec,
                self._reaper,
                lambda line, echo: self._logs.line(self.spec.logical_id, line, echo),
            )
        finally:
            with self._condition:
                self._starting -= 1
                self._condition.notify_all()
        with self._condition:
            self.started += 1
            self._busy.add(environment)
        return environment, True

    def _release(self, environment: ExecutionEnvironment, keep: bool) -> None:
        with self._condition:
            self._busy.discard(environment)
            if keep and not self._closed and environment.alive:
                self._idle.append(environment)
                environment = None  # type: ignore[assignment]
            self._condition.notify_all()
        if environment is not None:
            environment.stop()

    @property
    def environments(self) -> int:
        with self._condition:
            return len(self._idle) + len(self._busy)

    def stop_idle(self, idle_for_s: float) -> int:
        """Stop environments unused for `idle_for_s` seconds, as Lambda reclaims them."""
        now = time.monotonic()
        with self._condition:
            stale = [e for e in self._idle if now - e.last_used >= idle_for_s]
            self._idle = [e for e in self._idle if e not in stale]
        for environment in stale:
            environment.stop()
        return len(stale)

    def close(self) -> None:
        with self._condition:
            self._closed = True
            environments = [*self._idle, *self._busy]
            self._idle, self._busy = [], set()
            self._condition.notify_all()
        for environment in environments:
            environment.stop()

    # -- invoking -----------------------------------------------------------------------

    def invoke(
        self,
        event: Any,
        *,
        quiet: bool = False,
        wait: bool = False,
        admission: Admission | None = None,
    ) -> Invocation:
        """One invocation, `Throttled` past the reserved concurrency (an asynchronous
        caller, with `wait`, waits instead; a caller that was admitted already passes its
        `admission`, which ends with the invocation). With `quiet` (a scheduled tick that
        may well find nothing to do) its log lines go to the function's file only, unless
        it fails; the caller may `show` them afterwards."""
        try:
            payload = json.dumps(event).encode()
            if len(payload) > MAX_REQUEST_BYTES:
                self._refuse_oversize(len(payload), quiet)
            admission = admission or self.admit(wait=wait)
            return self._run(payload, quiet)
        finally:
            if admission is not None:
                admission.release()

    def _refuse_oversize(self, size: int, quiet: bool) -> None:
        refusal = {
            "errorType": "RequestEntityTooLargeException",
            "errorMessage": f"Request must be smaller than {MAX_REQUEST_BYTES} bytes "
            "for the InvokeFunction operation",
        }
        # No code runs, so nothing of the function's would say why API Gateway answers
        # 502: the log does (file and terminal), as API Gateway's execution log would.
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        line = (
            f"{stamp} invocation refused before any code ran: the event is"
            f" {size} bytes, over Lambda's {MAX_REQUEST_BYTES}-byte synchronous"
            f" payload ({refusal['errorType']}: {refusal['errorMessage']})"
        )
        self._logs.line(self.spec.logical_id, line, not quiet)
        raise FunctionError(self.spec.name, refusal, line + "\n")

    def _run(self, payload: bytes, quiet: bool) -> Invocation:
        environment, cold = self._acquire()
        keep = False
        started = time.perf_counter()
        environment.quiet = quiet
        try:
            status, body, lines = environment.invoke(payload, _trace_header())
            keep, outcome = self._classify(status, body, lines)
        finally:
            environment.quiet = False
            self._release(environment, keep)
        duration_ms = (time.perf_counter() - started) * 1000
        error = outcome.get("__error__") if isinstance(outcome, dict) else None
        if error is not None and error["errorType"] == "Sandbox.Timedout":
            # The RIE logs only "Invoke failed error=errResetReceived"; Lambda's log stream
            # says what happened, and so does the function's log here (file and terminal).
            stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            reason = error["errorMessage"].split("Error: ", 1)[-1].strip()
            line = f"{stamp} {_request_id(lines)} {reason}"
            self._logs.line(self.spec.logical_id, line, not quiet)
            lines.append(line)
        logs = "".join(f"{line}\n" for line in lines)
        if error is not None:
            if quiet and not self._closed:  # a failure is on the terminal, unless the
                self.show(logs)  # pool was closed under it (the stack stopping)
            raise FunctionError(self.spec.name, error, logs)
        return Invocation(outcome, logs, duration_ms, _request_id(lines), cold)

    def show(self, logs: str) -> None:
        """Put a quiet invocation's log lines (already in the file) on the terminal."""
        self._logs.show(self.spec.logical_id, logs.splitlines())

    def _classify(self, status: int, body: bytes, lines: list[str]) -> tuple[bool, Any]:
        """(keep the environment?, result or {"__error__": Lambda's error payload})."""
        text = body.decode("utf-8", "replace")
        request_id = _request_id(lines)
        if status == 200 and text.startswith(_TIMED_OUT):
            return False, {
                "__error__": {
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": f"RequestId: {request_id} Error: {text}",
                }
            }
        try:
            parsed = json.loads(text) if text else None
        except json.JSONDecodeError:
            parsed = None
            if status == 200:
                return True, text  # a handler may return any JSON value; RIE passes it through
        if status != 200:
            error = parsed if isinstance(parsed, dict) else {"errorMessage": text}
            error.setdefault("errorType", "Runtime.Unknown")
            return False, {"__error__": error}
        if len(body) > MAX_RESPONSE_BYTES:
            return True, {
                "__error__": {
                    "errorType": "Function.ResponseSizeTooLarge",
                    "errorMessage": f"Response payload size ({len(body)} bytes) exceeded "
                    f"maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes).",
                }
            }
        if isinstance(parsed, dict) and {"errorMessage", "errorType"} <= parsed.keys():
            # The handler raised (or initialisation failed: Runtime.* errors reset the
            # environment in Lambda, so the next call initialises again).
            return not str(parsed["errorType"]).startswith("Runtime."), {"__error__": parsed}
        return True, parsed


def _trace_header() -> str:
    """A sampled X-Ray trace header, as Lambda passes one to a function with active tracing."""
    epoch = f"{int(time.time()):08x}"
    return f"Root=1-{epoch}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=1"
