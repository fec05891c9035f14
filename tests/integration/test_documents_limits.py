"""URL expiry and upload size: template parameters, checked again by each function at cold
start, so a bad value fails loudly and names its variable instead of signing bad URLs."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from local_stack.endpoint import AwsEndpoint
from local_stack.functions import FunctionError, LocalFunction
from local_stack.mysql import ServerAddress
from local_stack.stack import LocalStack
from tests.conftest import deploy

EVENTS = Path(__file__).resolve().parents[2] / "events"
FUNCTIONS = {
    "DocumentsFunction": EVENTS / "documents" / "get-not-found.json",
    "DocumentUploadedFunction": EVENTS / "document_uploaded" / "object-created-orphan.json",
}


@pytest.fixture(scope="module")
def private(
    endpoint: AwsEndpoint, mysql_server: ServerAddress, function_logs: Path
) -> Iterator[LocalStack]:
    """A stack of its own: these tests reconfigure its functions."""
    deployed = deploy(endpoint, function_logs, "documents-limits")
    yield deployed
    deployed.close()


def cold_start(stack: LocalStack, logical_id: str, **variables: str) -> LocalFunction:
    """The function reconfigured with some variables changed: its next call starts cold."""
    return stack.update_function_configuration(logical_id, **variables)


def test_the_template_refuses_an_expiry_sigv4_cannot_sign(stack: LocalStack):
    parameter = stack.template.source["Parameters"]["DocumentsUrlExpirySeconds"]

    assert (parameter["MinValue"], parameter["MaxValue"], parameter["Default"]) == (1, 604800, 900)


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
@pytest.mark.parametrize("seconds", ["604801", "0", "seven days"])
def test_a_function_refuses_to_start_with_an_impossible_expiry(
    private: LocalStack, logical_id: str, seconds: str
):
    function = cold_start(private, logical_id, DOCUMENTS_URL_EXPIRY_SECONDS=seconds)
    event = json.loads(FUNCTIONS[logical_id].read_text())

    with pytest.raises(FunctionError, match="DOCUMENTS_URL_EXPIRY_SECONDS"):
        function.invoke(event)


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_a_function_refuses_to_start_without_an_upload_limit(private: LocalStack, logical_id: str):
    function = cold_start(private, logical_id, DOCUMENTS_MAX_UPLOAD_BYTES="0")
    event = json.loads(FUNCTIONS[logical_id].read_text())

    with pytest.raises(FunctionError, match="DOCUMENTS_MAX_UPLOAD_BYTES"):
        function.invoke(event)


def test_the_longest_expiry_starts_and_signs_for_seven_days(private: LocalStack):
    function = cold_start(private, "DocumentsFunction", DOCUMENTS_URL_EXPIRY_SECONDS="604800")
    event = json.loads((EVENTS / "documents" / "create.json").read_text())

    response = function.invoke(event).result

    assert response["statusCode"] == 201, response["body"]
    assert json.loads(response["body"])["expiresIn"] == 604800
