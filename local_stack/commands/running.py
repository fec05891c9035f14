"""Where each local stack keeps its state, and how the other commands find a running one.

Every `make api` (and `make demo`) has a folder of its own under `.local/stacks/`, named
after the port it was asked for (`3000`, `3101`; `pid-<pid>` when the system picks the port,
`throwaway-<pid>` for the stack `make invoke` or `make sync` deploys for one call):

    stack.json     pid, port and state: starting, ready, stopped
    outputs.json   the template's Outputs resolved locally, AwsEndpointUrl, LambdaEndpointUrl,
                   MySqlCaFile (API.md)
    mysql-ca.pem   the CA of that stack's MySQL server
    sam-env.json   `sam local invoke --env-vars` for its functions
    logs/          one file per function, with this run's lines only

So a second `make api PORT=3101` beside the first never touches the first's files. A stack
folder stays when its stack stops, for a look at its logs, and is removed when a later stack
starts. `.local/outputs.json` and `.local/sam-env.json` are the default stack's: the first
stack to become ready while no other running stack holds them writes them, and they stay
when it stops (API.md: `make api` writes `.local/outputs.json`).

Why folders per stack rather than refusing a second stack: two stacks side by side are
useful (ApiAuth=COGNITO on one port, the open API on another; a test's stack beside yours),
and each command can still name the one it means: `make aws|invoke|wait|logs|sync|redrive`
use the stack on PORT when PORT is given, else the default stack while it runs, else the
only stack running (with several, they ask for PORT).

`make wait` tells "starting" from "nothing": a stack is starting while its stack.json says so,
or, in the seconds before it has written one, while a `python -m local_stack.commands.server` (or
`.demo`) process of this checkout runs; with neither, it says so at once.
"""

import argparse
import json
import os
import shutil
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil

from local_stack.paths import STATE_DIR

STACKS_DIR = STATE_DIR / "stacks"
OUTPUTS_FILE = STATE_DIR / "outputs.json"  # the default stack's (API.md)
SAM_ENV_FILE = STATE_DIR / "sam-env.json"
RECORD = "stack.json"
START_HINT = "start one with `make api` (or `make api &` then `make wait` in one terminal)"
SERVER_MODULES = ("local_stack.commands.server", "local_stack.commands.demo")


class NoRunningStack(RuntimeError):
    """No local stack answers; the message says what to run."""


class SeveralStacks(NoRunningStack):
    """More than one stack runs and the command was not told which (PORT)."""


def requested_port() -> int | None:
    """The PORT a command was given (`make aws PORT=3101`); 0 or none: not given."""
    value = os.environ.get("PORT") or "0"
    try:
        port = int(value)
    except ValueError:
        raise NoRunningStack(f"PORT={value!r} is not a port number") from None
    return port or None


def _answers(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), 1):
            return True
    except OSError:
        return False


def _alive(pid: int) -> bool:
    return bool(psutil.pid_exists(pid))


def _write(path: Path, document: Any) -> None:
    """Whole or not at all: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    partial.write_text(json.dumps(document, indent=2) + "\n")
    partial.replace(path)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


# -- one stack's folder --------------------------------------------------------------------


@dataclass(frozen=True)
class StackFolder:
    """The state of one stack: its folder and what its stack.json says."""

    path: Path
    pid: int
    port: int | None  # as asked (PORT); None when the system picked it
    state: str  # starting | ready | stopped
    kind: str = "api"  # api (make api, make demo) | throwaway (make invoke, make sync)

    @property
    def logs(self) -> Path:
        return self.path / "logs"

    @property
    def outputs_file(self) -> Path:
        return self.path / "outputs.json"

    @property
    def ca_file(self) -> Path:
        return self.path / "mysql-ca.pem"

    def outputs(self) -> dict[str, Any] | None:
        return _read(self.outputs_file)

    @property
    def running(self) -> bool:
        return self.state in ("starting", "ready") and _alive(self.pid)

    def answers(self) -> bool:
        """Ready, and its AWS endpoint and Lambda API accept connections."""
        outputs = self.outputs() if self.state == "ready" and _alive(self.pid) else None
        return outputs is not None and all(
            _answers(str(outputs.get(key, ""))) for key in ("AwsEndpointUrl", "LambdaEndpointUrl")
        )

    def api_port(self) -> int | None:
        outputs = self.outputs() or {}
        return urlsplit(str(outputs.get("ApiUrl", ""))).port

    def on_port(self, port: int) -> bool:
        return port in (self.port, self.api_port())

    def _record(self, state: str) -> "StackFolder":
        record = {"pid": self.pid, "port": self.port, "state": state, "kind": self.kind}
        _write(self.path / RECORD, record)
        return StackFolder(self.path, self.pid, self.port, state, self.kind)

    @classmethod
    def read(cls, path: Path) -> "StackFolder | None":
        record = _read(path / RECORD)
        if record is None:
            return None
        try:
            port = int(record["port"]) if record.get("port") else None
            return cls(
                path, int(record["pid"]), port, str(record["state"]), record.get("kind", "api")
            )
        except (KeyError, TypeError, ValueError):
            return None

    @classmethod
    def claim(cls, port: int | None, *, throwaway: bool = False) -> "StackFolder":
        """A new stack's folder, recorded as starting: the folders of stacks that no longer
        run are removed first (this port's previous run among them)."""
        for previous in folders():
            if not previous.running:
                shutil.rmtree(previous.path, ignore_errors=True)
        pid = os.getpid()
        name = f"throwaway-{pid}" if throwaway else str(port) if port else f"pid-{pid}"
        path = STACKS_DIR / name
        shutil.rmtree(path, ignore_errors=True)  # a stack killed before it wrote stack.json
        path.mkdir(parents=True)
        (path / "logs").mkdir()
        return cls(path, pid, port, "starting", "throwaway" if throwaway else "api")._record(
            "starting"
        )

    def write_ca(self, pem: str) -> Path:
        """The MySQL server's CA, for clients outside the functions (`make sync`, mysql)."""
        self.ca_file.write_text(pem)
        return self.ca_file

    def publish(self, outputs: dict[str, Any], sam_env: dict[str, Any]) -> "StackFolder":
        """Ready: its outputs in its folder, and in `.local/` too unless another running stack
        holds them there; stack.json says ready last, so a reader finds whole outputs."""
        _write(self.path / "sam-env.json", sam_env)
        _write(self.outputs_file, outputs)
        if self.kind == "api" and default_is_free(self):
            _write(SAM_ENV_FILE, sam_env)
            _write(OUTPUTS_FILE, outputs)  # last: its existence means "ready" to older readers
        return self._record("ready")

    def release(self) -> None:
        """Stopped: the folder stays (its logs) until a later stack starts."""
        if (self.path / RECORD).exists():
            self._record("stopped")


def folders() -> Iterator[StackFolder]:
    if not STACKS_DIR.is_dir():
        return
    for path in sorted(STACKS_DIR.iterdir()):
        found = StackFolder.read(path)
        if found is not None:
            yield found


def default_is_free(claimant: StackFolder) -> bool:
    """Whether `claimant` may write `.local/outputs.json`: it is missing, it is the
    claimant's, or the stack it names no longer answers."""
    current = _read(OUTPUTS_FILE)
    if current is None:
        return True
    if current.get("AwsEndpointUrl") == (claimant.outputs() or {}).get("AwsEndpointUrl"):
        return True
    return not _answers(str(current.get("AwsEndpointUrl", "")))


# -- finding the running stack ---------------------------------------------------------------


def _names(stacks: list[StackFolder]) -> str:
    return ", ".join(f"PORT={stack.api_port() or stack.port}" for stack in stacks)


def find(port: int | None) -> dict[str, Any]:
    """The outputs of the stack on `port`; without one, of the default stack, else of the only
    stack running. NoRunningStack (saying what to run) otherwise."""
    ready = [s for s in folders() if s.kind == "api" and s.answers()]
    if port is not None:
        for stack in ready:
            if stack.on_port(port):
                return stack.outputs() or {}
        others = f" (running: {_names(ready)})" if ready else ""
        raise NoRunningStack(f"no local stack is running on port {port}{others}: {START_HINT}")
    default = _read(OUTPUTS_FILE)
    if default is not None and all(
        _answers(str(default.get(key, ""))) for key in ("AwsEndpointUrl", "LambdaEndpointUrl")
    ):
        return default
    if len(ready) == 1:
        return ready[0].outputs() or {}
    if ready:
        raise SeveralStacks(
            f"several local stacks are running ({_names(ready)}): choose one with PORT=..."
        )
    if default is not None:
        raise NoRunningStack(
            f"{OUTPUTS_FILE} names a local stack at {default.get('AwsEndpointUrl')} that no "
            f"longer answers (it has stopped): {START_HINT}"
        )
    raise NoRunningStack(f"no local stack is running: {START_HINT}")


def running_outputs(required: bool) -> dict[str, Any] | None:
    """The running stack's outputs (PORT picks one); None when none runs, PORT was not given
    and not `required` (the caller deploys a throwaway stack); NoRunningStack otherwise."""
    port = requested_port()
    try:
        return find(port)
    except SeveralStacks:
        raise
    except NoRunningStack:
        if required or port is not None:
            raise
        return None


def require_running_outputs() -> dict[str, Any]:
    """The running stack's outputs, or NoRunningStack saying what to run."""
    outputs = running_outputs(required=True)
    if outputs is None:  # pragma: no cover - required=True raises instead
        raise NoRunningStack(f"no local stack is running: {START_HINT}")
    return outputs


# -- a stack on its way up -------------------------------------------------------------------


def _server_processes() -> list[int]:
    """`python -m local_stack.commands.server` (or `.demo`) processes whose state folder is
    this one: stacks starting that may not have written their stack.json yet."""
    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        command = process.info["cmdline"] or []
        modules = {command[i + 1] for i, part in enumerate(command[:-1]) if part == "-m"}
        if process.pid == os.getpid() or not modules & set(SERVER_MODULES):
            continue
        try:
            state = process.environ().get("LOCAL_STATE_DIR") or Path(process.cwd()) / ".local"
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
        if Path(state).resolve() == STATE_DIR.resolve():
            found.append(process.pid)
    return found


def starting(port: int | None) -> bool:
    """Whether a stack (on `port`, when given) is on its way up."""
    recorded = [s for s in folders() if s.kind == "api"]
    if any(
        s.state == "starting" and s.running and (port is None or s.port in (None, port))
        for s in recorded
    ):
        return True
    known = {s.pid for s in recorded}
    return any(pid not in known for pid in _server_processes())


def wait(port: int | None = None, timeout_s: float = 300) -> dict[str, Any]:
    """Block until a `make api` started elsewhere is ready; its outputs. Nothing running or
    starting: NoRunningStack at once."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return find(port)
        except SeveralStacks:
            raise
        except NoRunningStack:
            if not starting(port):
                where = f" on port {port}" if port else ""
                raise NoRunningStack(
                    f"no local stack is running or starting{where}: {START_HINT}"
                ) from None
        if time.monotonic() > deadline:
            raise NoRunningStack(
                f"no local stack became ready within {timeout_s:.0f}s: {START_HINT}"
            )
        time.sleep(0.5)


def current(port: int | None, timeout_s: float = 300) -> StackFolder:
    """The folder of the stack running (or starting) on `port`, else of the default or only
    one: what `make logs` follows."""
    deadline = time.monotonic() + timeout_s
    while True:
        live = [s for s in folders() if s.kind == "api" and s.running]
        if port is not None:
            live = [
                s for s in live if s.on_port(port) or (s.port is None and s.state == "starting")
            ]
        default = _read(OUTPUTS_FILE) or {}
        for stack in live:
            if (stack.outputs() or {}).get("AwsEndpointUrl") == default.get("AwsEndpointUrl"):
                return stack
        if len(live) == 1:
            return live[0]
        if live:
            raise SeveralStacks(
                f"several local stacks are running ({_names(live)}): choose one with PORT=..."
            )
        if not _server_processes() or time.monotonic() > deadline:
            raise NoRunningStack(f"no local stack is running or starting: {START_HINT}")
        time.sleep(0.5)


def log_file(function: str, port: int | None) -> Path:
    """The running stack's log of `function` (created empty if it has not run yet)."""
    stack = current(port)
    path = stack.logs / f"{function}.log"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
        print(
            f"no log for {function} yet: waiting for its first invocation (Ctrl-C stops)",
            file=sys.stderr,
        )
    return path


def main(argv: list[str] | None = None) -> int:
    """`make wait` (prints the API's URL once it answers) and `make logs` (prints the log
    file of a function of the running stack, for `tail -F`)."""
    parser = argparse.ArgumentParser(prog="python -m local_stack.commands.running")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("wait", help="wait for a `make api` started elsewhere")
    logs = commands.add_parser("log", help="the log file of a function of the running stack")
    logs.add_argument("function")
    args = parser.parse_args(argv)
    try:
        port = requested_port()
        if args.command == "wait":
            print(wait(port)["ApiUrl"])
        else:
            print(log_file(args.function, port))
    except NoRunningStack as error:
        print(f"make {'wait' if args.command == 'wait' else 'logs'}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
