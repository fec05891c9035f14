"""`make wait` and `make logs` tell a stack that is starting from no stack at all.

Each test gets a state folder of its own (LOCAL_STATE_DIR); a stack "running" there is made
of what `make api` leaves: a stack.json naming a live process, and outputs whose endpoints
accept connections (sockets this test listens on)."""

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from local_stack.commands.running import StackFolder

ROOT = Path(__file__).resolve().parents[2]


def make(
    target: str, state: Path, *args: str, timeout_s: float = 60
) -> subprocess.CompletedProcess[str]:
    """`make -s <target>` as a person runs it, with the test's state folder."""
    env = {k: v for k, v in os.environ.items() if k != "PORT"} | {"LOCAL_STATE_DIR": str(state)}
    try:
        return subprocess.run(  # noqa: S603 - fixed arguments
            ["make", "-s", target, *args],  # noqa: S607 - make from PATH
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as waited:
        out = waited.stdout.decode() if isinstance(waited.stdout, bytes) else waited.stdout
        err = waited.stderr.decode() if isinstance(waited.stderr, bytes) else waited.stderr
        return subprocess.CompletedProcess(waited.cmd, -1, out or "", err or "")


@pytest.fixture
def listening() -> Iterator[list[str]]:
    """Three URLs that accept connections (the API, the AWS endpoint, the Lambda API)."""
    sockets = [socket.socket() for _ in range(3)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
    yield [f"http://127.0.0.1:{sock.getsockname()[1]}" for sock in sockets]
    for sock in sockets:
        sock.close()


@pytest.fixture
def live_pid() -> Iterator[int]:
    """A process that stands for a `make api` process."""
    process = subprocess.Popen(["sleep", "300"])  # noqa: S607 - a stand-in process
    yield process.pid
    process.kill()
    process.wait()


def outputs(urls: list[str]) -> dict[str, str]:
    api, aws, lambda_ = urls
    return {"ApiUrl": api, "AwsEndpointUrl": aws, "LambdaEndpointUrl": lambda_}


def record(folder: Path, pid: int, state: str, port: int | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "logs").mkdir(exist_ok=True)
    document = {"pid": pid, "port": port, "state": state, "kind": "api"}
    (folder / "stack.json").write_text(json.dumps(document))


def test_with_nothing_running_or_starting_make_wait_says_so_at_once(tmp_path: Path):
    """Given no stack in the state folder, and none starting
    When `make wait` runs
    Then it exits 1 and says nothing is running or starting, with what to run.

    Catches: the old `make wait`, which waited silently for 300 s (here: past the
    60 s this test gives it)."""
    run = make("wait", tmp_path)

    assert run.returncode == 2, run  # make's status for a failed recipe
    assert "make wait: no local stack is running or starting" in run.stderr
    assert "make api" in run.stderr


def test_outputs_left_by_a_stopped_stack_are_not_waited_for(tmp_path: Path, listening: list[str]):
    """Catches: `make wait` waiting out its timeout beside an outputs.json whose stack has
    stopped, or printing the throwaway-stack note of the other commands."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        gone = f"http://127.0.0.1:{closed.getsockname()[1]}"
    (tmp_path / "outputs.json").write_text(json.dumps(outputs([gone, gone, gone])))

    run = make("wait", tmp_path)

    assert run.returncode == 2
    assert "no local stack is running or starting" in run.stderr
    assert "throwaway" not in run.stderr


def test_make_wait_waits_for_a_stack_that_is_starting(
    tmp_path: Path, listening: list[str], live_pid: int
):
    """Given a stack recorded as starting by a live process (`make api &` a moment ago)
    When `make wait` runs, and the stack becomes ready a little later
    Then `make wait` waits for it and prints its API's URL.

    Catches: "nothing is running" said of a stack that is starting."""
    folder = tmp_path / "stacks" / "3000"
    record(folder, live_pid, "starting", 3000)
    waiting = subprocess.Popen(
        ["make", "-s", "wait"],  # noqa: S607 - make from PATH
        cwd=ROOT,
        env=os.environ | {"LOCAL_STATE_DIR": str(tmp_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(3)  # make wait is looking at a stack that is still starting
    (folder / "outputs.json").write_text(json.dumps(outputs(listening)))
    record(folder, live_pid, "ready", 3000)

    out, err = waiting.communicate(timeout=60)

    assert waiting.returncode == 0, err
    assert out.strip() == listening[0]


def test_make_wait_with_a_port_waits_for_that_stack(
    tmp_path: Path, listening: list[str], live_pid: int
):
    """Catches: PORT ignored (the default stack's URL printed for another port)."""
    record(tmp_path / "stacks" / "3101", live_pid, "ready", 3101)
    (tmp_path / "stacks" / "3101" / "outputs.json").write_text(json.dumps(outputs(listening)))

    found = make("wait", tmp_path, "PORT=3101")
    other = make("wait", tmp_path, "PORT=3102")

    assert (found.returncode, found.stdout.strip()) == (0, listening[0])
    assert other.returncode == 2
    assert "no local stack is running or starting on port 3102" in other.stderr


def test_a_new_stack_starts_with_an_empty_folder_and_stopped_ones_are_cleared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, live_pid: int
):
    """Given a stack on port 3000 that wrote a log line and stopped, one on 3101 killed
    before it wrote its stack.json, one on 3102 that stopped, and one on 3103 still running
    When the next stack on port 3000 claims its folder, and one on 3101 its own
    Then the earlier runs' folders are gone, logs and all (`make logs` shows this run's
    lines only), and the running stack's folder is untouched.

    Catches: logs appended across runs (the old .local/logs/<LogicalId>.log), a killed
    stack's leftovers kept, or a running stack's folder removed."""
    from local_stack.commands import running  # noqa: PLC0415 - its paths follow LOCAL_STATE_DIR

    monkeypatch.setattr(running, "STACKS_DIR", tmp_path / "stacks")
    first = StackFolder.claim(3000)
    (first.logs / "CustomersRdsFunction.log").write_text("a line of the earlier run\n")
    first.release()
    killed = tmp_path / "stacks" / "3101" / "logs"
    killed.mkdir(parents=True)
    (killed / "CustomersRdsFunction.log").write_text("a line of a killed run\n")
    stopped = StackFolder.claim(3102)
    stopped.release()
    record(tmp_path / "stacks" / "3103", live_pid, "ready", 3103)

    second = StackFolder.claim(3000)
    third = StackFolder.claim(3101)

    assert second.path == first.path
    assert not (second.logs / "CustomersRdsFunction.log").exists()
    assert not (third.logs / "CustomersRdsFunction.log").exists()
    assert json.loads((second.path / "stack.json").read_text())["state"] == "starting"
    assert not stopped.path.exists()
    assert (tmp_path / "stacks" / "3103" / "stack.json").exists()


def test_make_logs_with_nothing_running_says_so(tmp_path: Path):
    """Catches: `make logs` following a file no running stack will ever write."""
    run = make("logs", tmp_path, "FN=CustomersRdsFunction", timeout_s=60)

    assert run.returncode != 0
    assert "no local stack is running or starting" in run.stderr


def test_make_logs_follows_the_running_stacks_log_of_this_run(tmp_path: Path, live_pid: int):
    """Given a running stack whose function has not run yet, and an earlier run's log in
    the old place (.local/logs/)
    When `make logs` runs
    Then it waits for this stack's log, and shows none of the earlier run's lines.

    Catches: exiting with "has it run?" while the function is idle, or the earlier run's
    lines shown (the old `tail -n 50 -F .local/logs/<LogicalId>.log`)."""
    record(tmp_path / "stacks" / "3000", live_pid, "starting", 3000)
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "PartnerFetcherFunction.log").write_text("a line of an earlier run\n")

    run = make("logs", tmp_path, "FN=PartnerFetcherFunction", timeout_s=5)

    assert run.returncode == -1, "make logs returned instead of following the log"
    assert "waiting for its first invocation" in run.stderr
    assert "earlier run" not in run.stdout
    assert (tmp_path / "stacks" / "3000" / "logs" / "PartnerFetcherFunction.log").exists()
