"""`make api` as a user runs it: a subprocess serving the contract over real HTTP, which
stops on Ctrl-C (SIGINT) and leaves nothing listening.

The tests share one `make api` (the module's fixture) and run in file order on one xdist
worker: the Ctrl-C test stops that stack, and the test after it reads what it left behind.
"""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from local_stack.services.endpoint import ADMIN_CREDENTIALS
from local_stack.services.partner_feed import PartnerFeed, sample_rows
from local_stack.template.transform import load_template
from tests.support.awscli import aws_cli_v2
from tests.unit.test_make_wait import make

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.xdist_group("local-api")


def listeners(url: str) -> dict[int, list[str]]:
    """The processes holding a listening TCP socket on the url's port: pid -> command line.

    From /proc (the socket's inode in /proc/net/tcp, then whose fd points at it), not by
    connecting: once a stack has freed its ports, a test on the other xdist worker may bind
    the same ephemeral port (a CI run met exactly that), which a connect would take for the
    stack still listening."""
    port = int(url.rsplit(":", 1)[1])
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                    inodes.add(f"socket:[{inode}]")
    holders: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if any(os.readlink(fd) in inodes for fd in (entry / "fd").iterdir()):
                holders[int(entry.name)] = (entry / "cmdline").read_bytes().decode().split("\0")
    return holders


def stack_listeners(url: str, state: Path) -> dict[int, list[str]]:
    """Who still listens on one of the stack's ports, among the processes of that stack:
    those started with its state folder (LOCAL_STATE_DIR) in their environment."""
    marker = f"LOCAL_STATE_DIR={state}".encode()
    found = {}
    for pid, command in listeners(url).items():
        with contextlib.suppress(OSError):
            if marker in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                found[pid] = command
    return found


def call(base: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def start_make_api(state: Path, **extra: str) -> subprocess.Popen[str]:
    """`make api` as a user starts it, in a process group of its own; its output to a file
    (not a pipe: function logs stream there freely), ready when outputs.json appears."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    # PORT=0: the API binds a port the system picks when it listens, after the deploy (a
    # port chosen here could be taken meanwhile, by the stack's own ephemeral ports too).
    env |= {"PORT": "0", "LOCAL_STATE_DIR": str(state), "LOCAL_API_QUIET": "1"}
    env |= extra
    log = state / "make-api.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "local_stack.commands.server"],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    outputs_file = state / "outputs.json"
    deadline = time.monotonic() + 180
    while not outputs_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"make api did not start:\n{log.read_text()}")
        time.sleep(0.1)
    return process


def descendants(pid: int) -> dict[int, list[str]]:
    """Every process below `pid` (by parent pid, from /proc): pid -> command line."""
    parents: dict[int, int] = {}
    commands: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
        commands[int(entry.name)] = [part.decode() for part in command if part]
    found: dict[int, list[str]] = {}
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for child, its_parent in parents.items():
            if its_parent == parent and child not in found:
                found[child] = commands[child]
                frontier.append(child)
    return found


def environment_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def local_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    state = tmp_path_factory.mktemp("local-state")
    process = start_make_api(state, EXPORTED_BEFORE_MAKE_API="visible-to-make-api-only")
    outputs_file = state / "outputs.json"
    outputs = json.loads(outputs_file.read_text())
    yield {
        "process": process,
        "outputs": outputs,
        "outputs_file": str(outputs_file),
        "state": state,
    }
    if process.poll() is None:
        process.kill()


def stack_folder(local_api: dict[str, Any]) -> Path:
    """The fixture's stack's own folder (PORT=0: named after its process)."""
    return Path(local_api["state"]) / "stacks" / f"pid-{local_api['process'].pid}"


def test_outputs_name_the_api_and_the_aws_endpoint(local_api: dict[str, Any]):
    outputs = local_api["outputs"]

    assert outputs["ApiUrl"].startswith("http://127.0.0.1:")
    assert outputs["AwsEndpointUrl"].startswith("http://127.0.0.1:")
    assert outputs["CustomersTableName"]
    assert json.loads((stack_folder(local_api) / "outputs.json").read_text()) == outputs


@pytest.mark.parametrize("backend", ["dynamodb", "rds", "aurora", "django"])
def test_the_customers_contract_holds_over_http(local_api: dict[str, Any], backend: str):
    base = local_api["outputs"]["ApiUrl"]
    path = f"/{backend}/customers"
    email = f"ada.{backend}@example.com"

    status, created = call(base, "POST", path, {"name": "Ada", "email": email})
    assert status == 201
    assert call(base, "GET", f"{path}/{created['id']}") == (200, created)
    assert call(base, "POST", path, {"name": "x", "email": email.upper()})[0] == 409
    status, page = call(base, "GET", f"{path}?limit=1")
    assert status == 200
    assert len(page["items"]) == 1
    assert call(base, "DELETE", f"{path}/{created['id']}") == (204, None)


@pytest.mark.parametrize("backend", ["dynamodb", "rds", "aurora"])
def test_the_events_endpoint_fills_up_while_the_stack_runs(local_api: dict[str, Any], backend: str):
    base = local_api["outputs"]["ApiUrl"]
    path = f"/{backend}/customers"
    _, created = call(base, "POST", path, {"name": "Ev", "email": f"ev.{backend}@example.com"})
    call(base, "DELETE", f"{path}/{created['id']}")

    deadline = time.monotonic() + 30
    types: list[str] = []
    while time.monotonic() < deadline and len(types) < 2:
        time.sleep(0.2)
        types = [i["type"] for i in call(base, "GET", f"{path}/{created['id']}/events")[1]["items"]]

    assert types == ["CustomerCreated", "CustomerDeleted"]


def test_the_outbox_relay_shows_on_the_terminal_only_when_it_relays(local_api: dict[str, Any]):
    """Given `make api` ticking the outbox relay's rate() schedule every second
    When an RDS customer is created
    Then the relay's run that published it is on the terminal, and no idle tick is
    (they stay in the function's log file).

    Catches: every tick echoed (12 lines a second of START/END/REPORT on the terminal
    before), or the relay's useful runs hidden along with the idle ones."""
    base = local_api["outputs"]["ApiUrl"]
    _, created = call(base, "POST", "/rds/customers", {"name": "Ob", "email": "ob@example.com"})
    events = f"/rds/customers/{created['id']}/events"
    deadline = time.monotonic() + 30
    while not call(base, "GET", events)[1]["items"] and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.5)  # let the echo of that run reach the file

    terminal = (local_api["state"] / "make-api.log").read_text().splitlines()
    relay = [line for line in terminal if line.startswith("OutboxRelayFunction ")]
    relayed = [line for line in relay if '"message":"outbox relayed"' in line]
    filed = (stack_folder(local_api) / "logs" / "OutboxRelayFunction.log").read_text()

    assert call(base, "GET", events)[1]["items"], "the event never reached the audit trail"
    assert relayed, "the run that relayed the event is not on the terminal"
    assert all('"published":0' not in line for line in relayed), "an idle tick was echoed"
    assert filed.count('"published":0') > 0, "idle ticks are filed"
    assert sum("START RequestId" in line for line in relay) == len(relayed)


def test_a_document_goes_up_and_down_through_the_returned_urls(local_api: dict[str, Any]):
    base = local_api["outputs"]["ApiUrl"]
    content = b"col1,col2\n" + b"1,2\n" * 1000

    status, created = call(
        base, "POST", "/documents", {"filename": "data.csv", "contentType": "text/csv"}
    )
    assert status == 201
    upload = created["upload"]
    posted = requests.post(
        upload["url"],
        data=upload["fields"],
        files={"file": ("data.csv", content, "text/csv")},
        timeout=30,
    )
    assert posted.status_code == 204, posted.text  # S3's answer without success_action_status
    status, document = call(base, "GET", f"/documents/{created['id']}")
    assert status == 200
    downloaded = requests.get(document["download"]["url"], timeout=30)
    assert downloaded.content == content


def test_edge_errors_behave_like_api_gateway(local_api: dict[str, Any]):
    base = local_api["outputs"]["ApiUrl"]

    status, body = call(base, "GET", "/no/such/route")
    assert status == 403
    assert body == {"message": "Missing Authentication Token"}
    # methods API Gateway does not route, on a path that has routes: JSON, never HTML
    for method in ("TRACE", "CONNECT", "PROPFIND"):
        status, body = call(base, method, "/dynamodb/customers")
        assert (status, body) == (403, {"message": "Missing Authentication Token"}), method

    request = urllib.request.Request(  # noqa: S310
        base + "/dynamodb/customers", data=b"x" * (10 * 1024 * 1024 + 1), method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)  # noqa: S310
    assert refused.value.code == 413


def make_sync(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_module("local_stack.commands.sync", *args, timeout_s=120, LOCAL_STATE_DIR=str(state))


def test_make_sync_twice_leaves_each_partner_customer_once(local_api: dict[str, Any]):
    feed = PartnerFeed(rows=sample_rows(40)).start()
    try:
        runs = [
            make_sync(local_api["state"], "--url", f"{feed.url}?_page=1&_limit=15")
            for _ in range(2)
        ]
    finally:
        feed.stop()

    for run in runs:
        assert run.returncode == 0, run.stderr
        assert "Using the running local stack" in run.stderr
        assert "fetched 40 rows in 3 page(s): 40 valid" in run.stdout
        assert "customers with a partner id in MySQL: 40" in run.stdout


def test_make_sync_with_another_feed_on_the_running_stack_reads_that_feed(
    local_api: dict[str, Any],
):
    """Given a running stack whose fetcher has just synced one feed (and caches its URL
    for 5 minutes), when `make sync` runs with another feed, the fetcher reads that one.

    Catches: make sync not starting the fetcher afresh (UpdateFunctionConfiguration on the
    local Lambda API): the warm fetcher would call the first feed, which is gone."""
    runs = []
    for rows in (7, 9):
        feed = PartnerFeed(rows=sample_rows(rows)).start()
        try:
            runs.append(make_sync(local_api["state"], "--url", feed.url))
        finally:
            feed.stop()

    assert all(run.returncode == 0 for run in runs), runs[-1].stderr
    assert "fetched 7 rows in 1 page(s): 7 valid" in runs[0].stdout
    assert "fetched 9 rows in 1 page(s): 9 valid" in runs[1].stdout
    assert "Starting the fetcher afresh (UpdateFunctionConfiguration)" in runs[1].stderr


def test_make_sync_with_a_dead_partner_url_says_so_in_one_line(local_api: dict[str, Any]):
    """Catches: the fetcher's traceback (its log's last 3,000 characters) printed when the
    partner does not answer, where one line saying what failed and where the log is does."""
    # Given a partner URL where nothing listens
    dead = "http://127.0.0.1:9/customers"

    # When `make sync` runs against it on the running stack
    run = make_sync(local_api["state"], "--url", dead)

    # Then it fails with one line naming the URL, the error and the fetcher's log
    failure = [line for line in run.stderr.splitlines() if line.startswith("make sync:")]
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert len(failure) == 1, run.stderr
    assert f"failed against {dead}" in failure[0]
    assert ".local/logs/PartnerFetcherFunction.log" in failure[0]
    assert run.stderr.strip().splitlines()[-1] == failure[0]


def test_make_sync_without_a_url_uses_the_bundled_partner_feed(tmp_path: Path):
    """Catches: `make sync` reaching for the template's public default (the internet).

    Without a running `make api` (a throwaway stack): a warm fetcher of the shared stack
    would still hold the previous test's feed URL, which it caches for 5 minutes."""
    run = make_sync(tmp_path)

    assert run.returncode == 0, run.stderr
    assert "No PARTNER_URL: using the bundled local partner feed (http://127.0.0.1:" in run.stderr
    assert "No running `make api`: deploying a throwaway stack" in run.stderr
    assert "fetched 25 rows in 1 page(s): 25 valid" in run.stdout


def test_every_function_runs_as_runtime_emulator_processes_with_only_its_own_environment(
    local_api: dict[str, Any],
):
    """Catches: functions run inside the server's process (no emulator processes), or an
    environment inherited from the shell that started `make api` (the variable exported
    there would show up in the functions' processes)."""
    base = local_api["outputs"]["ApiUrl"]
    for path in ("/dynamodb/customers", "/rds/customers", "/documents"):
        assert call(base, "GET", path)[0] == 200

    processes = descendants(local_api["process"].pid)
    emulators = [pid for pid, command in processes.items() if "aws-lambda-rie" in command[0]]
    runtimes = [pid for pid, command in processes.items() if "awslambdaric" in command]
    functions = {environment_of(pid)["AWS_LAMBDA_FUNCTION_NAME"] for pid in runtimes}

    assert len(emulators) >= 3
    assert len(runtimes) >= 3
    assert {name.rsplit("-", 1)[-1] for name in functions} >= {
        "CustomersDynamoDBFunction",
        "CustomersRdsFunction",
        "DocumentsFunction",
    }
    for pid in emulators + runtimes:
        assert "EXPORTED_BEFORE_MAKE_API" not in environment_of(pid)


def test_the_sam_env_vars_file_holds_each_functions_template_variables(
    local_api: dict[str, Any],
):
    """`sam local invoke --env-vars .local/sam-env.json` (with Docker) gets the variables
    the local runtime gives each function, and reaches the local endpoint from a container.
    Catches: a function or a variable missing from the file, or the endpoint written as
    127.0.0.1 (which inside a container is the container itself)."""
    state: Path = local_api["state"]
    variables = json.loads((state / "sam-env.json").read_text())
    endpoint_port = local_api["outputs"]["AwsEndpointUrl"].rsplit(":", 1)[1]
    template = load_template()
    for logical_id in template.functions:
        properties = template.transformed["Resources"][logical_id]["Properties"]
        names = set((properties.get("Environment") or {}).get("Variables") or {})
        assert set(variables[logical_id]) == names, logical_id

    functions = descendants(local_api["process"].pid)
    running = {
        environment_of(pid)["AWS_LAMBDA_FUNCTION_NAME"].rsplit("-", 1)[-1]: environment_of(pid)
        for pid, command in functions.items()
        if "awslambdaric" in command
    }
    assert running, "no function has run yet"
    for logical_id, environment in running.items():
        declared = variables[logical_id]
        assert declared["AWS_ENDPOINT_URL"] == f"http://host.docker.internal:{endpoint_port}"
        for name, value in declared.items():
            if name != "AWS_ENDPOINT_URL":
                assert environment[name] == value, (logical_id, name)


def test_make_invoke_runs_the_function_in_the_running_stack(local_api: dict[str, Any]):
    run = run_module(
        "local_stack.commands.invoke",
        "CustomersDynamoDBFunction",
        "events/customers_dynamodb/list.json",
        timeout_s=120,
        LOCAL_STATE_DIR=str(local_api["state"]),
    )

    assert run.returncode == 0, run.stderr
    assert "Using the running local stack" in run.stderr
    assert "START RequestId" in run.stderr
    assert json.loads(run.stdout)["statusCode"] == 200


# -- make aws, with the AWS CLI v1 (installed) and v2 ---------------------------------------


def make_aws(state: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_module(
        "local_stack.commands.aws_cli", *args, timeout_s=120, LOCAL_STATE_DIR=str(state), **env
    )


def aws_version(**env: str) -> str:
    found = subprocess.run(
        ["aws", "--version"],  # noqa: S607 - the CLI a user has on PATH
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=os.environ | env,
    )
    return (found.stdout + found.stderr).strip()


def check_make_aws_reaches_sqs_and_lambda(
    local_api: dict[str, Any], tmp_path: Path, **env: str
) -> None:
    """`make aws` for SQS (the local AWS endpoint) and Lambda (the local Lambda API)."""
    state, outputs = local_api["state"], local_api["outputs"]
    function = "customer-platform-CustomersDynamoDBFunction"

    queues = make_aws(state, "sqs", "list-queues", **env)
    functions = make_aws(state, "lambda", "list-functions", "--max-items", "50", **env)
    answer = tmp_path / "answer.json"
    invoked = make_aws(
        state,
        "lambda",
        "invoke",
        "--function-name",
        f"{function}:live",
        "--payload",
        f"fileb://{ROOT / 'events/customers_dynamodb/list.json'}",
        str(answer),
        **env,
    )

    assert queues.returncode == 0, queues.stderr
    assert outputs["AuditQueueUrl"].rsplit("/", 1)[1] in queues.stdout
    assert functions.returncode == 0, functions.stderr
    assert function in {f["FunctionName"] for f in json.loads(functions.stdout)["Functions"]}
    assert invoked.returncode == 0, invoked.stderr
    assert json.loads(invoked.stdout) == {"StatusCode": 200, "ExecutedVersion": "1"}
    assert json.loads(answer.read_text())["statusCode"] == 200


def test_make_aws_reaches_sqs_and_lambda_with_the_aws_cli_v1(
    local_api: dict[str, Any], tmp_path: Path
):
    """Given the AWS CLI v1 this machine ships
    When `make aws` lists queues, lists functions and invokes `name:live`
    Then each reaches the local stack: SQS the AWS endpoint, Lambda the local Lambda API.

    Catches: `make aws ARGS="sqs ..."` going to https://queue.amazonaws.com/ (v1 ignores
    AWS_ENDPOINT_URL for SQS), and Lambda calls going to moto, which has no functions."""
    assert aws_version().startswith("aws-cli/1."), "this test needs the AWS CLI v1 as `aws`"

    check_make_aws_reaches_sqs_and_lambda(local_api, tmp_path)


def test_make_aws_reaches_sqs_and_lambda_with_the_aws_cli_v2(
    local_api: dict[str, Any], tmp_path: Path
):
    """The same with the AWS CLI v2 (tests.support.awscli: AWS's build, from PyPI).

    Catches: arguments only v1 accepts, or an endpoint only v1 needs."""
    path = f"{aws_cli_v2().parent}{os.pathsep}{os.environ['PATH']}"
    assert aws_version(PATH=path).startswith("aws-cli/2."), aws_version(PATH=path)

    check_make_aws_reaches_sqs_and_lambda(local_api, tmp_path, PATH=path)


def _drill() -> list[str]:
    """The command lines of the DLQ drill in docs/customer-events.md."""
    page = (ROOT / "docs" / "customer-events.md").read_text()
    section = page.split("## A DLQ redrive drill you can run locally", 1)[1]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    return [line.split("  #", 1)[0].strip() for line in block.splitlines() if line.strip()]


def test_the_dlq_drill_in_the_docs_runs_as_written(local_api: dict[str, Any]):
    """Given `make api` running (terminal 1 of the drill)
    When the drill's lines of terminal 2 run in bash as written (`.local/` being the test's
    state folder), pausing after the send for as long as SQS takes to dead-letter it
    Then every line succeeds, the DLQ holds the message, and `make redrive` moves it.

    Catches: the old drill, whose `aws sqs ...` after `eval "$(make -s aws)"` went to
    https://queue.amazonaws.com/ with the AWS CLI v1."""
    lines = [line for line in _drill() if not line.startswith("#")]
    assert lines[0] == "make api", lines
    state = local_api["state"]
    script = [line.replace(".local/", f"{state}/") for line in lines[1:]]
    sent = next(i for i, line in enumerate(script) if "send-message" in line)
    variables = [line for line in script if line.startswith(("Q=", "DLQ="))]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PORT"))}
    env["LOCAL_STATE_DIR"] = str(state)

    def bash(lines: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - the documented commands
            ["bash", "-euo", "pipefail", "-c", "\n".join(lines)],  # noqa: S607
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )

    first = bash(script[: sent + 1])
    assert first.returncode == 0, first.stderr
    dlq = local_api["outputs"]["AuditDeadLetterQueueUrl"]
    sqs = boto3.client(
        "sqs",
        endpoint_url=local_api["outputs"]["AwsEndpointUrl"],
        region_name="us-east-1",
        aws_access_key_id=ADMIN_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=ADMIN_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # "a few seconds": five receives, then the DLQ
        depth = sqs.get_queue_attributes(
            QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
        if depth == "1":
            break
        time.sleep(0.5)
    second = bash(variables + script[sent + 1 :])

    assert second.returncode == 0, second.stderr
    assert '"ApproximateNumberOfMessages": "1"' in second.stdout
    assert "moved 1 message(s) from AuditDeadLetterQueueUrl" in second.stdout


# -- two stacks, one .local -------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _endpoint_port(listing: subprocess.CompletedProcess[str]) -> str:
    """The port of the AWS endpoint that answered `sqs list-queues` (in its queue URLs)."""
    assert listing.returncode == 0, listing.stderr
    url: str = json.loads(listing.stdout)["QueueUrls"][0]
    return url.split("/")[2].rsplit(":", 1)[1]


@pytest.mark.timeout(600)
def test_a_second_stack_keeps_its_own_state_and_the_first_stays_the_default(
    local_api: dict[str, Any],
):
    """Given `make api` running (the default stack)
    When a second `make api PORT=<p>` starts beside it (`make wait PORT=<p>` run at once),
    and later stops
    Then `make wait PORT=<p>` waits for the second and prints its URL; the first's
    outputs.json and MySQL CA file are untouched; `make aws` reaches the first, `make aws
    PORT=<p>` the second; after the second stops, `make aws` and `make invoke` still reach
    the first.

    Catches: the old single `.local`: the second `make api` overwrote outputs.json and the
    CA file, so after it stopped the first stack was invisible to make aws/invoke/wait;
    and `make wait` with a stack starting (no outputs yet) treated as nothing running."""
    state: Path = local_api["state"]
    first = json.loads((state / "outputs.json").read_text())
    first_ca = Path(first["MySqlCaFile"]).read_text()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {"PORT": str(port), "LOCAL_STATE_DIR": str(state), "LOCAL_API_QUIET": "1"}
    log = (state / "second-make-api.log").open("w")
    second = subprocess.Popen(
        [sys.executable, "-m", "local_stack.commands.server"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        waited = run_module(
            "local_stack.commands.running",
            "wait",
            timeout_s=300,
            LOCAL_STATE_DIR=str(state),
            PORT=str(port),
        )
        assert waited.returncode == 0, waited.stderr + (state / "second-make-api.log").read_text()
        assert waited.stdout.strip() == f"http://127.0.0.1:{port}"

        mine = json.loads((state / "stacks" / str(port) / "outputs.json").read_text())
        assert json.loads((state / "outputs.json").read_text()) == first
        assert Path(first["MySqlCaFile"]).read_text() == first_ca
        assert mine["MySqlCaFile"] != first["MySqlCaFile"]
        first_port = first["AwsEndpointUrl"].rsplit(":", 1)[1]
        second_port = mine["AwsEndpointUrl"].rsplit(":", 1)[1]
        assert _endpoint_port(make_aws(state, "sqs", "list-queues")) == first_port
        assert _endpoint_port(make_aws(state, "sqs", "list-queues", PORT=str(port))) == second_port
    finally:
        second.send_signal(signal.SIGINT)
        assert second.wait(timeout=120) == 0
        log.close()

    assert _endpoint_port(make_aws(state, "sqs", "list-queues")) == first_port
    invoked = run_module(
        "local_stack.commands.invoke",
        "CustomersDynamoDBFunction",
        "events/customers_dynamodb/list.json",
        timeout_s=120,
        LOCAL_STATE_DIR=str(state),
    )
    assert invoked.returncode == 0, invoked.stderr
    assert f"Using the running local stack ({first['LambdaEndpointUrl']})" in invoked.stderr
    gone = make_aws(state, "sqs", "list-queues", PORT=str(port))
    assert gone.returncode == 1
    assert f"no local stack is running on port {port}" in gone.stderr


def test_make_logs_follows_this_stacks_log_only(local_api: dict[str, Any]):
    """Given the running stack, whose dynamodb function has run, and a line of an earlier
    run in the old `.local/logs/` file
    When `make logs FN=CustomersDynamoDBFunction` runs
    Then it shows this stack's invocations and not the earlier run's line.

    Catches: `make logs` reading `.local/logs/<LogicalId>.log`, where earlier runs' lines
    stay (and which does not follow LOCAL_STATE_DIR)."""
    state: Path = local_api["state"]
    (state / "logs").mkdir(exist_ok=True)
    (state / "logs" / "CustomersDynamoDBFunction.log").write_text("a line of an earlier run\n")

    shown = make("logs", state, "FN=CustomersDynamoDBFunction", timeout_s=10).stdout

    assert "START RequestId" in shown
    assert "earlier run" not in shown


def test_ctrl_c_stops_everything_and_frees_the_ports(local_api: dict[str, Any]):
    """Catches: an execution environment, moto or MySQL left running after Ctrl-C."""
    process: subprocess.Popen[str] = local_api["process"]
    outputs = local_api["outputs"]
    left = descendants(process.pid)
    assert any("aws-lambda-rie" in command[0] for command in left.values())
    assert process.pid in stack_listeners(outputs["AwsEndpointUrl"], local_api["state"])

    process.send_signal(signal.SIGINT)

    assert process.wait(timeout=60) == 0
    for url in (outputs["ApiUrl"], outputs["AwsEndpointUrl"], outputs["LambdaEndpointUrl"]):
        assert stack_listeners(url, local_api["state"]) == {}, url
    time.sleep(1)  # the MySQL watchdog polls once a second
    assert [pid for pid in left if alive(pid)] == []
    assert Path(local_api["outputs_file"]).exists()  # API.md: make api writes it; it stays


def test_after_the_stack_stopped_the_commands_say_what_to_run(local_api: dict[str, Any]):
    """Runs after the Ctrl-C test: outputs.json names a stack that is gone. Catches: a
    traceback (an EndpointConnectionError) instead of a message naming `make api`."""
    assert local_api["process"].poll() is not None, "the Ctrl-C test stops the stack first"
    for command in (
        ["local_stack.commands.redrive", "AuditDeadLetterQueueUrl"],
        ["local_stack.commands.aws_cli"],
        ["tools.stream_replay"],
    ):
        run = run_module(*command, LOCAL_STATE_DIR=str(local_api["state"]))
        assert run.returncode == 1, run.stderr
        assert "no longer answers" in run.stderr
        assert "make api" in run.stderr
        assert "Traceback" not in run.stderr


def test_sigterm_to_the_process_group_stops_everything(tmp_path: Path):
    """Catches: a process of the stack that ignores SIGTERM or outlives its parent."""
    process = start_make_api(tmp_path)
    outputs = json.loads((tmp_path / "outputs.json").read_text())
    assert call(outputs["ApiUrl"], "GET", "/dynamodb/customers")[0] == 200
    left = descendants(process.pid)
    assert any("aws-lambda-rie" in command[0] for command in left.values())
    assert process.pid in stack_listeners(outputs["ApiUrl"], tmp_path)  # the check sees it

    os.killpg(process.pid, signal.SIGTERM)

    assert process.wait(timeout=60) == 0
    time.sleep(1)
    assert [pid for pid in [process.pid, *left] if alive(pid) and pid != process.pid] == []
    for url in (outputs["ApiUrl"], outputs["AwsEndpointUrl"], outputs["LambdaEndpointUrl"]):
        assert stack_listeners(url, tmp_path) == {}, url


def run_module(
    module: str, *args: str, timeout_s: float = 60, **env_extra: str
) -> subprocess.CompletedProcess[str]:
    """`python -m module args` as a make target runs it, without the shell's AWS_*,
    PARTNER_URL and PORT (each test says what it wants)."""
    inherited = os.environ.items()
    env = {k: v for k, v in inherited if not k.startswith(("AWS_", "PARTNER_URL", "PORT"))}
    env |= env_extra
    return subprocess.run(  # noqa: S603 - this interpreter, our own modules
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def test_a_busy_port_is_a_message_before_anything_is_deployed(tmp_path: Path):
    """Catches: deploying for seconds, then an OSError traceback."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = run_module(
            "local_stack.commands.server", PORT=str(port), LOCAL_STATE_DIR=str(tmp_path)
        )

    assert run.returncode == 1
    assert f"port {port} is already in use" in run.stderr
    assert f"make api PORT={port + 1}" in run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "stacks").exists(), "refused before deploying the stack"


def test_make_invoke_names_a_missing_event_file_and_where_the_samples_are(tmp_path: Path):
    run = run_module(
        "local_stack.commands.invoke",
        "CustomersDynamoDBFunction",
        "events/customers_dynamodb/no-such-event.json",
        LOCAL_STATE_DIR=str(tmp_path),
    )

    assert run.returncode == 2
    assert "no event file events/customers_dynamodb/no-such-event.json" in run.stderr
    assert "customers_dynamodb" in run.stderr
    assert "Traceback" not in run.stderr
