"""The MySQL connection budget: what the stack's VPC functions may open, per environment.

    python -m tools.connection_budget                       # the samconfig.toml environments
    python -m tools.connection_budget --set DatabaseInstanceClass=db.t4g.small \\
        --set CustomersRdsMaxConcurrency=60                 # what-if

Every function in the VPC holds at most one connection per execution environment, so its
reserved concurrency is its most connections; the custom resource runs once per deploy and
each rotation schedule's hosted function (when on: one for the master's secret, one for the
application's) one step at a time. Add a few for people (a SQL client in an
incident) and compare with the instance's ceiling: RDS's default parameter group sets
`max_connections` to `{DBInstanceClassMemory/12582880}` (docs/customers-backends.md has the
source), and DBInstanceClassMemory is the class's memory less what the OS and RDS keep, so
memory / 12,582,880 is an upper bound. The stack may use half of it: the other half is for
connections MySQL keeps after Lambda reaps an execution environment (until `wait_timeout`)
and for the memory the bound leaves out. Exit status 1 when an environment does not fit.

With RDS Proxy (`EnableDatabaseProxy=true`) the functions that connect through it
(DATABASE_PROXY_ENDPOINT) hold connections to the proxy, not to MySQL: the database sees
the proxy's pool instead, at most MaxConnectionsPercent of `max_connections`, and the
proxy closes what it no longer needs, so no half is kept for lingering connections. What
must fit then is the pool plus everything else, within the ceiling itself.
"""

import argparse
import shlex
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_stack.paths import ROOT
from local_stack.template.transform import load_yaml

BYTES_PER_CONNECTION = 12_582_880  # the divisor of RDS MySQL's default max_connections
GIB = 1024**3
# Memory of the instance classes this stack is sized for (RDS DB instance classes, AWS docs).
INSTANCE_MEMORY_GIB = {
    "db.t4g.micro": 1,
    "db.t4g.small": 2,
    "db.t4g.medium": 4,
    "db.t4g.large": 8,
    "db.t4g.xlarge": 16,
    "db.t4g.2xlarge": 32,
    "db.t3.micro": 1,
    "db.t3.small": 2,
    "db.t3.medium": 4,
    "db.t3.large": 8,
    "db.m6g.large": 8,
    "db.m6g.xlarge": 16,
    "db.m7g.large": 8,
    "db.m7g.xlarge": 16,
    "db.r6g.large": 16,
    "db.r6g.xlarge": 32,
    "db.r7g.large": 16,
    "db.r7g.xlarge": 32,
}
# VPC functions without reserved concurrency whose connections are bounded another way.
BOUNDED_OTHERWISE = {"DatabaseMigrationsFunction": (1, "custom resource, once per deploy")}
PEOPLE = (5, "people: a SQL client, a migration by hand")
SHARE = 2  # the stack may use 1/SHARE of the ceiling


@dataclass(frozen=True)
class Line:
    who: str
    connections: int | None  # None: uncapped
    why: str


@dataclass(frozen=True)
class Budget:
    environment: str
    instance_class: str
    ceiling: int
    lines: list[Line]
    proxied: bool = False  # RDS Proxy in front: the pool replaces the proxied functions

    @property
    def allowed(self) -> int:
        return self.ceiling if self.proxied else self.ceiling // SHARE

    @property
    def demand(self) -> int | None:
        if any(line.connections is None for line in self.lines):
            return None
        return sum(line.connections or 0 for line in self.lines)

    @property
    def fits(self) -> bool:
        return self.demand is not None and self.demand <= self.allowed


def samconfig_parameters(path: Path = ROOT / "samconfig.toml") -> dict[str, dict[str, str]]:
    """Each samconfig environment's parameter_overrides."""
    config = tomllib.loads(path.read_text())
    environments: dict[str, dict[str, str]] = {}
    for name, commands in config.items():
        if not isinstance(commands, dict) or "deploy" not in commands:
            continue
        overrides = commands["deploy"].get("parameters", {}).get("parameter_overrides", "")
        pairs = (item.split("=", 1) for item in shlex.split(overrides))
        environments[name] = {key: value for key, value in pairs}
    return environments


def _resolve(node: Any, parameters: Mapping[str, str], conditions: Mapping[str, Any]) -> Any:
    """The few intrinsics ReservedConcurrentExecutions and its conditions use."""
    if not isinstance(node, dict) or len(node) != 1:
        return node
    ((name, value),) = node.items()

    def resolve(inner: Any) -> Any:
        return _resolve(inner, parameters, conditions)

    def if_(condition: str, then: Any, otherwise: Any) -> Any:
        return resolve(then if resolve(conditions[condition]) else otherwise)

    intrinsics: dict[str, Any] = {
        "Ref": lambda: None if value == "AWS::NoValue" else parameters[value],
        "Condition": lambda: resolve(conditions[value]),
        "Fn::If": lambda: if_(*value),
        "Fn::Equals": lambda: str(resolve(value[0])) == str(resolve(value[1])),
        "Fn::Not": lambda: not resolve(value[0]),
        "Fn::And": lambda: all(resolve(v) for v in value),
        "Fn::Or": lambda: any(resolve(v) for v in value),
    }
    if name not in intrinsics:
        raise ValueError(f"connection budget: cannot resolve {name}")
    return intrinsics[name]()


def vpc_functions(template: Mapping[str, Any]) -> dict[str, Any]:
    """Logical id -> ReservedConcurrentExecutions (as written) of every function in the VPC."""
    return {
        logical_id: resource["Properties"].get("ReservedConcurrentExecutions")
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function" and "VpcConfig" in resource["Properties"]
    }


def proxied_functions(template: Mapping[str, Any]) -> set[str]:
    """The functions that connect through RDS Proxy when it is on."""
    return {
        logical_id
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
        and "DATABASE_PROXY_ENDPOINT"
        in resource["Properties"].get("Environment", {}).get("Variables", {})
    }


def rotation_schedules(template: Mapping[str, Any]) -> dict[str, tuple[str | None, str]]:
    """Logical id -> (condition, rotation type) of every schedule with a hosted rotation
    function: each is a function that connects to the database while it rotates."""
    return {
        logical_id: (
            resource.get("Condition"),
            resource["Properties"]["HostedRotationLambda"]["RotationType"],
        )
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::SecretsManager::RotationSchedule"
        and "HostedRotationLambda" in resource["Properties"]
    }


def proxy_pool_percent(template: Mapping[str, Any]) -> int:
    """MaxConnectionsPercent of the proxy's target group."""
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::RDS::DBProxyTargetGroup":
            pool = resource["Properties"]["ConnectionPoolConfigurationInfo"]
            return int(pool["MaxConnectionsPercent"])
    raise ValueError("connection budget: the template has no RDS Proxy target group")


def budget(
    environment: str,
    overrides: Mapping[str, str],
    template: Mapping[str, Any] | None = None,
    memory_gib: float | None = None,
) -> Budget:
    source = template if template is not None else load_yaml()
    parameters = {
        name: str(spec["Default"])
        for name, spec in source["Parameters"].items()
        if "Default" in spec
    } | dict(overrides)
    conditions = source.get("Conditions", {})
    lines: list[Line] = []
    proxied = bool(_resolve({"Condition": "UseDatabaseProxy"}, parameters, conditions))
    through_proxy = proxied_functions(source) if proxied else set()
    for logical_id, reserved in vpc_functions(source).items():
        if logical_id in through_proxy:
            continue  # its connections are to the proxy; the pool line below counts them
        value = _resolve(reserved, parameters, conditions)
        if value is not None:
            lines.append(Line(logical_id, int(value), "reserved concurrency"))
        elif logical_id in BOUNDED_OTHERWISE:
            count, why = BOUNDED_OTHERWISE[logical_id]
            lines.append(Line(logical_id, count, why))
        else:
            lines.append(Line(logical_id, None, "no reserved concurrency: unbounded"))
    for logical_id, (condition, rotation) in rotation_schedules(source).items():
        if condition is None or _resolve({"Condition": condition}, parameters, conditions):
            why = f"hosted rotation function ({rotation}), one step at a time"
            lines.append(Line(logical_id, 1, why))
    lines.append(Line("operators", *PEOPLE))
    instance_class = parameters["DatabaseInstanceClass"]
    if memory_gib is None:
        if instance_class not in INSTANCE_MEMORY_GIB:
            raise SystemExit(f"{instance_class}: unknown memory; pass --memory-gib")
        memory_gib = INSTANCE_MEMORY_GIB[instance_class]
    ceiling = int(memory_gib * GIB) // BYTES_PER_CONNECTION
    if proxied:
        percent = proxy_pool_percent(source)
        names = ", ".join(sorted(through_proxy))
        why = f"RDS Proxy pool, MaxConnectionsPercent {percent} (for {names})"
        lines.insert(0, Line("DatabaseProxy", ceiling * percent // 100, why))
    return Budget(environment, instance_class, ceiling, lines, proxied)


def report(result: Budget) -> str:
    demand = "unbounded" if result.demand is None else str(result.demand)
    rows = [
        f"{result.environment}: {result.instance_class}, max_connections at most"
        f" {result.ceiling}; the stack may use {result.allowed}"
        f" ({'all of it: RDS Proxy in front' if result.proxied else f'1/{SHARE}'})",
        *(
            f"  {line.who:<28} {'-' if line.connections is None else line.connections:>4}"
            f"  {line.why}"
            for line in result.lines
        ),
        f"  {'total':<28} {demand:>4}  {'fits' if result.fits else 'DOES NOT FIT'}",
    ]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", action="append", default=[], metavar="PARAMETER=VALUE")
    parser.add_argument("--memory-gib", type=float, help="for an instance class not listed")
    args = parser.parse_args(argv)
    what_if = dict(item.split("=", 1) for item in args.set)
    environments = samconfig_parameters()
    results = [
        budget(name, overrides | what_if, memory_gib=args.memory_gib)
        for name, overrides in environments.items()
    ]
    print("\n\n".join(report(result) for result in results))
    return 0 if all(result.fits for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
