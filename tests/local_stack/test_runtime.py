"""The local runtime keeps Lambda's rules for execution environments.

A probe function (tests/local_stack/probe_function, not part of the stack) runs under the
same runtime as the stack's functions: the Lambda Runtime Interface Emulator and
awslambdaric, on the template's Python. Each test breaks one rule's guard if it is
removed; the mutation it catches is named in its docstring.
"""

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from local_stack.runtime import FunctionPool, LocalRuntime, Throttled, new_credentials
from local_stack.runtime.environment import RESERVED, FunctionConfig
from local_stack.runtime.functions import FunctionError, LocalFunction
from local_stack.services.apigateway import LocalApi, Route
from local_stack.template.transform import FunctionSource
from tests.support.polling import rounds

PROBE = Path(__file__).with_name("probe_function")
TIMEOUT_S = 2
UNREACHABLE_AWS = "http://127.0.0.1:9"  # the probe makes no AWS call
# What Lambda sets (plus the RIE's own AWS_LAMBDA_RUNTIME_API and the X-Ray switch); a
# variable outside this list in a function's process came from somewhere else.
LAMBDA_VARIABLES = {
    *RESERVED,
    "AWS_LAMBDA_FUNCTION_TIMEOUT",
    "AWS_LAMBDA_FUNCTION_HANDLER",
    "AWS_ENDPOINT_URL",
    "AWS_LAMBDA_METADATA_API",
    "AWS_LAMBDA_METADATA_TOKEN",
    "LANG",
    "TZ",
    "PATH",
    "PYTHONPATH",
    "LC_CTYPE",  # Python sets it itself when it coerces the C locale
}


def config(name: str, **changes: Any) -> FunctionConfig:
    settings: dict[str, Any] = {
        "logical_id": name,
        "name": f"runtime-test-{name}",
        "handler": "app.handler",
        "runtime": "python3.13",
        "timeout_s": TIMEOUT_S,
        "memory_mb": 256,
        "variables": {"GREETING": "hello"},
        "log_group": f"/aws/lambda/runtime-test-{name}",
        "tracing": False,
        "reserved_concurrency": None,
        "role_arn": "arn:aws:iam::123456789012:role/runtime-test",
        "layer_ids": (),
    }
    return FunctionConfig(**(settings | changes))


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    local = LocalRuntime(log_dir=tmp_path_factory.mktemp("runtime-logs"))
    yield local
    local.close()


def add(runtime: LocalRuntime, name: str, **changes: Any) -> FunctionPool:
    return runtime.add(
        config(name, **changes),
        code_dir=PROBE,
        layers={},
        region="us-east-1",
        credentials=new_credentials(),
        endpoint_url=UNREACHABLE_AWS,
    )


def test_a_function_past_its_timeout_is_cut_off_and_its_next_call_is_cold(runtime: LocalRuntime):
    """Catches: AWS_LAMBDA_FUNCTION_TIMEOUT not passed to the emulator (it then allows
    300 s), a timed-out environment kept in the pool (the next call would be warm), or a
    log that never says the invocation timed out (the RIE itself only logs a reset)."""
    pool = add(runtime, "timeout")
    first = pool.invoke({"tag": "warm-up"}).result

    started = time.monotonic()
    with pytest.raises(FunctionError) as failure:
        pool.invoke({"sleep": TIMEOUT_S + 3})
    elapsed = time.monotonic() - started

    assert failure.value.timed_out
    assert f"Task timed out after {TIMEOUT_S}.00 seconds" in failure.value.error["errorMessage"]
    assert elapsed < TIMEOUT_S + 2.5, "cut off at the template's timeout, not after the sleep"
    said = f"{failure.value.error['errorMessage'].split()[1]} Task timed out after {TIMEOUT_S}.00"
    assert said in failure.value.logs, "the log says why the invocation ended, as Lambda's does"
    assert said in runtime.logs.path("timeout").read_text()
    after = pool.invoke({"tag": "after"})
    assert after.cold
    assert after.result["pid"] != first["pid"]


def test_concurrent_calls_run_in_several_environments_side_by_side(runtime: LocalRuntime):
    """Catches: one environment (or a global lock) serving every call in turn."""
    pool = add(runtime, "concurrent")
    calls = 4
    started = time.monotonic()
    with ThreadPoolExecutor(calls) as executor:
        results = list(executor.map(lambda _: pool.invoke({"sleep": 1.5}).result, range(calls)))
    elapsed = time.monotonic() - started

    assert len({result["pid"] for result in results}) > 1
    assert elapsed < calls * 1.5 * 0.75, "in turn, the calls would take 6 s"


def admitted(pool: FunctionPool, count: int) -> None:
    """Wait until `count` invocations of `pool` are running (admitted, not ended)."""
    for _ in rounds(f"{count} invocations to be admitted"):
        if pool.running >= count:
            return
        time.sleep(0.01)


def test_past_its_reserved_concurrency_a_call_is_throttled_and_nothing_runs(runtime: LocalRuntime):
    """As Lambda does: ReservedConcurrentExecutions invocations at once, the next one
    refused with 429 TooManyRequestsException (ReservedFunctionConcurrentInvocationLimitExceeded).
    Catches: a caller past the reserved concurrency queued for a free environment (the old
    pool: it waited, forever if the running one hung), or the reservation ignored (a
    second environment would start)."""
    # Given a function with reserved concurrency 1, busy with one invocation
    pool = add(runtime, "reserved", reserved_concurrency=1)
    with ThreadPoolExecutor(1) as executor:
        busy = executor.submit(pool.invoke, {"sleep": 1.5, "tag": "first"})
        admitted(pool, 1)

        # When a second synchronous call arrives
        with pytest.raises(Throttled) as throttled:
            pool.invoke({"tag": "second"})

        first = busy.result()

    # Then it was refused as Lambda refuses it, and never ran
    assert throttled.value.payload == {
        "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
        "Type": "User",
        "message": "Rate Exceeded.",
    }
    assert throttled.value.error_type == "TooManyRequestsException"
    assert "probe second" not in runtime.logs.path("reserved").read_text()
    assert pool.started == 1
    assert pool.running == 0
    assert pool.invoke({"tag": "after"}).result["pid"] == first.result["pid"]


def test_an_asynchronous_call_past_the_reserved_concurrency_waits_its_turn(runtime: LocalRuntime):
    """Lambda's asynchronous queue holds a throttled event and retries it. Catches: `wait`
    ignored (the scheduled run would be throttled instead of delayed)."""
    pool = add(runtime, "reserved-async", reserved_concurrency=1)
    with ThreadPoolExecutor(2) as executor:
        busy = executor.submit(pool.invoke, {"sleep": 1.5, "tag": "first"})
        admitted(pool, 1)

        later = pool.invoke({"tag": "later"}, wait=True)

        assert busy.result().result["pid"] == later.result["pid"]
    assert pool.started == 1


def test_without_reserved_concurrency_a_caller_past_the_local_cap_waits(tmp_path: Path):
    """The local cap on environments (LOCAL_LAMBDA_CONCURRENCY) is an emulation limit: in
    Lambda the function would scale into the account's pool, so nobody is throttled.
    Catches: the local cap treated as reserved concurrency (a Throttled here)."""
    capped = LocalRuntime(log_dir=tmp_path, max_environments=1)
    try:
        pool = add(capped, "capped")
        with ThreadPoolExecutor(1) as executor:
            busy = executor.submit(pool.invoke, {"sleep": 1.5, "tag": "first"})
            admitted(pool, 1)

            second = pool.invoke({"tag": "second"})

            assert busy.result().result["pid"] == second.result["pid"]
        assert pool.started == 1
    finally:
        capped.close()


def test_a_slow_function_does_not_delay_another(runtime: LocalRuntime):
    """Catches: a lock shared by all functions (the in-process runtime had one)."""
    slow, quick = add(runtime, "slow"), add(runtime, "quick")
    quick.invoke({"tag": "warm-up"})
    slow.invoke({"tag": "warm-up"})
    busy = threading.Thread(target=lambda: slow.invoke({"sleep": 1.8}))
    busy.start()
    time.sleep(0.2)

    started = time.monotonic()
    quick.invoke({"tag": "meanwhile"})
    waited = time.monotonic() - started
    busy.join()

    assert waited < 1.0, "the quick function waited for the slow one"


def test_a_function_sees_only_what_lambda_sets_and_its_template_variables(
    runtime: LocalRuntime, monkeypatch: pytest.MonkeyPatch
):
    """Catches: the host's environment passed to the emulator (env=None, or a copy of
    os.environ), which would let a variable missing from template.yaml work locally."""
    monkeypatch.setenv("EXPORTED_IN_THE_HOST_SHELL", "leaked")
    pool = add(runtime, "environment")

    seen = pool.invoke({"environment": True}).result["environment"]

    assert "EXPORTED_IN_THE_HOST_SHELL" not in seen
    assert seen["GREETING"] == "hello"
    assert set(seen) - {"GREETING"} <= LAMBDA_VARIABLES, set(seen) - LAMBDA_VARIABLES
    assert seen["AWS_LAMBDA_FUNCTION_NAME"] == "runtime-test-environment"
    assert seen["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert seen["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.13"
    assert seen["AWS_REGION"] == "us-east-1"
    assert seen["AWS_ACCESS_KEY_ID"].startswith("ASIA")


def test_two_functions_have_distinct_credentials(runtime: LocalRuntime):
    """Catches: one set of credentials shared by every function (no per-role check
    would then be possible)."""
    one, two = add(runtime, "credentials-one"), add(runtime, "credentials-two")

    keys = {
        pool.invoke({"environment": True}).result["environment"]["AWS_ACCESS_KEY_ID"]
        for pool in (one, two)
    }

    assert len(keys) == 2


def test_a_crashed_environment_is_replaced(runtime: LocalRuntime):
    """Catches: a dead environment returned to the pool (every later call would fail)."""
    pool = add(runtime, "crash")
    before = pool.invoke({"tag": "before"}).result["pid"]

    with pytest.raises(FunctionError) as failure:
        pool.invoke({"exit": 3})

    assert failure.value.error_type == "Runtime.ExitError"
    after = pool.invoke({"tag": "after"})
    assert after.cold
    assert after.result["pid"] != before


def test_an_emulator_killed_mid_invocation_is_a_runtime_exit_and_is_replaced(
    runtime: LocalRuntime,
):
    """Catches: a connection error from a vanished emulator raised as is (API Gateway
    would drop the client's connection instead of answering 502), or that environment
    kept."""
    pool = add(runtime, "killed")
    runtime_pid = pool.invoke({"tag": "before"}).result["pid"]
    stat = Path(f"/proc/{runtime_pid}/stat").read_text()
    emulator_pid = int(stat.rsplit(")", 1)[1].split()[1])  # the runtime's parent: the RIE
    threading.Timer(0.5, os.kill, (emulator_pid, signal.SIGKILL)).start()

    with pytest.raises(FunctionError) as failure:
        pool.invoke({"sleep": 1.5})

    assert failure.value.error_type == "Runtime.ExitError"
    after = pool.invoke({"tag": "after"})
    assert after.cold
    assert after.result["pid"] != runtime_pid


def test_a_handler_error_is_a_function_error_with_its_logs_and_the_environment_stays_warm(
    runtime: LocalRuntime,
):
    """Catches: a function error classified as a success, or its environment discarded."""
    pool = add(runtime, "error")
    before = pool.invoke({"tag": "before"}).result["pid"]

    with pytest.raises(FunctionError) as failure:
        pool.invoke({"raise": "boom", "tag": "failing"})

    assert failure.value.error["errorType"] == "ValueError"
    assert failure.value.error["errorMessage"] == "boom"
    assert "probe failing" in failure.value.logs
    after = pool.invoke({"tag": "after"})
    assert not after.cold
    assert after.result["pid"] == before


def test_each_invocation_gets_its_own_log_lines_and_the_file_keeps_them_all(
    runtime: LocalRuntime,
):
    """Catches: log lines of one invocation attributed to another, or not written to
    .local/logs/<LogicalId>.log."""
    pool = add(runtime, "logs")

    first = pool.invoke({"tag": "first"})
    second = pool.invoke({"tag": "second"})

    for invocation, tag, other in ((first, "first", "second"), (second, "second", "first")):
        lines = invocation.logs.splitlines()
        assert lines[0].startswith(f"START RequestId: {invocation.request_id}")
        assert lines[-1].startswith(f"REPORT RequestId: {invocation.request_id}")
        assert f"probe {tag} in" in invocation.logs
        assert f"probe {other} in" not in invocation.logs
    written = runtime.logs.path("logs").read_text()
    assert written.index("probe first") < written.index("probe second")


def test_the_context_carries_the_template_timeout_and_memory(runtime: LocalRuntime):
    """Catches: the context built from defaults instead of the function's configuration."""
    pool = add(runtime, "context", timeout_s=7, memory_mb=1024)

    result = pool.invoke({}).result

    assert 5000 < result["remaining_ms"] <= 7000
    assert int(result["memory"]) == 1024  # a string, as awslambdaric and Lambda give it


def test_a_request_over_six_megabytes_is_refused_before_any_environment_starts(
    runtime: LocalRuntime,
):
    """Catches: Lambda's 6 MB synchronous payload limit not applied."""
    pool = add(runtime, "payload")

    with pytest.raises(FunctionError) as failure:
        pool.invoke({"data": "x" * (6 * 1024 * 1024)})

    assert failure.value.error_type == "RequestEntityTooLargeException"
    assert pool.started == 0


def probe_api(runtime: LocalRuntime, name: str) -> LocalApi:
    """The probe function behind a `POST /probe` proxy route."""
    function = LocalFunction(
        FunctionSource(name, PROBE, "app.handler", (), TIMEOUT_S),
        config(name),
        add(runtime, name),
        new_credentials(),
    )
    return LocalApi([Route.of("POST", "/probe", name)], {name: function}, stage="v1")


def test_a_502_for_a_request_over_six_megabytes_names_the_cause_in_the_log(
    runtime: LocalRuntime,
):
    """Catches: the over-6 MB refusal leaving the log empty, so a 502 with nothing in the
    function's log (file or terminal) to say why (what a newcomer met)."""
    # Given a function behind a proxy route
    name = "api-payload"
    api = probe_api(runtime, name)

    # When a request under API Gateway's 10 MB but over Lambda's 6 MB arrives
    response = api.request("POST", "/probe", body="x" * (7 * 1024 * 1024))

    # Then API Gateway's 502, and the function's log says the event was too large
    logged = runtime.logs.path(name).read_text()
    assert response.status == 502
    assert response.json() == {"message": "Internal server error"}
    for said in (response.logs, logged):
        assert "RequestEntityTooLargeException" in said
        assert "over Lambda's 6291456-byte synchronous payload" in said


def test_a_response_over_six_megabytes_is_a_function_error(runtime: LocalRuntime):
    """Catches: Lambda's 6 MB synchronous response limit not applied (the emulator itself
    lets up to 100 bytes more through)."""
    pool = add(runtime, "response")
    limit = 6 * 1024 * 1024

    assert len(pool.invoke({"size": limit}).result["data"]) > limit - 20
    with pytest.raises(FunctionError) as failure:
        pool.invoke({"size": limit + 1})

    assert failure.value.error_type == "Function.ResponseSizeTooLarge"


@pytest.mark.parametrize(
    ("orders", "said"),
    [
        ({"raise": "boom"}, "ValueError: boom"),
        ({"sleep": TIMEOUT_S + 3}, f"Task timed out after {TIMEOUT_S}.00 seconds"),
        ({"exit": 3}, "exit status 3"),
    ],
    ids=["function-error", "timeout", "runtime-exit"],
)
def test_api_gateway_answers_a_failed_invocation_with_a_502_json_message(
    runtime: LocalRuntime, orders: dict[str, Any], said: str
):
    """A function error, a timeout or a crashed runtime behind a proxy integration is what
    API Gateway answers 502 {"message": "Internal server error"} for; the function's log
    says what happened. Catches: a failure passed through as the function's answer, a
    500, an HTML or empty body, or the failure's log lost."""
    name = f"api-{next(iter(orders))}"
    api = probe_api(runtime, name)

    response = api.request("POST", "/probe", body=json.dumps(orders))

    assert response.status == 502
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"message": "Internal server error"}
    assert said in response.logs


def test_idle_environments_are_stopped(runtime: LocalRuntime):
    """Catches: environments kept for ever (a long `make api` would pile them up)."""
    pool = add(runtime, "idle")
    pid = pool.invoke({}).result["pid"]

    stopped = pool.stop_idle(idle_for_s=0)

    assert stopped == 1
    assert pool.environments == 0
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
