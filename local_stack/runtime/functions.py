"""A function of the template, as the service emulators and the tests invoke it.

Each invocation runs in one of the function's execution environments (local_stack.runtime):
its own process under the Lambda Runtime Interface Emulator, its own environment variables
and credentials, its template timeout and concurrency. A failed invocation raises
`FunctionError` with Lambda's error payload and the logs the function wrote; one past the
function's reserved concurrency raises `Throttled` (nothing ran).
"""

from typing import Any

from local_stack.runtime import FunctionPool
from local_stack.runtime.environment import Credentials, FunctionConfig
from local_stack.runtime.pool import Admission, FunctionError, Invocation, Throttled
from local_stack.template.transform import FunctionSource

__all__ = ["Admission", "FunctionError", "Invocation", "LocalFunction", "Throttled"]


class LocalFunction:
    """One function of the deployed template."""

    def __init__(
        self,
        source: FunctionSource,
        config: FunctionConfig,
        pool: FunctionPool,
        credentials: Credentials,
    ) -> None:
        self.source = source
        self.config = config
        self.name = config.name
        self.pool = pool
        self.credentials = credentials

    @property
    def logical_id(self) -> str:
        return self.source.logical_id

    @property
    def arn(self) -> str:
        role = self.config.role_arn.split(":")
        return f"arn:aws:lambda:{self.region}:{role[4]}:function:{self.name}"

    @property
    def region(self) -> str:
        return self.pool.spec.environment["AWS_REGION"]

    @property
    def environment(self) -> dict[str, str]:
        """Every variable the function's processes start with."""
        return dict(self.pool.spec.environment)

    def invoke(
        self,
        event: Any,
        *,
        quiet: bool = False,
        wait: bool = False,
        admission: Admission | None = None,
    ) -> Invocation:
        """Invoke synchronously (RequestResponse), as API Gateway and the pollers do:
        `Throttled` past the reserved concurrency, unless `wait` (an asynchronous
        invocation, which Lambda's queue holds until the function has room) or the caller
        was admitted already (`admission`, from `admit`). With `quiet`, its log reaches the
        terminal only if it fails (or is `show`n)."""
        return self.pool.invoke(event, quiet=quiet, wait=wait, admission=admission)

    def admit(self) -> Admission:
        """One invocation's place in the reserved concurrency, taken now (`Throttled` if
        there is none): what a poller does for each batch before it invokes."""
        return self.pool.admit()

    def show(self, invocation: Invocation) -> None:
        """A quiet invocation's log, on the terminal after all."""
        self.pool.show(invocation.logs)
