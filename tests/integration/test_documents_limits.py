"""URL expiry and upload size: template parameters, checked again by each function at cold
start, so a bad value fails loudly and names its variable instead of signing bad URLs."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from customer_platform.documents.signing import (
    CLOCK_MARGIN_SECONDS,
    MAX_URL_EXPIRY_SECONDS,
    SESSION_SECONDS,
)
from local_stack.assembly.stack import LocalStack
from local_stack.runtime.functions import FunctionError, LocalFunction
from local_stack.services.endpoint import AwsEndpoint
from local_stack.services.mysql import ServerAddress
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


def test_the_template_refuses_an_expiry_the_signing_session_cannot_cover(stack: LocalStack):
    parameter = stack.template.source["Parameters"]["DocumentsUrlExpirySeconds"]

    assert (parameter["MinValue"], parameter["MaxValue"], parameter["Default"]) == (
        1,
        MAX_URL_EXPIRY_SECONDS,
        900,
    )
    assert MAX_URL_EXPIRY_SECONDS + CLOCK_MARGIN_SECONDS < SESSION_SECONDS


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
@pytest.mark.parametrize("seconds", [str(MAX_URL_EXPIRY_SECONDS + 1), "604800", "0", "a week"])
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


def test_the_longest_expiry_starts_and_signs_for_all_of_it(private: LocalStack):
    longest = str(MAX_URL_EXPIRY_SECONDS)
    function = cold_start(private, "DocumentsFunction", DOCUMENTS_URL_EXPIRY_SECONDS=longest)
    event = json.loads((EVENTS / "documents" / "create.json").read_text())

    response = function.invoke(event).result

    assert response["statusCode"] == 201, response["body"]
    assert json.loads(response["body"])["expiresIn"] == MAX_URL_EXPIRY_SECONDS


# -- who signs: the URL signer's session, whose expiry the function knows ------------------


def signer_of(access_key_id: str) -> str:
    """The role whose AssumeRole session holds `access_key_id`, as STS (moto) recorded it."""
    from moto.backends import get_backend  # noqa: PLC0415 - moto's view of STS

    for account in get_backend("sts").values():
        for partition in account.values():
            assumed = partition.get_assumed_role_from_access_key(access_key_id)
            if assumed is not None:
                role: str = assumed.role_arn
                return role
    raise AssertionError(f"{access_key_id} is no AssumeRole session")


def test_urls_are_signed_by_a_url_signer_session_not_the_functions_own_credentials(
    stack: LocalStack,
):
    """Mutation caught: storage built without the SessionSigner (URLs signed with the
    function's own credentials, whose expiry Lambda does not say)."""
    signer = stack.cloud.resolve({"Fn::GetAtt": ["DocumentsUrlSignerRole", "Arn"]})
    event = json.loads((EVENTS / "documents" / "create.json").read_text())

    response = stack.function("DocumentsFunction").invoke(event).result
    slot = json.loads(response["body"])

    fields = slot["upload"]["fields"]
    assert "x-amz-security-token" in fields, "temporary credentials, a session's"
    assert signer_of(fields["x-amz-credential"].split("/")[0]) == signer
    assert slot["expiresIn"] == 900
