"""The local Lambda API, judged by boto3's `lambda` client against the Lambda API reference.

The API is served over real HTTP (werkzeug) in front of the test session's deployed stack;
every call goes through botocore (its serializer, its parser, its exception classes), and the
documents it reads are checked member by member against botocore's model of the Lambda API.
"""

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.validate import ParamValidator

from local_stack.assembly.stack import LocalStack
from local_stack.runtime import LocalRuntime, new_credentials
from local_stack.runtime.functions import LocalFunction
from local_stack.runtime.pool import MAX_RESPONSE_BYTES
from local_stack.services import lambda_api
from local_stack.services.lambda_async import AsyncConfig, AsyncEvent
from local_stack.template.transform import FunctionSource
from tests.local_stack.test_runtime import PROBE, TIMEOUT_S, add, config

ROOT = Path(__file__).resolve().parents[2]
FUNCTION = "CustomersDynamoDBFunction"
LIST_EVENT = json.loads((ROOT / "events/customers_dynamodb/list.json").read_text())


class Served:
    """A LambdaApi over a stack, on a real port, and boto3 clients for it."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.api = lambda_api.LambdaApi.from_stack(stack)
        self.server = lambda_api.serve(self.api)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.client = lambda_api.client(self.url, timeout_s=120)
        self.raw: dict[str, bytes] = {}  # operation -> the last response body, as sent
        self.client.meta.events.register("before-parse.lambda.*", self._keep)

    def _keep(self, operation_model: Any, response_dict: dict[str, Any], **_: Any) -> None:
        self.raw[operation_model.name] = response_dict["body"]

    def document(self, operation: str) -> dict[str, Any]:
        """The last answer to `operation`, checked against its output shape in botocore's
        model: no member the model does not know, every member of the type it says."""
        document: dict[str, Any] = json.loads(self.raw[operation])
        shape = self.client.meta.service_model.operation_model(operation).output_shape
        report = ParamValidator().validate(document, shape)
        assert not report.has_errors(), report.generate_report()
        return document

    def as_function(self, logical_id: str) -> Any:
        """A Lambda client signing with a function's own credentials."""
        credentials = self.stack.function(logical_id).credentials
        return boto3.client(
            "lambda",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            aws_session_token=credentials.session_token,
            config=Config(retries={"total_max_attempts": 1}),
        )

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.api.close()


@pytest.fixture(scope="module")
def served(stack: LocalStack) -> Iterator[Served]:
    serving = Served(stack)
    yield serving
    serving.close()


def invoke(served: Served, name: str, **extra: Any) -> dict[str, Any]:
    answer: dict[str, Any] = served.client.invoke(
        FunctionName=name, Payload=json.dumps(LIST_EVENT).encode(), **extra
    )
    answer["Body"] = answer.pop("Payload").read()
    return answer


def calls(stack: LocalStack, logical_id: str = FUNCTION) -> int:
    """AWS calls the function made so far, as the local AWS endpoint recorded them."""
    return len(stack.calls(logical_id))


def until(predicate: Any, timeout_s: float = 60) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.2)
    return predicate()


# -- Invoke ---------------------------------------------------------------------------------


def test_names_partial_and_full_arns_and_qualifiers_reach_the_function(served: Served):
    """Given the function's name, partial ARN, full ARN, `name:live`, `?Qualifier=`,
    `$LATEST` and the version the alias points to
    When each is invoked
    Then each runs the function, `ExecutedVersion` is the version that ran (the alias: its
    version number), and every answer has Lambda's request id.

    Catches (the old API): a full ARN or `name:alias` answered 404 (the path was not
    URL-decoded), `live` reporting `$LATEST`, no `x-amzn-RequestId`."""
    function = served.stack.function(FUNCTION)
    account = function.arn.split(":")[4]
    cases = {
        function.name: "$LATEST",
        f"{account}:function:{function.name}": "$LATEST",
        function.arn: "$LATEST",
        f"{function.arn}:$LATEST": "$LATEST",
        f"{function.name}:live": "1",
        f"{function.arn}:live": "1",
        f"{function.name}:1": "1",
    }
    for name, version in cases.items():
        answer = invoke(served, name)

        assert answer["StatusCode"] == 200, name
        assert "FunctionError" not in answer, (name, answer["Body"])
        assert json.loads(answer["Body"])["statusCode"] == 200, name
        assert answer["ExecutedVersion"] == version, name
        assert answer["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"], name
    assert invoke(served, function.name, Qualifier="live")["ExecutedVersion"] == "1"


@pytest.mark.parametrize("qualifier", ["nope", "99", "$latest"])
def test_an_unknown_qualifier_is_resource_not_found_and_runs_nothing(
    served: Served, qualifier: str
):
    """Catches: an unknown qualifier running `$LATEST` (the old API ignored qualifiers)."""
    function = served.stack.function(FUNCTION)
    before = calls(served.stack)

    with pytest.raises(served.client.exceptions.ResourceNotFoundException) as refused:
        invoke(served, function.name, Qualifier=qualifier)

    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert f"Function not found: {function.arn}:{qualifier}" in str(refused.value)
    assert calls(served.stack) == before


def test_a_qualifier_in_the_name_and_another_in_the_query_are_refused(served: Served):
    """Catches: one of two disagreeing qualifiers silently winning."""
    with pytest.raises(served.client.exceptions.InvalidParameterValueException):
        invoke(served, f"{served.stack.function(FUNCTION).name}:live", Qualifier="1")


def test_dry_run_checks_and_runs_nothing(served: Served):
    """Given a function whose every run queries DynamoDB
    When it is invoked with InvocationType=DryRun
    Then Lambda's 204 comes back and the function made no AWS call.

    Catches: DryRun running the function with its side effects (the old API did)."""
    before = calls(served.stack)

    answer = invoke(served, FUNCTION, InvocationType="DryRun")

    assert answer["StatusCode"] == 204
    assert answer["Body"] == b""
    assert answer["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    time.sleep(1)  # had anything been started, its query would be recorded by now
    assert calls(served.stack) == before


def test_an_event_invocation_is_accepted_at_once_and_runs_afterwards(served: Served):
    """Given a function whose every run queries DynamoDB
    When it is invoked with InvocationType=Event
    Then 202 with an empty body comes back, and the function runs afterwards.

    Catches: Event run synchronously and answered 200 with the payload (the old API)."""
    before = calls(served.stack)

    answer = invoke(served, FUNCTION, InvocationType="Event")

    assert answer["StatusCode"] == 202
    assert answer["Body"] == b""
    assert "ExecutedVersion" not in answer
    assert until(lambda: calls(served.stack) > before), "the queued invocation never ran"


@pytest.mark.parametrize(("kind", "member"), [("Async", "InvocationType"), ("Full", "LogType")])
def test_an_invalid_invocation_or_log_type_is_lambdas_validation_error(
    served: Served, kind: str, member: str
):
    """Catches: an invalid InvocationType accepted and run as RequestResponse."""
    with pytest.raises(ClientError) as refused:
        invoke(served, FUNCTION, **{member: kind})

    error = refused.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "ValidationException"
    assert f"Value '{kind}'" in error["Error"]["Message"]


@pytest.mark.parametrize(
    ("size", "kind"),
    [(7 * 1024 * 1024, "RequestResponse"), (7 * 1024 * 1024, "DryRun"), (1024 * 1024 + 1, "Event")],
)
def test_a_request_over_lambdas_limit_is_413_request_too_large(
    served: Served, size: int, kind: str
):
    """Lambda's payload quotas: 6 MB synchronous, 1 MB asynchronous.

    Catches: a 7 MB payload answered 200 with X-Amz-Function-Error (the old API)."""
    payload = json.dumps({"data": "x" * size}).encode()
    before = calls(served.stack)

    with pytest.raises(served.client.exceptions.RequestTooLargeException) as refused:
        served.client.invoke(FunctionName=FUNCTION, Payload=payload, InvocationType=kind)

    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert "Request must be smaller than" in str(refused.value)
    assert calls(served.stack) == before


def test_a_body_that_is_not_json_is_invalid_request_content(served: Served):
    with pytest.raises(served.client.exceptions.InvalidRequestContentException):
        served.client.invoke(FunctionName=FUNCTION, Payload=b"{not json")


def test_a_failed_invocation_is_200_with_the_function_error_and_its_log_tail(served: Served):
    """Catches: a function error answered as an HTTP error, or the log tail missing."""
    bad = dict(LIST_EVENT, httpMethod=None)  # the resolver cannot route it: the handler raises

    answer = served.client.invoke(
        FunctionName=FUNCTION, Payload=json.dumps(bad).encode(), LogType="Tail"
    )

    assert answer["StatusCode"] == 200
    assert answer["FunctionError"] == "Unhandled"
    assert {"errorType", "errorMessage"} <= json.loads(answer["Payload"].read()).keys()
    assert "START RequestId" in base64.b64decode(answer["LogResult"]).decode()


def test_a_function_role_without_invoke_permission_is_denied_and_nothing_runs(served: Served):
    """Given a client signing with a function's credentials, whose role grants no
    lambda:InvokeFunction
    When it invokes (or dry-runs) another function
    Then Lambda's AccessDeniedException, and the function did not run.

    Catches: every signed caller treated as the administrator (DryRun then checks nothing)."""
    caller = served.as_function("DocumentsFunction")
    before = calls(served.stack)

    for kind in ("RequestResponse", "DryRun", "Event"):
        with pytest.raises(ClientError) as refused:
            caller.invoke(FunctionName=FUNCTION, InvocationType=kind, Payload=b"{}")
        error = refused.value.response
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 403, kind
        assert error["Error"]["Code"] == "AccessDeniedException", kind
        assert "is not authorized to perform: lambda:InvokeFunction" in error["Error"]["Message"]
    time.sleep(1)
    assert calls(served.stack) == before


# -- read from the template -------------------------------------------------------------------


def test_list_functions_pages_through_every_function_of_the_template_once(served: Served):
    """Given the template's functions
    When ListFunctions is followed page by page (MaxItems=4, Marker/NextMarker)
    Then every function is listed exactly once, in Lambda's FunctionConfiguration shape.

    Catches: an HTML 501 (the old API), a page that repeats or drops a function, a member
    botocore's model does not know."""
    names: list[str] = []
    marker: dict[str, str] = {}
    pages = 0
    while True:
        page = served.client.list_functions(MaxItems=4, **marker)
        served.document("ListFunctions")
        names += [function["FunctionName"] for function in page["Functions"]]
        pages += 1
        if "NextMarker" not in page:
            break
        marker = {"Marker": page["NextMarker"]}

    expected = sorted(function.name for function in served.stack.functions.values())
    assert sorted(names) == expected
    assert pages == -(-len(expected) // 4)
    every = served.client.get_paginator("list_functions").paginate(FunctionVersion="ALL")
    versions = {(f["FunctionName"], f["Version"]) for page in every for f in page["Functions"]}
    assert (served.stack.function(FUNCTION).name, "1") in versions
    with pytest.raises(served.client.exceptions.InvalidParameterValueException):
        served.client.list_functions(Marker="not-a-marker")


def test_get_function_and_its_configuration_come_from_the_template(served: Served):
    """Catches: an HTML 501 (the old API), or a configuration that is not the deployed one
    (its environment, timeout, role, reserved concurrency)."""
    function = served.stack.function("PartnerWriterFunction")

    found = served.client.get_function(FunctionName=function.name)
    document = served.document("GetFunction")
    configuration = served.client.get_function_configuration(FunctionName=function.arn)
    served.document("GetFunctionConfiguration")
    live = served.client.get_function_configuration(FunctionName=function.name, Qualifier="live")

    assert document["Configuration"]["FunctionArn"] == function.arn
    assert found["Configuration"]["Environment"]["Variables"] == function.config.variables
    assert found["Concurrency"]["ReservedConcurrentExecutions"] == (
        function.config.reserved_concurrency
    )
    assert configuration["Timeout"] == function.config.timeout_s
    assert configuration["Role"] == function.config.role_arn
    assert configuration["Version"] == "$LATEST"
    assert (live["Version"], live["FunctionArn"]) == ("1", f"{function.arn}:1")


def test_aliases_are_the_templates_auto_published_live_alias(served: Served):
    """Catches: an HTML 501 for ListAliases/GetAlias (the old API), or an alias that does not
    say which version it points to."""
    function = served.stack.function(FUNCTION)

    aliases = served.client.list_aliases(FunctionName=function.name)["Aliases"]
    served.document("ListAliases")
    alias = served.client.get_alias(FunctionName=function.arn, Name="live")
    served.document("GetAlias")

    assert [(a["Name"], a["FunctionVersion"]) for a in aliases] == [("live", "1")]
    assert alias["AliasArn"] == f"{function.arn}:live"
    assert (
        served.client.list_aliases(FunctionName=function.name, FunctionVersion="2")["Aliases"] == []
    )
    with pytest.raises(served.client.exceptions.ResourceNotFoundException):
        served.client.get_alias(FunctionName=function.name, Name="nope")
    versions = served.client.list_versions_by_function(FunctionName=function.name)
    served.document("ListVersionsByFunction")
    assert [v["Version"] for v in versions["Versions"]] == ["$LATEST", "1"]


def test_the_event_invoke_config_is_the_templates(served: Served):
    function = served.stack.function("PartnerFetcherFunction")

    config = served.client.get_function_event_invoke_config(
        FunctionName=function.name, Qualifier="live"
    )

    queue = served.stack.cloud.resolve({"Fn::GetAtt": ["PartnerFetcherFailureQueue", "Arn"]})
    assert config["MaximumRetryAttempts"] == 2
    assert config["MaximumEventAgeInSeconds"] == 3600
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == queue
    with pytest.raises(served.client.exceptions.ResourceNotFoundException):
        served.client.get_function_event_invoke_config(FunctionName=function.name)


@pytest.mark.parametrize("name", ["Nope", "arn:aws:lambda:us-east-1:000000000000:function:x"])
def test_an_unknown_function_is_resource_not_found(served: Served, name: str):
    client = served.client
    for operation in (client.invoke, client.get_function, client.list_aliases):
        with pytest.raises(client.exceptions.ResourceNotFoundException) as refused:
            operation(FunctionName=name)
        assert refused.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]


def test_any_other_operation_is_a_json_error_never_html_or_501(served: Served):
    """Catches: an operation the local API does not serve answered with http.server's HTML
    501 page (the old API), which botocore cannot even parse into an error code."""
    client = served.client
    others: list[tuple[Any, dict[str, str]]] = [
        (client.list_layers, {}),
        (client.delete_function, {"FunctionName": FUNCTION}),
        (client.get_account_settings, {}),
    ]
    for operation, arguments in others:
        with pytest.raises(ClientError) as refused:
            operation(**arguments)
        error = refused.value.response
        assert error["Error"]["Code"] == "UnknownOperationException"
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
        assert error["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/json"


# -- asynchronous invocation: retries and destinations ------------------------------------------


def _messages(stack: LocalStack, output: str) -> list[dict[str, Any]]:
    sqs = stack.cloud.client("sqs")
    url = stack.outputs()[output]
    found = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    return [json.loads(message["Body"]) for message in found.get("Messages", [])]


def _starts(stack: LocalStack, logical_id: str) -> int:
    log = stack.log_dir / f"{logical_id}.log"
    return log.read_text().count("START RequestId") if log.exists() else 0


@pytest.fixture
def private(fresh_stack: LocalStack) -> Iterator[Served]:
    serving = Served(fresh_stack)
    yield serving
    serving.close()


def test_a_failing_event_is_retried_then_recorded_in_the_aliases_on_failure_destination(
    private: Served,
):
    """Given the partner fetcher, whose `live` alias has an EventInvokeConfig (2 retries,
    OnFailure: its failure queue), and SSM failing its parameter reads
    When `PartnerFetcherFunction:live` is invoked with InvocationType=Event
    Then it runs three times, and Lambda's invocation record reaches the failure queue,
    sent as the function's own role.

    Catches: no retries, a record in another shape (no requestPayload, no condition or
    invoke count), or a destination sent as the administrator (the IAM check would not
    then have seen the function's sqs:SendMessage)."""
    stack = private.stack
    fetcher = stack.function("PartnerFetcherFunction")
    stack.inject_fault("PartnerFetcherFunction", "ssm:GetParameter", "InternalServerError", count=3)
    event = {"id": "async-test", "detail-type": "Scheduled Event"}

    answer = private.client.invoke(
        FunctionName=f"{fetcher.name}:live",
        InvocationType="Event",
        Payload=json.dumps(event).encode(),
    )
    records = until(lambda: _messages(stack, "PartnerFetcherFailureQueueUrl"), timeout_s=120)

    assert answer["StatusCode"] == 202
    assert len(records) == 1
    record = records[0]
    assert record["version"] == "1.0"
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["functionArn"] == f"{fetcher.arn}:live"
    assert record["requestContext"]["requestId"] == answer["ResponseMetadata"]["RequestId"]
    assert record["requestPayload"] == event
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "1",
        "functionError": "Unhandled",
    }
    assert {"errorType", "errorMessage"} <= record["responsePayload"].keys()
    assert _starts(stack, "PartnerFetcherFunction") == 3
    sends = stack.calls("PartnerFetcherFunction", "sqs:SendMessage", allowed=True)
    assert any("PartnerFetcherFailureQueue" in call.resource for call in sends)


def test_without_a_config_for_the_qualifier_an_event_gets_two_retries_and_no_destination(
    private: Served, capsys: pytest.CaptureFixture[str]
):
    """Given the fetcher's EventInvokeConfig, which is its `live` alias's only
    When the unqualified function is invoked with Event and fails every time
    Then Lambda's default applies: three runs, no record in the alias's destination.

    Catches: the alias's configuration applied to every qualifier."""
    stack = private.stack
    stack.inject_fault("PartnerFetcherFunction", "ssm:GetParameter", "InternalServerError", count=3)
    said: list[str] = []

    def failed() -> bool:  # the line that comes once every delivery of the failure is made
        said.append(capsys.readouterr().err)
        return "failed after 3 attempt(s) (RetriesExhausted)" in "".join(said)

    private.client.invoke(FunctionName="PartnerFetcherFunction", InvocationType="Event")

    assert until(failed, timeout_s=120), "".join(said)
    assert _starts(stack, "PartnerFetcherFunction") == 3
    assert _messages(stack, "PartnerFetcherFailureQueueUrl") == []


def test_an_event_older_than_its_maximum_age_is_not_run_and_goes_to_on_failure(
    private: Served,
):
    """Catches: MaximumEventAgeInSeconds ignored (an event queued for longer still runs)."""
    stack = private.stack
    relay = stack.function("OutboxRelayFunction")
    failure_queue = private.api.catalog.async_config(
        private.api.catalog.target(relay.name, "live")
    ).on_failure
    assert failure_queue is not None
    assert private.api.invoker is not None

    private.api.invoker.submit(
        AsyncEvent(
            function=relay,
            function_arn=f"{relay.arn}:live",
            version="1",
            payload={"old": True},
            request_id="too-old",
            config=AsyncConfig(retries=0, max_age_s=60, on_failure=failure_queue),
            received=time.monotonic() - 61,
        )
    )
    records = until(lambda: _messages(stack, "OutboxRelayFailureQueueUrl"))

    assert [r["requestContext"]["condition"] for r in records] == ["EventAgeExceeded"]
    assert records[0]["requestContext"]["approximateInvokeCount"] == 0
    assert _starts(stack, "OutboxRelayFunction") == 0


# -- the response limit, with the runtime's probe function -------------------------------------


def test_a_result_over_6_mb_is_the_function_error_lambda_reports(tmp_path: Path):
    """Given a function that answers with exactly the bytes asked for
    When it answers with 6 MB and with one byte more
    Then the first comes back whole; the second is Lambda's function error
    Function.ResponseSizeTooLarge (200 with X-Amz-Function-Error), never the oversized body.

    Catches: an oversized result passed through, or reported as an HTTP error."""
    runtime = LocalRuntime(log_dir=tmp_path)
    source = FunctionSource("Big", PROBE, "app.handler", (), TIMEOUT_S)
    function = LocalFunction(source, config("Big"), add(runtime, "Big"), new_credentials())
    api = lambda_api.LambdaApi(lambda_api.Catalog(functions={"Big": function}))
    server = lambda_api.serve(api)
    client = lambda_api.client(f"http://127.0.0.1:{server.server_address[1]}", timeout_s=60)
    try:
        answers = [
            client.invoke(FunctionName=function.name, Payload=json.dumps({"size": size}).encode())
            for size in (MAX_RESPONSE_BYTES, MAX_RESPONSE_BYTES + 1)
        ]
        bodies = [answer["Payload"].read() for answer in answers]
    finally:
        server.shutdown()
        server.server_close()
        runtime.close()

    assert "FunctionError" not in answers[0]
    assert len(bodies[0]) == MAX_RESPONSE_BYTES
    assert answers[1]["StatusCode"] == 200
    assert answers[1]["FunctionError"] == "Unhandled"
    assert json.loads(bodies[1])["errorType"] == "Function.ResponseSizeTooLarge"
