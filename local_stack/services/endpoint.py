"""The local AWS endpoint: moto in server mode on 127.0.0.1, behind the IAM check.

Every AWS call of the local stack goes through this one HTTP endpoint: the functions' (from
their own processes, each with its own role's credentials), the service emulators' (with
the role AWS would use) and the tools' and tests' (as the account's administrator). In
front of moto sits `local_stack.iam.Gate`: it authorizes each call against the caller's
effective policy and the resource's policy, as AWS would, answers a denial as the service
answers it, and records every decision (`make iam-report` reads them). moto runs in this
process, so its backends stay inspectable by the stack (CloudFormation's resource map, S3
notifications, SNS deliveries).
"""

import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from threading import Thread
from typing import Any

import boto3
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import ThreadedWSGIServer

from local_stack.iam import ActionMapper, CredentialRegistry, DecisionLog, Gate, MotoFacts
from local_stack.iam.effective import EffectivePolicies, ResourcePolicies, merged
from local_stack.iam.policy import Policy
from local_stack.iam.records import DecisionRecord
from local_stack.network.sockets import LISTEN_BACKLOG
from local_stack.services.data_api import DataApiService
from local_stack.services.dynamodb import SerialisedDynamoDB

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Any]

# The account's administrator: the local tools, the tests and the stack's own deployment.
# moto accepts any credentials; these are fixed so that the IAM check can tell the
# administrator (unchecked, like the deploying principal) from a function (checked).
ADMIN_ACCESS_KEY_ID = "AKIAIOSFODNN7LOCALAD"
ADMIN_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": ADMIN_ACCESS_KEY_ID,
    "AWS_SECRET_ACCESS_KEY": "local-administrator-not-a-secret",
}
REGION = "us-east-1"
ACCOUNT = DEFAULT_ACCOUNT_ID
# LOCAL_IAM=off: decide and record, but let denied calls through (for experiments only).
IAM_SWITCH = "LOCAL_IAM"


def iam_enforced() -> bool:
    return os.environ.get(IAM_SWITCH, "on").lower() not in ("off", "0", "false", "no")


def iam_opt_out_warning() -> str:
    return (
        f"WARNING: {IAM_SWITCH}=off: IAM is NOT enforced. Every call a function makes is "
        "checked and recorded, but denied calls go through: local green no longer means "
        "the deployed roles allow it."
    )


class _EndpointServer(ThreadedWSGIServer):
    """werkzeug's threaded server (what `make_server(threaded=True)` builds), listening
    with the stack's backlog rather than whatever werkzeug's default is."""

    request_queue_size = LISTEN_BACKLOG


class AwsEndpoint:
    """moto's server app behind the IAM gate, on a free 127.0.0.1 port."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        decisions: Path | None = None,
        enforce: bool | None = None,
        gate: Callable[[WsgiApp], Gate] | None = None,
        middleware: Callable[[WsgiApp], WsgiApp] | None = None,
    ) -> None:
        """`gate`, for tests of the gate itself: builds the gate in front of moto's app
        instead of the stack's (which checks every function against its template role).
        `middleware` wraps moto (and the Data API) behind the gate: it sees the calls the
        gate let through (the benchmark counts them there)."""
        # moto's DynamoDB cannot take concurrent calls; every other service stays concurrent
        # (local_stack/services/dynamodb.py says why, and why one lock for the service).
        moto: WsgiApp = SerialisedDynamoDB(DomainDispatcherApplication(create_backend_app))
        # The RDS Data API over the local MySQL (local_stack.services.data_api); moto's own rds-data
        # only returns canned results.
        moto = DataApiService(moto, account=ACCOUNT, region=REGION)
        if middleware is not None:
            moto = middleware(moto)
        self.registry = CredentialRegistry()  # it verifies presigned S3 requests with:
        self.registry.know_secret(ADMIN_ACCESS_KEY_ID, ADMIN_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
        self.log = DecisionLog(decisions)
        self.enforce = iam_enforced() if enforce is None else enforce
        self.gate = (
            gate(moto)
            if gate is not None
            else Gate(
                moto,
                registry=self.registry,
                admin_keys={ADMIN_ACCESS_KEY_ID},
                mapper=ActionMapper(MotoFacts(ACCOUNT, REGION), region=REGION, account=ACCOUNT),
                resources=ResourcePolicies(account=ACCOUNT, partition="aws"),
                log=self.log,
                on_denial=self._denied,
                enforce=self.enforce,
            )
        )
        self._stacks: dict[str, ResourcePolicies] = {}
        self._roles: dict[str, tuple[Policy, ...]] = {}  # role ARN -> identity policies
        self.gate.role_policies = self._roles.get
        self._listeners: list[Callable[[DecisionRecord], None]] = []
        self._lock = threading.Lock()
        self._server = _EndpointServer(host, port, self.gate, handler=MotoRequestHandler)
        self._thread = Thread(target=self._server.serve_forever, name="aws-endpoint", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> "AwsEndpoint":
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
        if not self.enforce:
            print(iam_opt_out_warning(), file=sys.stderr, flush=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    # -- the stacks it serves -------------------------------------------------------------

    def attach(
        self,
        stack_name: str,
        policies: EffectivePolicies,
        on_denial: Callable[[DecisionRecord], None],
    ) -> None:
        """Authorize against this stack's resource policies, and tell it of its denials."""
        with self._lock:
            self._stacks[stack_name] = policies.resources
            self._roles |= {role.arn: role.policies for role in policies.roles.values()}
            self._listeners.append(on_denial)
            self.gate.resources = merged(ACCOUNT, "aws", self._stacks.values())

    def detach(self, stack_name: str, on_denial: Callable[[DecisionRecord], None]) -> None:
        with self._lock:
            self._stacks.pop(stack_name, None)
            if on_denial in self._listeners:
                self._listeners.remove(on_denial)
            self.gate.resources = merged(ACCOUNT, "aws", self._stacks.values())

    def _denied(self, record: DecisionRecord) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(record)


@contextmanager
def administrator(endpoint: AwsEndpoint) -> Iterator[None]:
    """This process's boto3 clients act as the account's administrator on `endpoint`.

    boto3's default session resolves credentials once and keeps them: a client made before
    this (say, a unit test's with the suite's dummy key) would leave every later
    `boto3.client(...)` on that key, which the endpoint refuses as unknown. So the default
    session starts afresh on the way in and on the way out."""
    names = [*ADMIN_CREDENTIALS, "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_REGION"]
    names += ["AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE"]
    saved = {name: os.environ.get(name) for name in names}
    for name in ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE"):
        os.environ.pop(name, None)
    os.environ.update(ADMIN_CREDENTIALS)
    os.environ.update(AWS_ENDPOINT_URL=endpoint.url, AWS_DEFAULT_REGION=REGION, AWS_REGION=REGION)
    boto3.DEFAULT_SESSION = None
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        boto3.DEFAULT_SESSION = None
