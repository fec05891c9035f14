"""Every function of the template refuses an event of a source it is not wired to, with an
error Lambda reports (never a success), and still serves the events of its own sources.

The functions and their sources come from template.yaml (each function's `Events`, and the
custom resources whose ServiceToken it is), so a function added to the template is fed the
same events without touching this file; a trigger type this file cannot map fails the test
instead of being skipped. The events are the stack's own samples (events/) and what
`sam local generate-event` generates for those sources and for a few the stack does not use
(SNS, Kinesis, an HTTP API, a load balancer), plus `{}`, a direct invoke with no payload.
"""

import copy
import json
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from customer_platform import aws
from customer_platform.event_sources import Source
from local_stack.assembly.stack import LocalStack
from local_stack.runtime.functions import FunctionError
from local_stack.services.endpoint import AwsEndpoint
from local_stack.services.mysql import ServerAddress
from local_stack.services.partner_feed import PartnerFeed, sample_rows
from local_stack.template.transform import load_yaml
from tests.conftest import deploy

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
SAM = Path(sys.executable).parent / "sam"

# template trigger type -> the source of the events it sends
TRIGGERS = {
    "Api": Source.API_GATEWAY,
    "SQS": Source.SQS,
    "DynamoDB": Source.DYNAMODB_STREAM,
    "S3": Source.S3,
    "Schedule": Source.SCHEDULE,
    "ScheduleV2": Source.SCHEDULE,
}
# A function a service invokes with a payload of its own (a schedule, a custom resource)
# also runs by hand, `aws lambda invoke` with no payload: `{}`.
RUN_BY_HAND = {Source.SCHEDULE, Source.CUSTOM_RESOURCE}
# One sample per source from events/ (the folder's function says which source it is)...
SAMPLES = {
    "customers_dynamodb/get.json": Source.API_GATEWAY,
    "customer_audit/sqs-batch.json": Source.SQS,
    "customer_events_publisher/stream-batch.json": Source.DYNAMODB_STREAM,
    "document_uploaded/object-created.json": Source.S3,
    "partner_fetcher/scheduled.json": Source.SCHEDULE,
}
# ... and what SAM CLI generates, for the stack's sources and some others.
GENERATED = {
    ("apigateway", "aws-proxy"): Source.API_GATEWAY,
    ("sqs", "receive-message"): Source.SQS,
    ("dynamodb", "update"): Source.DYNAMODB_STREAM,
    ("s3", "put"): Source.S3,
    ("cloudwatch", "scheduled-event"): Source.SCHEDULE,
    ("cloudformation", "create-request"): Source.CUSTOM_RESOURCE,
    ("sns", "notification"): Source.SNS,
    ("kinesis", "get-records"): Source.KINESIS,
    ("apigateway", "http-api-proxy"): Source.HTTP_API,
    ("alb", "request"): Source.LOAD_BALANCER,
}
TEMPLATE = load_yaml()
FUNCTIONS = sorted(
    name
    for name, resource in TEMPLATE["Resources"].items()
    if resource["Type"] in ("AWS::Serverless::Function", "AWS::Lambda::Function")
)


@dataclass(frozen=True)
class Shape:
    name: str
    source: Source | None  # None: a sample of the function's own (events/<its folder>/)
    event: Any


def accepted_sources(function: str) -> set[Source]:
    """The sources template.yaml wires to `function`."""
    resource = TEMPLATE["Resources"][function]
    sources = set()
    for name, trigger in (resource["Properties"].get("Events") or {}).items():
        assert trigger["Type"] in TRIGGERS, (
            f"{function}.{name}: trigger type {trigger['Type']} is new to this test; map it"
            " in TRIGGERS to the event source it sends"
        )
        sources.add(TRIGGERS[trigger["Type"]])
    for other in TEMPLATE["Resources"].values():
        token = (other.get("Properties") or {}).get("ServiceToken")
        if isinstance(token, dict) and token.get("Fn::GetAtt", [None])[0] == function:
            sources.add(Source.CUSTOM_RESOURCE)
    assert sources, f"{function} has no trigger in the template: which events may it take?"
    if sources <= RUN_BY_HAND:
        sources.add(Source.DIRECT)
    return sources


def own_samples(function: str) -> list[Shape]:
    """Every event of events/<the function's folder>/ (they are all its own)."""
    folder = EVENTS / Path(TEMPLATE["Resources"][function]["Properties"]["CodeUri"]).name
    return [
        Shape(f"events/{folder.name}/{path.name}", None, json.loads(path.read_text()))
        for path in sorted(folder.glob("*.json"))
    ]


def generate(service: str, kind: str) -> Any:
    result = subprocess.run(  # noqa: S603 - SAM CLI of this venv, fixed arguments
        [str(SAM), "local", "generate-event", service, kind],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def shapes() -> list[Shape]:
    """Every event shape of the test, labelled with the source that sends it."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        generated = dict(
            zip(GENERATED, pool.map(lambda key: generate(*key), GENERATED), strict=True)
        )
    found = [
        Shape(f"events/{path}", source, json.loads((EVENTS / path).read_text()))
        for path, source in SAMPLES.items()
    ]
    found += [
        Shape(f"sam local generate-event {' '.join(key)}", GENERATED[key], event)
        for key, event in generated.items()
    ]
    return [*found, Shape("{} (a direct invoke)", Source.DIRECT, {})]


ANSWERS: list[dict[str, Any]] = []  # what the custom resource sent CloudFormation


class ResponseReceiver(BaseHTTPRequestHandler):
    """Where a custom resource's answer goes (CloudFormation's presigned ResponseURL)."""

    def do_PUT(self) -> None:
        length = int(self.headers["Content-Length"])
        ANSWERS.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def response_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), ResponseReceiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/response"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def private(
    endpoint: AwsEndpoint, mysql_server: ServerAddress, function_logs: Path
) -> Iterator[LocalStack]:
    """A stack of its own (its functions' own events publish, queue and write), with a
    partner feed for the fetcher's scheduled runs."""
    feed = PartnerFeed(rows=sample_rows(3)).start()
    deployed = deploy(endpoint, function_logs, f"sources-{uuid.uuid4().hex[:8]}")
    aws.reset_clients()
    aws.ssm().put_parameter(
        Name=deployed.outputs()["PartnerFeedUrlParameterName"], Value=feed.url, Overwrite=True
    )
    yield deployed
    deployed.close()
    feed.stop()


def outcome(stack: LocalStack, function: str, event: Any) -> FunctionError | None:
    try:
        stack.function(function).invoke(copy.deepcopy(event))
    except FunctionError as error:
        return error
    return None


@pytest.mark.parametrize("function", FUNCTIONS)
def test_an_event_of_another_source_is_a_wrong_event_source_error(
    private: LocalStack, shapes: list[Shape], function: str
):
    """Catches: a handler without its source check (the publisher answered an SQS batch
    with no failures; the migrations function migrated for an API request; an API
    function answered a queue batch with a 404 response, a success)."""
    accepted = accepted_sources(function)
    foreign = [(shape, shape.source) for shape in shapes if shape.source not in accepted]

    answers = {shape.name: outcome(private, function, shape.event) for shape, _ in foreign}

    assert foreign
    wrong = {
        name: "succeeded" if error is None else f"{error.error_type}: {error}"
        for name, error in answers.items()
        if error is None or error.error_type != "WrongEventSource"
    }
    assert wrong == {}, f"{function} accepts {sorted(accepted)}"
    for shape, source in foreign:
        message = str(answers[shape.name])
        assert source is not None
        assert f"got {source.value}" in message, message
        assert all(source.value in message for source in accepted), message


@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_events_of_its_own_sources_pass_the_check_and_its_samples_succeed(
    private: LocalStack, shapes: list[Shape], response_url: str, function: str
):
    """The other side of the check: it refuses nothing the function's triggers send. Its
    own samples (events/<its folder>/) succeed; the other events of its sources (SAM CLI's,
    another function's samples, `{}` for what runs by hand) pass the check, whatever the
    function then makes of their content (a batch of messages that are not its own fails
    record by record, as it should)."""
    accepted = accepted_sources(function)
    same_source = [
        Shape(shape.name, shape.source, shape.event | {"ResponseURL": response_url})
        if shape.source is Source.CUSTOM_RESOURCE
        else shape
        for shape in shapes
        if shape.source in accepted
    ]

    ANSWERS.clear()  # the answers to this function's requests only (not another's)
    failed = {
        shape.name: f"{error.error_type}: {error}"
        for shape in own_samples(function)
        if (error := outcome(private, function, shape.event)) is not None
    }
    refused = {
        shape.name: str(error)
        for shape in same_source
        if (error := outcome(private, function, shape.event)) is not None
        and error.error_type == "WrongEventSource"
    }

    assert same_source
    assert failed == {}
    assert refused == {}
    if Source.CUSTOM_RESOURCE in accepted:  # one answer per custom resource request sent
        sent = [shape for shape in same_source if shape.source is Source.CUSTOM_RESOURCE]
        assert [answer["Status"] for answer in ANSWERS] == ["SUCCESS"] * len(sent)
