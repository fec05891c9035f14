"""What a function returns stays out of its X-Ray traces.

Powertools' `capture_lambda_handler` puts the handler's whole response into the trace as
metadata unless told otherwise (POWERTOOLS_TRACER_CAPTURE_RESPONSE, default "true"). Our
responses hold customers' names and emails, and the documents API's hold presigned URLs,
which are bearer credentials until they expire: none of it belongs in traces that anyone
with xray:BatchGetTraces reads for 30 days. The template turns it off for every function.

The behaviour is checked at the X-Ray daemon's boundary: a sampled invocation, in a
subprocess with the template's Powertools variables, sends its subsegments over UDP to a
socket this test holds, as the SDK does to the daemon in Lambda.
"""

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from typing import Any

import pytest

from local_stack.assembly.stack import LOCAL_PARAMETERS
from local_stack.template.transform import load_template

EMAIL = f"traced-{uuid.uuid4().hex[:8]}@example.com"

# A handler decorated as ours are, returning what a customers route returns.
HANDLER = f"""
from aws_lambda_powertools import Tracer

tracer = Tracer()

@tracer.capture_lambda_handler
def lambda_handler(event, context):
    return {{"statusCode": 200, "body": '{{"email": "{EMAIL}"}}'}}

class Context:
    function_name = "CustomersRdsFunction"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:CustomersRdsFunction"
    memory_limit_in_mb = 512
    aws_request_id = "traced-request"

print(lambda_handler({{}}, Context()))
"""


def traced_functions() -> dict[str, dict[str, Any]]:
    """Each function with active tracing: its environment variables after the transform
    (Globals merged in)."""
    resources = load_template(parameters=LOCAL_PARAMETERS).transformed["Resources"]
    return {
        logical_id: resource["Properties"].get("Environment", {}).get("Variables", {})
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::Lambda::Function"
        and resource["Properties"].get("TracingConfig", {}).get("Mode") == "Active"
    }


def test_every_traced_function_keeps_its_response_out_of_the_trace():
    """Catches: POWERTOOLS_TRACER_CAPTURE_RESPONSE dropped from Globals (or a function
    that sets it back to true)."""
    functions = traced_functions()
    assert len(functions) >= 15
    assert {
        name: variables.get("POWERTOOLS_TRACER_CAPTURE_RESPONSE")
        for name, variables in functions.items()
        if variables.get("POWERTOOLS_TRACER_CAPTURE_RESPONSE") != "false"
    } == {}


def subsegments(environment: dict[str, str]) -> list[dict[str, Any]]:
    """Run the handler once in a sampled trace; what reached the 'daemon'."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as daemon:
        daemon.bind(("127.0.0.1", 0))
        daemon.settimeout(0.2)
        root = f"1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS"))}
        env |= environment | {
            "LAMBDA_TASK_ROOT": "/var/task",
            "AWS_LAMBDA_FUNCTION_NAME": "CustomersRdsFunction",
            "_X_AMZN_TRACE_ID": f"Root={root};Parent={uuid.uuid4().hex[:16]};Sampled=1",
            "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon.getsockname()[1]}",
            "AWS_REGION": "us-east-1",
        }
        run = subprocess.run(  # noqa: S603 - this interpreter, fixed code
            [sys.executable, "-c", HANDLER],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert run.returncode == 0, run.stderr
        assert EMAIL in run.stdout  # the handler did return it
        received: list[dict[str, Any]] = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                datagram = daemon.recv(65536).decode()
            except TimeoutError:
                if received:
                    break
                continue
            header, _, body = datagram.partition("\n")
            assert json.loads(header)["format"] == "json"
            received.append(json.loads(body))
    return received


def test_a_sampled_invocation_sends_its_subsegment_without_the_response():
    """Given the template's Powertools variables of CustomersRdsFunction and a sampled
    trace, when the handler returns a customer's email, then the handler's subsegment
    reaches the daemon and the email does not.

    Mutation caught: POWERTOOLS_TRACER_CAPTURE_RESPONSE removed from Globals (the
    subsegment then carries `lambda_handler response` with the body)."""
    variables = traced_functions()["CustomersRdsFunction"]
    powertools = {k: v for k, v in variables.items() if k.startswith("POWERTOOLS")}
    powertools = {k: v for k, v in powertools.items() if isinstance(v, str)}

    sent = subsegments(powertools)

    assert [segment["name"] for segment in sent] == ["## lambda_handler"]
    assert EMAIL not in json.dumps(sent)


@pytest.mark.parametrize("setting", [None, "true"])
def test_the_check_sees_a_response_when_capture_is_on(setting: str | None):
    """The check above can fail: with Powertools' default (or "true"), the same run puts
    the response, email and all, into the subsegment's metadata."""
    environment = {} if setting is None else {"POWERTOOLS_TRACER_CAPTURE_RESPONSE": setting}

    sent = subsegments(environment)

    assert EMAIL in json.dumps(sent)
