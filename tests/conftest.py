"""Session-wide fixtures: fake AWS credentials, moto, and the template deployed into it."""

import os
import re
import uuid

# Before anything imports boto3: never reach a real account from the test suite.
for _name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
    os.environ.pop(_name, None)
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_REGION="us-east-1",
)

from collections.abc import Iterator  # noqa: E402

import pytest  # noqa: E402
from moto import mock_aws  # noqa: E402

from local_stack import mysql  # noqa: E402
from local_stack.stack import LocalStack  # noqa: E402


@pytest.fixture(scope="session")
def aws() -> Iterator[None]:
    """moto for the whole session; tests keep apart by unique data, not fresh accounts."""
    with mock_aws():
        yield


@pytest.fixture(scope="session")
def mysql_server() -> Iterator[mysql.ServerAddress]:
    """MYSQL_HOST/PORT/USER/PASSWORD, else a throwaway mariadbd stopped after the session;
    no server at all fails (naming the package to install), it never skips."""
    yield mysql.server()
    mysql.stop_server()


@pytest.fixture(scope="session")
def stack(aws: None, mysql_server: mysql.ServerAddress) -> Iterator[LocalStack]:
    """template.yaml deployed into moto, with its functions and API in process."""
    deployed = LocalStack().deploy()
    yield deployed
    deployed.close()


@pytest.fixture
def fresh_stack(
    aws: None, mysql_server: mysql.ServerAddress, request: pytest.FixtureRequest
) -> Iterator[LocalStack]:
    """A second, private copy of the stack for tests that break things on purpose."""
    readable = re.sub(r"[^a-zA-Z0-9]+", "-", request.node.name)[:24].strip("-")
    name = f"t-{readable}-{uuid.uuid4().hex[:8]}"
    deployed = LocalStack(stack_name=name).deploy()
    yield deployed
    deployed.close()
