"""Documents over real HTTP: the presigned URLs the API hands out, used with `requests`.

Every stack is served by the local AWS endpoint (moto in server mode), exactly as `make api`
serves it, so the URLs point at a real socket.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from local_stack.assembly.stack import LocalStack
from local_stack.services.endpoint import AwsEndpoint
from local_stack.services.mysql import ServerAddress
from tests.conftest import deploy
from tests.support.documents import DocumentsClient


@pytest.fixture(scope="module")
def http_stack(stack: LocalStack) -> LocalStack:
    """The template with its defaults (900 s URLs, 10 MiB uploads)."""
    return stack


@pytest.fixture(scope="session")  # one stack of this name per session, whichever module asks
def tight_stack(
    endpoint: AwsEndpoint, mysql_server: ServerAddress, function_logs: Path
) -> Iterator[LocalStack]:
    """The template with half an hour of URL validity (the cap) and a 1 KiB upload limit."""
    deployed = deploy(
        endpoint,
        function_logs,
        "tight-documents",
        {"DocumentsUrlExpirySeconds": "1800", "DocumentsMaxUploadBytes": "1024"},
    )
    yield deployed
    deployed.close()


@pytest.fixture(scope="module")
def moto_endpoint(endpoint: AwsEndpoint) -> str:
    return endpoint.url


@pytest.fixture
def documents(http_stack: LocalStack) -> DocumentsClient:
    return DocumentsClient(http_stack.api)


@pytest.fixture
def tight(tight_stack: LocalStack) -> DocumentsClient:
    return DocumentsClient(tight_stack.api)
