"""`make preflight [ENV=prod] [PARAMS="Name=value ..."]`: what must change before `sam deploy`.

    make preflight                                    # samconfig.toml [default]: its stack, region
    make preflight ENV=prod PARAMS="AlarmEmail=ops@example.com"
    make deploy ENV=prod PARAMS="AlarmEmail=ops@example.com"   # this, sam build, sam deploy

The parameters are the ones `sam deploy` would send: the environment's parameter_overrides in
samconfig.toml with PARAMS on top; every other parameter keeps its deployed value when the
stack exists (SAM CLI sends UsePreviousValue) and takes its template default when it does
not. Each check makes read-only calls to the account and prints OK, or CHANGE and what to
change; the exit status is 1 when anything must change. docs/deployment.md has the sources.

* reserved concurrency: the functions' ReservedConcurrentExecutions against the account's
  concurrent executions quota (Lambda GetAccountSettings). Lambda refuses a reservation that
  leaves fewer than 100 executions unreserved, and, on an account whose quota is 100 or less
  (new accounts start lower), any reservation at all.
* API Gateway logging role: the stage's access logs need the account's CloudWatch role (API
  Gateway GetAccount). ConfigureApiGatewayAccount must set it where the account has none (or
  names a deleted role), and must not replace a role another stack set.
* alarm email: AlarmEmailRequired (prod) needs an AlarmEmail.
* availability zones: the VPC's AZ IDs exist in the region and, with RDS Proxy, are ones the
  proxy is offered in.
"""

import argparse
import shlex
import sys
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from local_stack.paths import ROOT
from local_stack.template.transform import load_yaml
from tools.connection_budget import _resolve, samconfig_parameters

# Lambda: "You can reserve up to the Unreserved account concurrency value, minus 100 for
# functions that don't have reserved concurrency"; on a quota of 100 or less the whole quota.
MINIMUM_UNRESERVED = 100
CONCURRENCY_QUOTA_CODE = "L-B99A9384"  # Service Quotas: Lambda, Concurrent executions
# RDS User Guide, RDS Proxy limitations: "US East (N. Virginia) Region does not support RDS
# Proxy in the use1-az3 Availability Zone".
PROXY_UNSUPPORTED_ZONE_IDS = frozenset({"use1-az3"})
FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")


@dataclass(frozen=True)
class Finding:
    check: str
    ok: bool
    message: str

    def line(self) -> str:
        return f"{'OK' if self.ok else 'CHANGE':<7} {self.check:<22} {self.message}"


@dataclass(frozen=True)
class Reservation:
    function: str
    amount: int
    parameters: tuple[str, ...]  # the parameters that set it; () when template.yaml fixes it


@dataclass(frozen=True)
class Environment:
    name: str
    stack: str
    region: str
    overrides: dict[str, str]


def environment(name: str, path: Path = ROOT / "samconfig.toml") -> Environment:
    """samconfig.toml's stack name, region and parameter_overrides of one environment."""
    config = tomllib.loads(path.read_text())
    if name not in config:
        raise SystemExit(f"samconfig.toml has no [{name}] environment")
    settings = config[name].get("global", {}).get("parameters", {})
    return Environment(
        name=name,
        stack=str(settings.get("stack_name", "")),
        region=str(settings.get("region", "")),
        overrides=samconfig_parameters(path).get(name, {}),
    )


def parse_pairs(text: str) -> dict[str, str]:
    """`Name=value Other="a b"` (sam deploy's --parameter-overrides form) as a dict."""
    pairs = {}
    for item in shlex.split(text):
        name, separator, value = item.partition("=")
        if not separator or not name:
            raise SystemExit(f"PARAMS: {item!r} is not Name=value")
        pairs[name] = value
    return pairs


def deploy_parameters(
    source: Mapping[str, Any], overrides: Mapping[str, str], previous: Mapping[str, str] | None
) -> dict[str, str]:
    """The values CloudFormation would deploy with, as SAM CLI merges them."""
    defaults = {
        name: str(spec["Default"])
        for name, spec in source["Parameters"].items()
        if "Default" in spec
    }
    return defaults | dict(previous or {}) | dict(overrides)


def _parameters_in(node: Any, parameters: Mapping[str, Any]) -> Iterator[str]:
    if isinstance(node, list):
        for item in node:
            yield from _parameters_in(item, parameters)
    elif isinstance(node, dict):
        if set(node) == {"Ref"} and node["Ref"] in parameters:
            yield node["Ref"]
        for value in node.values():
            yield from _parameters_in(value, parameters)


def condition(source: Mapping[str, Any], name: str, parameters: Mapping[str, str]) -> bool:
    return bool(_resolve({"Condition": name}, parameters, source.get("Conditions", {})))


def reservations(source: Mapping[str, Any], parameters: Mapping[str, str]) -> list[Reservation]:
    """Each created function's reserved concurrency, for these parameter values."""
    conditions = source.get("Conditions", {})
    defaults = source.get("Globals", {}).get("Function", {})
    found = []
    for logical_id, resource in source["Resources"].items():
        if resource["Type"] not in FUNCTION_TYPES:
            continue
        if "Condition" in resource and not condition(source, resource["Condition"], parameters):
            continue
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            properties = {"ReservedConcurrentExecutions": None} | defaults | properties
        expression = properties.get("ReservedConcurrentExecutions")
        amount = _resolve(expression, parameters, conditions)
        if amount is not None:
            named = tuple(sorted(set(_parameters_in(expression, source["Parameters"]))))
            found.append(Reservation(logical_id, int(amount), named))
    return found


@dataclass(frozen=True)
class Concurrency:
    """The account's concurrency quota, what is unreserved now, and what this stack already
    reserves (`current`: an update returns it to the pool before taking its own again)."""

    quota: int
    unreserved: int
    current: int


def concurrency_finding(
    account: Concurrency,
    wanted: list[Reservation],
    source: Mapping[str, Any],
    parameters: Mapping[str, str],
) -> Finding:
    """Whether the account can take the reservations `wanted`."""
    quota, unreserved, current = account.quota, account.unreserved, account.current
    needed = sum(r.amount for r in wanted)
    floor = min(MINIMUM_UNRESERVED, quota)
    left = unreserved + current - needed
    listed = ", ".join(f"{r.function} {r.amount}" for r in wanted) or "nothing"
    if left >= floor:
        return Finding(
            "reserved concurrency",
            True,
            f"the stack reserves {needed} ({listed}); the account's quota of {quota} keeps"
            f" {left} unreserved (Lambda needs {floor})",
        )
    quota_needed = quota + MINIMUM_UNRESERVED - left
    advice = (
        f"Request a concurrent executions quota of at least {quota_needed} (Service Quotas,"
        f" AWS Lambda, {CONCURRENCY_QUOTA_CODE})"
    )
    adjustable = sorted({p for r in wanted for p in r.parameters})
    if adjustable:
        lowest = {p: str(source["Parameters"][p].get("MinValue", 0)) for p in adjustable}
        least = sum(r.amount for r in reservations(source, dict(parameters) | lowest))
        if unreserved + current - least >= floor:
            listing = ", ".join(
                f"{p} (now {parameters[p]}, at least {value})" for p, value in lowest.items()
            )
            advice = f"Lower {listing} by {floor - left} in all, or r" + advice[1:]
        else:
            setting = " ".join(f"{p}={value}" for p, value in lowest.items())
            advice += (
                f"; even with {setting} the stack reserves {least} and needs a quota of at"
                f" least {quota + MINIMUM_UNRESERVED - (unreserved + current - least)}"
            )
    return Finding(
        "reserved concurrency",
        False,
        f"the stack reserves {needed} ({listed}), but the account's quota of {quota} with"
        f" {unreserved} unreserved leaves room for {max(unreserved + current - floor, 0)}"
        f" (Lambda keeps {floor} unreserved). {advice}.",
    )


def current_reservations(cloudformation: Any, lambda_client: Any, stack: str) -> int:
    """What the deployed stack's functions reserve now."""
    total = 0
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack):
        for resource in page["StackResourceSummaries"]:
            if resource["ResourceType"] == "AWS::Lambda::Function":
                found = lambda_client.get_function_concurrency(
                    FunctionName=resource["PhysicalResourceId"]
                )
                total += int(found.get("ReservedConcurrentExecutions") or 0)
    return total


def _role_exists(iam: Any, arn: str) -> bool:
    try:
        iam.get_role(RoleName=arn.rsplit("/", 1)[-1])
    except iam.exceptions.NoSuchEntityException:
        return False
    return True


def logging_role_finding(
    apigateway: Any, iam: Any, parameters: Mapping[str, str], own_role: str | None
) -> Finding:
    """The account's API Gateway CloudWatch role against ConfigureApiGatewayAccount."""
    check = "API Gateway logging"
    arn = apigateway.get_account().get("cloudwatchRoleArn")
    if parameters.get("ConfigureApiGatewayAccount") == "true":
        ours = own_role is not None and arn is not None and arn.endswith(f"/{own_role}")
        if arn and not ours and _role_exists(iam, arn):
            return Finding(
                check,
                False,
                f"the account already logs through {arn}; this stack would replace that"
                " account-wide setting. Set ConfigureApiGatewayAccount=false.",
            )
        return Finding(check, True, "the stack sets the account's CloudWatch role")
    if not arn:
        return Finding(
            check,
            False,
            "the account has no API Gateway CloudWatch role, which the stage's access logs"
            " need: deploy with ConfigureApiGatewayAccount=true (once per account and region).",
        )
    if not _role_exists(iam, arn):
        return Finding(
            check,
            False,
            f"the account names {arn}, which no longer exists:"
            " deploy with ConfigureApiGatewayAccount=true.",
        )
    return Finding(check, True, f"the account logs through {arn}")


def alarm_email_finding(parameters: Mapping[str, str], environment_name: str) -> Finding:
    email = parameters.get("AlarmEmail", "")
    if parameters.get("AlarmEmailRequired") == "true" and not email:
        return Finding(
            "alarm email",
            False,
            "AlarmEmailRequired=true and no AlarmEmail (CloudFormation would refuse the"
            f' change set): make deploy ENV={environment_name} PARAMS="AlarmEmail=you@example.com"',
        )
    return Finding("alarm email", True, f"alarms go to {email}" if email else "none (not required)")


def zones_finding(ec2: Any, source: Mapping[str, Any], parameters: Mapping[str, str]) -> Finding:
    """The AZs of the VPC's subnets: given, or the region's first two names (Fn::GetAZs
    lists them in alphabetical order)."""
    check = "availability zones"
    if not condition(source, "CreateDatabase", parameters):
        return Finding(check, True, "an existing database: its subnets are given")
    zones = [
        z
        for z in ec2.describe_availability_zones()["AvailabilityZones"]
        if z.get("ZoneType", "availability-zone") == "availability-zone"
    ]
    by_id = {z["ZoneId"]: z["ZoneName"] for z in zones}
    given = parameters.get("DatabaseAvailabilityZoneIds", "")
    if given:
        ids = given.split(",")
        unknown = [i for i in ids if i not in by_id]
        if unknown:
            return Finding(
                check,
                False,
                f"DatabaseAvailabilityZoneIds names {', '.join(unknown)}, not AZ IDs of this"
                f" region ({', '.join(sorted(by_id))})",
            )
    else:
        names = sorted(z["ZoneName"] for z in zones)[:2]
        ids = [next(i for i, name in by_id.items() if name == n) for n in names]
    placed = ", ".join(f"{i} ({by_id[i]})" for i in ids)
    blocked = [i for i in ids if i in PROXY_UNSUPPORTED_ZONE_IDS]
    if condition(source, "UseDatabaseProxy", parameters) and blocked:
        usable = [i for i in sorted(by_id) if i not in PROXY_UNSUPPORTED_ZONE_IDS][:2]
        return Finding(
            check,
            False,
            f"the subnets would be in {placed}, and RDS Proxy is not offered in"
            f" {', '.join(blocked)}: set DatabaseAvailabilityZoneIds={','.join(usable)}",
        )
    return Finding(check, True, f"the subnets are in {placed}")


def deployed_stack(cloudformation: Any, stack: str) -> dict[str, Any] | None:
    try:
        described: dict[str, Any] = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    except cloudformation.exceptions.ClientError as error:
        if "does not exist" in str(error):
            return None
        raise
    return described


def own_logging_role(cloudformation: Any, stack: str) -> str | None:
    """The role this stack set as the account's (its ApiGatewayLoggingRole), if any."""
    try:
        resource = cloudformation.describe_stack_resource(
            StackName=stack, LogicalResourceId="ApiGatewayLoggingRole"
        )
    except cloudformation.exceptions.ClientError:
        return None
    name: str = resource["StackResourceDetail"]["PhysicalResourceId"]
    return name


def findings(
    session: Any, stack: str, environment_name: str, overrides: Mapping[str, str]
) -> tuple[bool, list[Finding]]:
    """(the stack exists, what each check found)."""
    cloudformation = session.client("cloudformation")
    lambda_client = session.client("lambda")
    source = load_yaml()
    described = deployed_stack(cloudformation, stack)
    previous = {
        p["ParameterKey"]: p.get("ParameterValue", "")
        for p in (described or {}).get("Parameters", [])
    }
    parameters = deploy_parameters(source, overrides, previous if described else None)
    limit = lambda_client.get_account_settings()["AccountLimit"]
    current = current_reservations(cloudformation, lambda_client, stack) if described else 0
    return described is not None, [
        concurrency_finding(
            Concurrency(
                int(limit["ConcurrentExecutions"]),
                int(limit["UnreservedConcurrentExecutions"]),
                current,
            ),
            reservations(source, parameters),
            source,
            parameters,
        ),
        logging_role_finding(
            session.client("apigateway"),
            session.client("iam"),
            parameters,
            own_logging_role(cloudformation, stack) if described else None,
        ),
        alarm_email_finding(parameters, environment_name),
        zones_finding(session.client("ec2"), source, parameters),
    ]


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parse.add_argument("--config-env", default="default", help="samconfig.toml environment")
    parse.add_argument("--parameters", default="", help='PARAMS: "Name=value ..." on top')
    parse.add_argument("--stack", help="stack name (default: the environment's stack_name)")
    parse.add_argument("--region", help="region (default: the environment's region)")
    parse.add_argument(
        "--print-overrides",
        action="store_true",
        help="print the environment's parameter_overrides with PARAMS on top, and stop",
    )
    return parse


def main(argv: list[str] | None = None, session: Any = None) -> int:
    args = parser().parse_args(argv)
    env = environment(args.config_env)
    overrides = env.overrides | parse_pairs(args.parameters)
    if args.print_overrides:
        print(" ".join(shlex.quote(f"{name}={value}") for name, value in overrides.items()))
        return 0
    session = session or boto3.session.Session(region_name=args.region or env.region or None)
    stack = args.stack or env.stack
    exists, found = findings(session, stack, env.name, overrides)
    print(
        f"Preflight of stack {stack} in {session.region_name} (samconfig.toml [{env.name}],"
        f" {'an update' if exists else 'a new stack'}):",
        flush=True,
    )
    for finding in found:
        print(finding.line())
    changes = [f for f in found if not f.ok]
    print(f"\n{len(changes)} to change before sam deploy." if changes else "\nReady to deploy.")
    return 1 if changes else 0


if __name__ == "__main__":
    sys.exit(main())
