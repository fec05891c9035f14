"""Session-wide fixtures: the local AWS endpoint, MySQL, and the template deployed into them.

Everything runs as `make api` runs it: moto in server mode behind one endpoint in this
process, each function in its own execution environments (local_stack.runtime). The test
process itself acts as the account's administrator; functions act with their own roles.
"""

import os

# Before anything imports boto3: never reach a real account from the test suite.
for _name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
    os.environ.pop(_name, None)
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_REGION="us-east-1",
    AWS_EC2_METADATA_DISABLED="true",
)

import re  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from local_stack.assembly.stack import LocalStack  # noqa: E402
from local_stack.iam.report import TEST_STACK_PREFIX  # noqa: E402
from local_stack.paths import STATE_DIR  # noqa: E402
from local_stack.services import mysql  # noqa: E402
from local_stack.services.endpoint import AwsEndpoint, administrator  # noqa: E402
from local_stack.template.transform import TEMPLATE  # noqa: E402

DECISIONS = STATE_DIR / "iam" / "decisions"


@pytest.fixture(scope="session")
def endpoint(worker_id: str) -> Iterator[AwsEndpoint]:
    """The local AWS endpoint for the whole session, IAM enforced; this process is its
    administrator. Tests keep apart by unique data and stack names, not fresh accounts.
    Every IAM decision is kept in .local/iam/decisions/ for `make iam-report`."""
    decisions = DECISIONS / f"pytest-{worker_id}-{os.getpid()}.jsonl"
    server = AwsEndpoint(decisions=decisions, enforce=True).start()
    with administrator(server):
        yield server
    server.stop()


@pytest.fixture(scope="session")
def aws(endpoint: AwsEndpoint) -> AwsEndpoint:
    """boto3 clients made in a test reach the local endpoint as the administrator."""
    return endpoint


@pytest.fixture(scope="session")
def mysql_server() -> Iterator[mysql.ServerAddress]:
    """MYSQL_HOST/PORT/USER/PASSWORD, else a throwaway mariadbd stopped after the session;
    no server at all fails (naming the package to install), it never skips."""
    yield mysql.server()
    mysql.stop_server()


@pytest.fixture(scope="session")
def function_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("function-logs")


def deploy(
    endpoint: AwsEndpoint,
    logs: Path,
    name: str = "customer-platform",
    parameters: dict[str, str] | None = None,
    template: Path = TEMPLATE,
) -> LocalStack:
    return LocalStack(
        endpoint=endpoint,
        stack_name=name,
        parameters=parameters or {},
        template_path=template,
        log_dir=logs / name,
    ).deploy()


@pytest.fixture(scope="session")
def stack(
    endpoint: AwsEndpoint, mysql_server: mysql.ServerAddress, function_logs: Path
) -> Iterator[LocalStack]:
    """template.yaml deployed with its defaults; functions in their own environments."""
    deployed = deploy(endpoint, function_logs)
    yield deployed
    deployed.close()


@pytest.fixture
def fresh_stack(
    endpoint: AwsEndpoint,
    mysql_server: mysql.ServerAddress,
    function_logs: Path,
    request: pytest.FixtureRequest,
) -> Iterator[LocalStack]:
    """A second, private copy of the stack for tests that break things on purpose."""
    readable = re.sub(r"[^a-zA-Z0-9]+", "-", request.node.name)[:24].strip("-")
    # the prefix tells `make iam-report` that this stack's denials are meant
    deployed = deploy(
        endpoint, function_logs, f"{TEST_STACK_PREFIX}{readable}-{uuid.uuid4().hex[:8]}"
    )
    yield deployed
    deployed.close()
