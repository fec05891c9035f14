"""`make api` as a user runs it: a subprocess serving the contract over real HTTP, which
stops on Ctrl-C (SIGINT) and leaves nothing listening."""

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

import pytest
import requests

from local_stack.partner_feed import PartnerFeed, sample_rows

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def listening(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as probe:
        return probe.connect_ex((host, int(port))) == 0


def call(base: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


@pytest.fixture(scope="module")
def local_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    state = tmp_path_factory.mktemp("local-state")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {"PORT": str(free_port()), "LOCAL_STATE_DIR": str(state), "LOCAL_API_QUIET": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "local_stack.server"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    outputs_file = state / "outputs.json"
    deadline = time.monotonic() + 60
    while not outputs_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            output = process.stdout.read() if process.stdout else ""
            pytest.fail(f"make api did not start:\n{output}")
        time.sleep(0.1)
    outputs = json.loads(outputs_file.read_text())
    yield {"process": process, "outputs": outputs, "outputs_file": str(outputs_file)}
    if process.poll() is None:
        process.kill()


def test_outputs_name_the_api_and_the_aws_endpoint(local_api: dict[str, Any]):
    outputs = local_api["outputs"]

    assert outputs["ApiUrl"].startswith("http://127.0.0.1:")
    assert outputs["AwsEndpointUrl"].startswith("http://127.0.0.1:")
    assert outputs["CustomersTableName"]


@pytest.mark.parametrize("backend", ["dynamodb", "rds"])
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


@pytest.mark.parametrize("backend", ["dynamodb", "rds"])
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

    request = urllib.request.Request(  # noqa: S310
        base + "/dynamodb/customers", data=b"x" * (10 * 1024 * 1024 + 1), method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)  # noqa: S310
    assert refused.value.code == 413


def test_make_sync_twice_leaves_each_partner_customer_once(
    local_api: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
):
    feed = PartnerFeed(rows=sample_rows(40)).start()
    state = Path(local_api["outputs_file"]).parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {"LOCAL_STATE_DIR": str(state)}
    try:
        runs = [
            subprocess.run(  # noqa: S603 (our own module)
                [
                    sys.executable,
                    "-m",
                    "local_stack.sync",
                    "--url",
                    f"{feed.url}?_page=1&_limit=15",
                ],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            for _ in range(2)
        ]
    finally:
        feed.stop()

    for run in runs:
        assert run.returncode == 0, run.stderr
        assert "Using the running local stack" in run.stderr
        assert "fetched 40 rows in 3 page(s): 40 valid" in run.stdout
        assert "customers with a partner id in MySQL: 40" in run.stdout


def test_ctrl_c_stops_everything_and_frees_the_ports(local_api: dict[str, Any]):
    process: subprocess.Popen[str] = local_api["process"]
    outputs = local_api["outputs"]

    process.send_signal(signal.SIGINT)

    assert process.wait(timeout=30) == 0
    assert not listening(outputs["ApiUrl"])
    assert not listening(outputs["AwsEndpointUrl"])
