"""The whole template on one machine: resources in moto, functions in their own processes.

`LocalStack(endpoint=...).deploy()` deploys template.yaml into the local AWS endpoint (moto
in server mode, local_stack.services.endpoint), builds and registers every function with the local
runtime (execution environments under the Lambda Runtime Interface Emulator, each function
with its own credentials), runs the migrations as the deployed custom resource would, and
wires the service emulators: API Gateway, event source mappings, S3 notifications and
schedules. `make api`, `make demo`, `make invoke`, `make sync` and the tests all use it.
"""

import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from local_stack.assembly.cloud import LocalCloud
from local_stack.iam import Deliveries, MotoFacts, load_effective_policies
from local_stack.iam.effective import EffectivePolicies
from local_stack.iam.gate import Fault
from local_stack.iam.records import DecisionRecord
from local_stack.paths import STATE_DIR
from local_stack.runtime import FunctionPool, LocalRuntime
from local_stack.runtime.environment import Credentials, FunctionConfig
from local_stack.runtime.functions import LocalFunction
from local_stack.services import authorizer, data_api, mysql, s3, sns
from local_stack.services.apigateway import LocalApi
from local_stack.services.endpoint import ACCOUNT, AwsEndpoint
from local_stack.services.event_sources import EventSources
from local_stack.template.transform import TEMPLATE, SamTemplate, load_template

DEFAULT_STACK_NAME = "customer-platform"
DATABASE_CA_BUNDLE = "customer_platform/certs/database-ca-bundle.pem"
DEFAULT_REGION = "us-east-1"
# Parameters the local stack deploys with unless told otherwise: the optional Aurora backend
# is off by default in AWS (it adds a cluster; docs/customers-aurora.md) and costs nothing
# here, so `make api`, `make demo` and the tests serve /aurora/customers too.
LOCAL_PARAMETERS = {"EnableAuroraBackend": "true"}


@dataclass
class LocalStack:
    endpoint: AwsEndpoint
    stack_name: str = DEFAULT_STACK_NAME
    region: str = DEFAULT_REGION
    parameters: dict[str, str] = field(default_factory=dict)
    template_path: Path = TEMPLATE  # tests deploy changed copies of template.yaml
    log_dir: Path = STATE_DIR / "logs"
    echo: TextIO | None = None  # where function logs are shown as they are written
    # The AWS endpoint as the functions reach it (default: the endpoint itself); e.g. a
    # TcpProxy in front of it, to put a network distance between functions and AWS.
    function_endpoint_url: str | None = None
    template: SamTemplate = field(init=False)
    cloud: LocalCloud = field(init=False)
    runtime: LocalRuntime = field(init=False)
    functions: dict[str, LocalFunction] = field(init=False)
    api: LocalApi = field(init=False)
    event_sources: EventSources = field(init=False)
    policies: EffectivePolicies = field(init=False)
    deliveries: Deliveries = field(init=False)
    database: mysql.LocalDatabase | None = field(default=None, init=False)
    aurora: data_api.LocalAurora | None = field(default=None, init=False)
    _cleanups: list[Callable[[], None]] = field(default_factory=list, init=False)
    _layers: dict[str, tuple[Path, str]] = field(default_factory=dict, init=False)
    _issued: list[str] = field(default_factory=list, init=False)  # the functions' access keys

    def deploy(self) -> "LocalStack":
        try:
            self._deploy()
        except BaseException:
            self.close()
            raise
        return self

    def _deploy(self) -> None:
        self.parameters = LOCAL_PARAMETERS | self.parameters
        self.template = load_template(self.template_path, parameters=self.parameters)
        self.cloud = LocalCloud(
            self.template, self.stack_name, self.region, self.endpoint.url
        ).deploy(self.parameters)
        # Who may do what: every role, function and resource policy of the template. The
        # endpoint's IAM check authorizes each call against them; the service emulators ask
        # `deliveries` before acting as a service would.
        self.policies = load_effective_policies(self.template.transformed, self.cloud.resolve)
        self.deliveries = Deliveries(
            self.policies, MotoFacts(ACCOUNT, self.region), self.endpoint.log
        )
        self.endpoint.attach(self.stack_name, self.policies, self._denied)
        self.on_close(lambda: self.endpoint.detach(self.stack_name, self._denied))
        # after the functions and their pollers have stopped (cleanups run last first)
        self.on_close(self._revoke_credentials)
        sns.register(self.cloud, self.deliveries)
        self.on_close(lambda: sns.unregister(self.cloud))
        # The stack's own database on the local MySQL server (none with an existing one).
        self.database = mysql.provision(self.cloud)
        if self.database is not None:
            self.on_close(self.database.drop)
        # The Aurora clusters (databases on the same server, behind the local Data API).
        self.aurora = data_api.provision(self.cloud)
        self.on_close(self.aurora.close)
        # The functions verify MySQL's certificate against the layer's CA bundle; locally the
        # bundle also holds the local server's CA (local_stack.network.tls).
        ca = mysql.server().ca_pem
        self.runtime = LocalRuntime(
            log_dir=self.log_dir, echo=self.echo, trust=(DATABASE_CA_BUNDLE, ca) if ca else None
        )
        self.on_close(self._stop_functions)
        layers = {
            logical_id: (path, self._layer_build_method(logical_id))
            for logical_id, path in self.template.layers.items()
        }
        self._layers = layers
        self.functions = {}
        for logical_id, source in self.template.functions.items():
            if not self.cloud.deployed(logical_id):
                continue  # its Condition is false
            config = self.cloud.function_config(logical_id)
            credentials = self._credentials(logical_id)
            pool = self._pool(config)(credentials)
            self.functions[logical_id] = LocalFunction(source, config, pool, credentials)
        if mysql.MIGRATIONS_FUNCTION in self.functions:  # what the custom resource runs
            mysql.migrate(self.functions[mysql.MIGRATIONS_FUNCTION])
        if data_api.MIGRATIONS_FUNCTION in self.functions:  # Aurora's, over the Data API
            mysql.migrate(self.functions[data_api.MIGRATIONS_FUNCTION])
        self.event_sources = EventSources.from_stack(self.cloud, self.functions, self.deliveries)
        stage = self.template.parameter_defaults().get("Stage", "v1")
        self.api = LocalApi.from_template(
            self.template,
            self.functions,
            self.parameters.get("Stage", stage),
            self.deliveries,
            self.cloud.resolve,
        )
        # S3 notifications are asynchronous in AWS too. Under `make api` their own poller
        # delivers them, as it does queue batches, so no route ever waits for the
        # notification function. Where nothing polls (tests that drain the event sources
        # themselves), a finished upload's notification reaches the function at the latest
        # before the API serves its next request, so a listing right after it is exact.
        sources = self.event_sources
        self.api.before_request.append(
            lambda: 0 if sources.polling else s3.deliver_notifications(sources.mappings)
        )
        authorizer.install(self)  # only with an explicit ApiAuth=COGNITO: the API is open otherwise

    def _credentials(self, logical_id: str) -> Credentials:
        """Temporary credentials of the function's role, known to the endpoint's IAM check
        (and forgotten when the stack closes)."""
        issued = self.endpoint.registry.issue(self.policies.functions[logical_id].principal())
        self._issued.append(issued.access_key_id)
        return Credentials(issued.access_key_id, issued.secret_access_key, issued.session_token)

    def _revoke_credentials(self) -> None:
        for key in self._issued:
            self.endpoint.registry.revoke(key)

    def _denied(self, record: DecisionRecord) -> None:
        """A denied call of one of this stack's functions goes into that function's log."""
        for logical_id, identity in self.policies.functions.items():
            if record.principal == identity.principal().arn and hasattr(self, "runtime"):
                self.runtime.logs.line(logical_id, f"[local IAM check] {record.message}")

    def calls(
        self, logical_id: str, action: str | None = None, *, allowed: bool | None = None
    ) -> list[DecisionRecord]:
        """The AWS calls (IAM decisions) this stack's function made so far, as the
        endpoint recorded them: what tests count instead of reaching into the function."""
        principal = self.policies.functions[logical_id].principal().arn
        return [
            record
            for record in self.endpoint.log.records
            if record.principal == principal
            and (action is None or record.action.lower() == action.lower())
            and (allowed is None or record.allowed == allowed)
        ]

    def inject_fault(
        self, logical_id: str, action: str, code: str, *, status: int = 500, count: int = 1
    ) -> Fault:
        """The next `count` calls of `action` (an IAM action or an API operation, e.g.
        "sns:Publish") by this stack's function fail at the endpoint with the AWS error
        `code`, as the service would answer it: a fault at the AWS boundary. Setting the
        returned fault's `remaining` to 0 ends it."""
        principal = self.policies.functions[logical_id].principal().arn
        return self.endpoint.gate.inject_fault(principal, action, code, status=status, count=count)

    def stall(self, logical_id: str, action: str, *, count: int = 1) -> Fault:
        """The next `count` calls of `action` by this stack's function wait at the endpoint
        until the returned fault's `hold` is set, then go through: a service answering late.
        `held` counts the calls waiting or done waiting."""
        principal = self.policies.functions[logical_id].principal().arn
        hold = threading.Event()
        return self.endpoint.gate.inject_fault(principal, action, "", count=count, hold=hold)

    def _pool(self, config: FunctionConfig) -> Callable[[Credentials], FunctionPool]:
        def make(credentials: Credentials) -> FunctionPool:
            return self.runtime.add(
                config,
                code_dir=self.template.functions[config.logical_id].code_dir,
                layers=self._layers,
                region=self.region,
                credentials=credentials,
                endpoint_url=self.function_endpoint_url or self.endpoint.url,
            )

        return make

    def update_function_configuration(self, logical_id: str, **variables: str) -> LocalFunction:
        """Lambda's UpdateFunctionConfiguration for environment variables: the template's
        variables with the given ones changed. Running environments are retired and the
        next invocation starts a new one with the new configuration. Tests use it to start
        a function with a configuration the template would not deploy."""
        function = self.functions[logical_id]
        deployed = self.cloud.function_config(logical_id)
        config = dataclasses.replace(deployed, variables=deployed.variables | variables)
        old = function.pool
        function.config = config
        function.pool = self._pool(config)(function.credentials)
        old.close()
        return function

    def _layer_build_method(self, logical_id: str) -> str:
        resource = self.template.source["Resources"][logical_id]
        return str(resource.get("Metadata", {}).get("BuildMethod", ""))

    def on_close(self, cleanup: Callable[[], None]) -> None:
        """Run `cleanup` when the stack closes (servers or workers that deploy() started)."""
        self._cleanups.append(cleanup)

    def _stop_functions(self) -> None:
        """Pollers first told to stop, then every execution environment stopped (which ends
        any invocation in flight), then the pollers joined."""
        sources: EventSources | None = getattr(self, "event_sources", None)
        if sources is not None:
            sources.request_stop()
        self.runtime.close()
        if sources is not None:
            sources.stop()

    def close(self) -> None:
        while self._cleanups:
            self._cleanups.pop()()

    def function(self, logical_id: str) -> LocalFunction:
        return self.functions[logical_id]

    def outputs(self, api_url: str | None = None) -> dict[str, Any]:
        outputs = self.cloud.outputs()
        if api_url is not None:
            outputs["ApiUrl"] = api_url
        return outputs
