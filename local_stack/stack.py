"""The whole template on one machine: resources in moto, functions in their own processes.

`LocalStack(endpoint=...).deploy()` deploys template.yaml into the local AWS endpoint (moto
in server mode, local_stack.endpoint), builds and registers every function with the local
runtime (execution environments under the Lambda Runtime Interface Emulator, each function
with its own credentials), runs the migrations as the deployed custom resource would, and
wires the service emulators: API Gateway, event source mappings, S3 notifications and
schedules. `make api`, `make demo`, `make invoke`, `make sync` and the tests all use it.
"""

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from local_stack import mysql, s3
from local_stack.apigateway import LocalApi
from local_stack.cloud import LocalCloud
from local_stack.endpoint import AwsEndpoint
from local_stack.event_sources import EventSources
from local_stack.functions import LocalFunction
from local_stack.runtime import FunctionPool, LocalRuntime, new_credentials
from local_stack.runtime.environment import Credentials, FunctionConfig
from local_stack.template import ROOT, SamTemplate, load_template

DEFAULT_STACK_NAME = "customer-platform"
DEFAULT_REGION = "us-east-1"
STATE_DIR = Path(os.environ.get("LOCAL_STATE_DIR") or ROOT / ".local")


@dataclass
class LocalStack:
    endpoint: AwsEndpoint
    stack_name: str = DEFAULT_STACK_NAME
    region: str = DEFAULT_REGION
    parameters: dict[str, str] = field(default_factory=dict)
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
    database: mysql.LocalDatabase | None = field(default=None, init=False)
    _cleanups: list[Callable[[], None]] = field(default_factory=list, init=False)
    _layers: dict[str, tuple[Path, str]] = field(default_factory=dict, init=False)

    def deploy(self) -> "LocalStack":
        try:
            self._deploy()
        except BaseException:
            self.close()
            raise
        return self

    def _deploy(self) -> None:
        self.template = load_template(parameters=self.parameters)
        self.cloud = LocalCloud(
            self.template, self.stack_name, self.region, self.endpoint.url
        ).deploy(self.parameters)
        # The stack's own database on the local MySQL server (none with an existing one).
        self.database = mysql.provision(self.cloud)
        if self.database is not None:
            self.on_close(self.database.drop)
        self.runtime = LocalRuntime(log_dir=self.log_dir, echo=self.echo)
        self.on_close(self._stop_functions)
        layers = {
            logical_id: (path, self._layer_build_method(logical_id))
            for logical_id, path in self.template.layers.items()
        }
        self._layers = layers
        self.functions = {}
        for logical_id, source in self.template.functions.items():
            config = self.cloud.function_config(logical_id)
            credentials = new_credentials()
            pool = self._pool(config)(credentials)
            self.functions[logical_id] = LocalFunction(source, config, pool, credentials)
        if mysql.MIGRATIONS_FUNCTION in self.functions:  # what the custom resource runs
            mysql.migrate(self.functions[mysql.MIGRATIONS_FUNCTION])
        self.event_sources = EventSources.from_stack(self.cloud, self.functions)
        stage = self.template.parameter_defaults().get("Stage", "v1")
        self.api = LocalApi.from_template(
            self.template, self.functions, self.parameters.get("Stage", stage)
        )
        # S3 notifications are asynchronous in AWS too; here a finished upload's reach the
        # function at the latest before the API serves its next request.
        mappings = self.event_sources.mappings
        self.api.before_request.append(lambda: s3.deliver_notifications(mappings))

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
