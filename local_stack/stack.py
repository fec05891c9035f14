"""The whole template on one machine: resources in moto, functions and API in process.

The caller decides where moto runs: inside `moto.mock_aws()` (tests) or behind a
`ThreadedMotoServer` (the local API and the demo); everything else is the same.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from local_stack import authorizer, mysql, s3
from local_stack.apigateway import LocalApi
from local_stack.cloud import LocalCloud
from local_stack.event_sources import EventSources
from local_stack.functions import LocalFunction
from local_stack.template import SamTemplate, load_template

DEFAULT_STACK_NAME = "customer-platform"
DEFAULT_REGION = "us-east-1"


@dataclass
class LocalStack:
    stack_name: str = DEFAULT_STACK_NAME
    region: str = DEFAULT_REGION
    parameters: dict[str, str] = field(default_factory=dict)
    template: SamTemplate = field(init=False)
    cloud: LocalCloud = field(init=False)
    functions: dict[str, LocalFunction] = field(init=False)
    api: LocalApi = field(init=False)
    event_sources: EventSources = field(init=False)
    database: mysql.LocalDatabase | None = field(default=None, init=False)
    _cleanups: list[Callable[[], None]] = field(default_factory=list, init=False)

    def deploy(self) -> "LocalStack":
        self.template = load_template(parameters=self.parameters)
        self.cloud = LocalCloud(self.template, self.stack_name, self.region).deploy(self.parameters)
        # The stack's own database on the local MySQL server (none with an existing one).
        self.database = mysql.provision(self.cloud)
        if self.database is not None:
            self.on_close(self.database.drop)
        self.functions = {
            logical_id: LocalFunction(
                source,
                layer_paths=[self.template.layers[layer] for layer in source.layer_ids],
                environment=self.cloud.function_environment(logical_id)
                | {"AWS_DEFAULT_REGION": self.region, "AWS_REGION": self.region},
                name=self.cloud.physical_id(logical_id),
            )
            for logical_id, source in self.template.functions.items()
        }
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
        authorizer.install(self)  # only with an explicit ApiAuth=COGNITO: the API is open otherwise
        return self

    def on_close(self, cleanup: Callable[[], None]) -> None:
        """Run `cleanup` when the stack closes (servers or workers that deploy() started)."""
        self._cleanups.append(cleanup)

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
