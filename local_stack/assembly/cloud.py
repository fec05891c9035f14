"""Deploy the transformed template into moto, the same way for tests and the local stack.

Each resource takes one of three paths:

* moto's CloudFormation creates it (tables, keys, queues, topics, buckets, log groups...);
* a *shim* here creates it through moto's API, for the few types moto's CloudFormation does
  not implement (a generated secret, an SNS subscription, a queue or bucket policy);
* the local stack plays it instead (functions and layers in the local runtime's execution
  environments; API Gateway and IAM in this process): moto cannot execute Lambda code
  without Docker, so references to these resources become fixed local names.

Intrinsic functions in shims, function environments and outputs are resolved by moto's own
resolver against the deployed stack, so `!Ref`, `!GetAtt` and `!Sub` mean what they mean in
CloudFormation.
"""

import copy
import json
import re
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from moto.cloudformation.models import cloudformation_backends
from moto.cloudformation.parsing import clean_json
from moto.core.models import DEFAULT_ACCOUNT_ID

from local_stack.runtime.environment import Credentials, FunctionConfig
from local_stack.services import cognito, db_proxy, mysql, s3
from local_stack.services.data_api import resources as aurora
from local_stack.services.endpoint import ADMIN_CREDENTIALS
from local_stack.template.transform import SamTemplate

IN_PROCESS_PREFIXES = (
    "AWS::Lambda::",
    "AWS::ApiGateway::",
    "AWS::IAM::",
    "AWS::CloudWatch::Alarm",
    "AWS::Scheduler::",
)


@dataclass
class _Placeholder:
    """Stands in moto's resource map for a resource that moto did not create."""

    physical_resource_id: str
    attributes: dict[str, str]

    def get_cfn_attribute(self, name: str) -> str:
        return self.attributes[name]


def _in_process_placeholder(
    logical_id: str,
    resource_type: str,
    stack: str,
    region: str,
    properties: dict[str, Any] | None = None,
) -> _Placeholder:
    name = f"{stack}-{logical_id}"
    arn_prefix = f"arn:aws:{{}}:{region}:{DEFAULT_ACCOUNT_ID}"
    function = (properties or {}).get("FunctionName")
    if resource_type in ("AWS::Lambda::Alias", "AWS::Lambda::Version") and isinstance(
        function, dict
    ):
        # AutoPublishAlias: Ref is the qualified ARN of the function's alias or version
        qualifier = (properties or {}).get("Name", "1")
        arn = f"{arn_prefix.format('lambda')}:function:{stack}-{function['Ref']}:{qualifier}"
        return _Placeholder(arn, {"Arn": arn, "Version": "1"})
    if resource_type == "AWS::Lambda::Function":
        arn = f"{arn_prefix.format('lambda')}:function:{name}"
    elif resource_type == "AWS::Lambda::LayerVersion":
        arn = f"{arn_prefix.format('lambda')}:layer:{name}:1"
        name = arn
    elif resource_type.startswith("AWS::IAM::"):
        arn = f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/{name}"
    elif resource_type == "AWS::ApiGateway::RestApi":
        name = "local"
        arn = f"arn:aws:apigateway:{region}::/restapis/local"
    else:
        arn = f"{arn_prefix.format('local')}:{name}"
    return _Placeholder(name, {"Arn": arn, "RootResourceId": "root"})


def _replace_references(node: Any, literals: dict[str, _Placeholder]) -> Any:
    """Substitute Ref/GetAtt/${...} to in-process resources with their local names."""
    if isinstance(node, list):
        return [_replace_references(item, literals) for item in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Ref"} and node["Ref"] in literals:
        return literals[node["Ref"]].physical_resource_id
    if set(node) == {"Fn::GetAtt"}:
        target = node["Fn::GetAtt"]
        target = target.split(".", 1) if isinstance(target, str) else target
        if target[0] in literals:
            return literals[target[0]].get_cfn_attribute(target[1])
    if set(node) == {"Fn::Sub"}:
        sub = node["Fn::Sub"]
        text, variables = (sub, {}) if isinstance(sub, str) else (sub[0], sub[1])

        def literal(match: re.Match[str]) -> str:
            name, _, attribute = match.group(1).partition(".")
            if name in literals and name not in variables:
                placeholder = literals[name]
                return (
                    placeholder.get_cfn_attribute(attribute)
                    if attribute
                    else placeholder.physical_resource_id
                )
            return match.group(0)

        text = re.sub(r"\$\{([A-Za-z0-9_.:]+)\}", literal, text)
        variables = _replace_references(variables, literals)
        return {"Fn::Sub": text if not variables else [text, variables]}
    return {key: _replace_references(value, literals) for key, value in node.items()}


# -- shims: resource types moto's CloudFormation does not implement ------------------------

ShimResult = _Placeholder
Shim = Callable[[str, dict[str, Any], "LocalCloud"], ShimResult]


def _secret(logical_id: str, props: dict[str, Any], cloud: "LocalCloud") -> ShimResult:
    client = cloud.client("secretsmanager")
    name = props.get("Name") or f"{cloud.stack_name}-{logical_id}"
    generate = props.get("GenerateSecretString")
    if generate is not None:
        options = {
            key: generate[key]
            for key in (
                "PasswordLength",
                "ExcludeCharacters",
                "ExcludeNumbers",
                "ExcludePunctuation",
                "ExcludeUppercase",
                "ExcludeLowercase",
                "IncludeSpace",
                "RequireEachIncludedType",
            )
            if key in generate
        }
        if "PasswordLength" in options:
            options["PasswordLength"] = int(options["PasswordLength"])
        value = client.get_random_password(**options)["RandomPassword"]
        if "SecretStringTemplate" in generate:
            document = json.loads(generate["SecretStringTemplate"])
            document[generate["GenerateStringKey"]] = value
            value = json.dumps(document)
    else:
        value = props["SecretString"]
    request: dict[str, Any] = {"Name": name, "SecretString": value}
    if props.get("KmsKeyId"):
        request["KmsKeyId"] = props["KmsKeyId"]
    arn = client.create_secret(**request)["ARN"]
    return _Placeholder(arn, {"Id": arn})


def _subscription(logical_id: str, props: dict[str, Any], cloud: "LocalCloud") -> ShimResult:
    attributes = {
        key: json.dumps(props[key])
        if isinstance(props[key], dict)
        else str(props[key]).lower()
        if isinstance(props[key], bool)
        else str(props[key])
        for key in ("RawMessageDelivery", "FilterPolicy", "FilterPolicyScope", "RedrivePolicy")
        if key in props
    }
    arn = cloud.client("sns").subscribe(
        TopicArn=props["TopicArn"],
        Protocol=props["Protocol"],
        Endpoint=props["Endpoint"],
        Attributes=attributes,
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    return _Placeholder(arn, {"Arn": arn})


def _queue_policy(logical_id: str, props: dict[str, Any], cloud: "LocalCloud") -> ShimResult:
    sqs = cloud.client("sqs")
    for queue_url in props["Queues"]:
        sqs.set_queue_attributes(
            QueueUrl=queue_url, Attributes={"Policy": json.dumps(props["PolicyDocument"])}
        )
    return _Placeholder(f"{cloud.stack_name}-{logical_id}", {})


# -- customers on RDS: the "instance" is a database on a real local MySQL server ----------


def _db_instance(logical_id: str, props: dict[str, Any], cloud: "LocalCloud") -> ShimResult:
    """An RDS instance, locally: the MySQL server of local_stack.services.mysql.

    Its master credentials are dynamic references to a shimmed secret, which moto's RDS
    cannot resolve; the stack's own database and user are created after deploy
    (`local_stack.services.mysql.provision`), when the secret holds its generated password. An
    Aurora cluster's instance (DBClusterIdentifier) is its cluster's writer
    (local_stack.services.data_api.resources)."""
    if props.get("DBClusterIdentifier"):
        return _created(aurora.instance)(logical_id, props, cloud)
    address = mysql.server()
    identifier = f"{cloud.stack_name}-{logical_id}".lower()
    return _Placeholder(
        identifier,
        {
            "Endpoint.Address": address.host,
            "Endpoint.Port": str(address.port),
            "DBInstanceArn": f"arn:aws:rds:{cloud.region}:{DEFAULT_ACCOUNT_ID}:db:{identifier}",
        },
    )


def _secret_target_attachment(
    logical_id: str, props: dict[str, Any], cloud: "LocalCloud"
) -> ShimResult:
    """Adds the instance's connection details to the secret, as Secrets Manager does."""
    target = cloud.placeholder_for(props["TargetId"])
    client = cloud.client("secretsmanager")
    document = json.loads(client.get_secret_value(SecretId=props["SecretId"])["SecretString"])
    document |= {
        "engine": "mysql",
        "host": target.get_cfn_attribute("Endpoint.Address"),
        "port": int(target.get_cfn_attribute("Endpoint.Port")),
        "dbInstanceIdentifier": props["TargetId"],
    }
    client.put_secret_value(SecretId=props["SecretId"], SecretString=json.dumps(document))
    return _Placeholder(props["SecretId"], {})  # Ref: the secret's ARN


def _not_run_locally(logical_id: str, props: dict[str, Any], cloud: "LocalCloud") -> ShimResult:
    """Accepted but inert: the hosted rotation function (tests rotate the password
    themselves) and the migrations custom resource (LocalStack.deploy invokes the
    migration function once the local database exists)."""
    return _Placeholder(f"{cloud.stack_name}-{logical_id}", {})


SHIMS: dict[str, Shim] = {
    "AWS::SecretsManager::Secret": _secret,
    "AWS::SNS::Subscription": _subscription,
    "AWS::SQS::QueuePolicy": _queue_policy,
    "AWS::RDS::DBInstance": _db_instance,
    "AWS::SecretsManager::SecretTargetAttachment": _secret_target_attachment,
    "AWS::SecretsManager::RotationSchedule": _not_run_locally,
    "Custom::DatabaseMigrations": _not_run_locally,
    "Custom::AuroraMigrations": _not_run_locally,
}


# -- documents: S3 buckets and policies through moto's API, CloudFront as placeholders ------


def _created(create: Callable[[str, dict[str, Any], "s3.Cloud"], "s3.Created"]) -> Shim:
    def shim(logical_id: str, props: dict[str, Any], cloud: "LocalCloud") -> ShimResult:
        physical_id, attributes = create(logical_id, props, cloud)
        return _Placeholder(physical_id, attributes)

    return shim


SHIMS |= {
    "AWS::S3::Bucket": _created(s3.bucket),
    "AWS::S3::BucketPolicy": _created(s3.bucket_policy),
    "AWS::CloudFront::OriginAccessControl": _created(s3.cloudfront_placeholder),
    "AWS::CloudFront::PublicKey": _created(s3.cloudfront_placeholder),
    "AWS::CloudFront::KeyGroup": _created(s3.cloudfront_placeholder),
    "AWS::CloudFront::Distribution": _created(s3.cloudfront_placeholder),
}

# -- customers on RDS: the optional RDS Proxy, a relay to the same local MySQL --------------

SHIMS |= {resource_type: _created(create) for resource_type, create in db_proxy.SHIMS.items()}

# -- customers on Aurora: a cluster is databases on the local MySQL, behind the Data API ------

SHIMS |= {aurora.CLUSTER_TYPE: _created(aurora.cluster)}

# -- API access: the Cognito user pool, its app client and groups, through moto's cognito-idp

SHIMS |= {
    "AWS::Cognito::UserPool": _created(cognito.user_pool),
    "AWS::Cognito::UserPoolClient": _created(cognito.user_pool_client),
    "AWS::Cognito::UserPoolGroup": _created(cognito.user_pool_group),
}


class LocalCloud:
    """The template deployed into moto: physical names, function environments, outputs."""

    def __init__(
        self, template: SamTemplate, stack_name: str, region: str, endpoint_url: str
    ) -> None:
        self.template = template
        self.stack_name = stack_name
        self.region = region
        self.endpoint_url = endpoint_url
        self._resource_map: Any = None
        self._session = boto3.session.Session(
            aws_access_key_id=ADMIN_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=ADMIN_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=region,
        )
        self._clients: dict[tuple[str, str], Any] = {}
        self._clients_lock = threading.Lock()

    def client(self, service: str, credentials: Credentials | None = None) -> Any:
        """A client of the local cloud, one per service and identity, safe to share between
        threads (creating clients from a shared session is not, hence the lock). Without
        `credentials`, the account's administrator; with them, e.g. a function's role, as
        a service acting for the function does (event source mappings)."""
        identity = credentials.access_key_id if credentials else ""
        with self._clients_lock:
            if (service, identity) not in self._clients:
                session = self._session
                if credentials is not None:
                    session = boto3.session.Session(
                        aws_access_key_id=credentials.access_key_id,
                        aws_secret_access_key=credentials.secret_access_key,
                        aws_session_token=credentials.session_token,
                        region_name=self.region,
                    )
                self._clients[(service, identity)] = session.client(  # type: ignore[call-overload]
                    service, endpoint_url=self.endpoint_url
                )
            return self._clients[(service, identity)]

    # -- deployment ---------------------------------------------------------------------

    def deploy(self, parameters: dict[str, str] | None = None) -> "LocalCloud":
        transformed = copy.deepcopy(self.template.transformed)
        resources: dict[str, Any] = transformed["Resources"]
        in_process = {
            logical_id: _in_process_placeholder(
                logical_id,
                resource["Type"],
                self.stack_name,
                self.region,
                resource.get("Properties"),
            )
            for logical_id, resource in resources.items()
            if resource["Type"].startswith(IN_PROCESS_PREFIXES)
        }
        shimmed = {
            logical_id: resource
            for logical_id, resource in resources.items()
            if resource["Type"] in SHIMS
        }
        unsupported = sorted(
            f"{logical_id} ({resource['Type']})"
            for logical_id, resource in resources.items()
            if logical_id not in in_process
            and logical_id not in shimmed
            and not _moto_supports(resource["Type"])
        )
        if unsupported:
            raise RuntimeError(
                "template resources with no local implementation: " + ", ".join(unsupported)
            )
        moto_resources = {
            logical_id: resource
            for logical_id, resource in resources.items()
            if logical_id not in in_process and logical_id not in shimmed
        }
        for logical_id, resource in moto_resources.items():
            if _mentions(resource, set(shimmed)):
                raise RuntimeError(f"{logical_id} references a shimmed resource; add a shim")
            depends = resource.get("DependsOn")
            if depends:
                kept = [d for d in ([depends] if isinstance(depends, str) else depends)]
                resource["DependsOn"] = [d for d in kept if d in moto_resources]
        deployable = {key: value for key, value in transformed.items() if key not in ("Outputs",)}
        deployable["Resources"] = _replace_references(moto_resources, in_process)
        values = self.template.parameter_defaults() | (parameters or {})
        declared = transformed.get("Parameters", {})
        deployable["Parameters"] = _numbers_as_strings(declared, values)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.client("cloudformation").create_stack(
                StackName=self.stack_name,
                TemplateBody=json.dumps(deployable),
                Parameters=[
                    {"ParameterKey": key, "ParameterValue": value}
                    for key, value in values.items()
                    if key in declared
                ],
            )
        backend = cloudformation_backends[DEFAULT_ACCOUNT_ID][self.region]
        stack = next(s for s in backend.stacks.values() if s.name == self.stack_name)
        self._resource_map = stack.resource_map
        parsed = self._resource_map._parsed_resources
        conditions = self._resource_map.lazy_condition_map
        # only what the conditions deploy (e.g. a function of an optional backend)
        parsed.update(
            {
                logical_id: placeholder
                for logical_id, placeholder in in_process.items()
                if "Condition" not in resources[logical_id]
                or conditions[resources[logical_id]["Condition"]]
            }
        )
        for logical_id in _dependency_order(shimmed):
            resource = shimmed[logical_id]
            if "Condition" in resource and not conditions[resource["Condition"]]:
                continue
            props = self.resolve(resource.get("Properties", {}))
            parsed[logical_id] = SHIMS[resource["Type"]](logical_id, props, self)
        return self

    # -- lookups ------------------------------------------------------------------------

    def resolve(self, value: Any) -> Any:
        """Resolve intrinsic functions in `value` against the deployed stack."""
        if self._resource_map is None:
            raise RuntimeError("deploy() first")
        return clean_json(copy.deepcopy(value), self._resource_map)

    def physical_id(self, logical_id: str) -> str:
        resolved: str = self.resolve({"Ref": logical_id})
        return resolved

    def deployed(self, logical_id: str) -> bool:
        """False for a resource whose Condition left it out of this deployment."""
        return logical_id in self._resource_map._parsed_resources

    def placeholder_for(self, physical_id: str) -> _Placeholder:
        """The shimmed or in-process resource with this physical id."""
        return next(
            resource
            for resource in self._resource_map._parsed_resources.values()
            if isinstance(resource, _Placeholder) and resource.physical_resource_id == physical_id
        )

    def function_config(self, logical_id: str) -> FunctionConfig:
        """The function's configuration as deployed: SAM's Globals applied, intrinsics
        resolved against this stack and its parameters."""
        props = self.template.transformed["Resources"][logical_id]["Properties"]
        resolved = self.resolve({key: value for key, value in props.items() if key != "Code"})
        variables = (resolved.get("Environment") or {}).get("Variables") or {}
        reserved = resolved.get("ReservedConcurrentExecutions")
        name = self.physical_id(logical_id)
        return FunctionConfig(
            logical_id=logical_id,
            name=name,
            handler=resolved["Handler"],
            runtime=resolved["Runtime"],
            timeout_s=int(resolved.get("Timeout", 3)),
            memory_mb=int(resolved.get("MemorySize", 128)),
            variables={key: _env_value(value) for key, value in variables.items()},
            log_group=(resolved.get("LoggingConfig") or {}).get("LogGroup")
            or f"/aws/lambda/{name}",
            tracing=(resolved.get("TracingConfig") or {}).get("Mode") == "Active",
            reserved_concurrency=None if reserved in (None, "") else int(reserved),
            role_arn=str(resolved["Role"]),
            layer_ids=self.template.functions[logical_id].layer_ids,
        )

    def outputs(self) -> dict[str, str]:
        outputs = self.template.transformed.get("Outputs", {})
        conditions = self._resource_map.lazy_condition_map
        return {
            key: str(self.resolve(spec["Value"]))
            for key, spec in outputs.items()
            if "Condition" not in spec or conditions[spec["Condition"]]
        }


def _numbers_as_strings(declared: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    """The parameters as moto should see them. CloudFormation checks that a `Number`
    parameter is a number, but a `Ref` to it gives the string ("when you use the parameter
    elsewhere in your template, the parameter value becomes a string": CloudFormation User
    Guide, "Parameters", Type). moto gives the int, so `!Equals [!Ref N, "0"]` would be false
    for 0 (the function's concurrency cap would then be 0: every call throttled). The check
    stays here; moto gets a String."""
    parameters = copy.deepcopy(declared)
    for name, spec in parameters.items():
        if spec.get("Type") != "Number":
            continue
        value = values.get(name)
        if value is not None:
            try:
                float(value)
            except ValueError:
                raise ValueError(f"Parameter '{name}' must be a number not '{value}'") from None
        spec["Type"] = "String"
        if "Default" in spec:
            spec["Default"] = str(spec["Default"])
    return parameters


def _env_value(value: Any) -> str:
    """An environment variable's value as Lambda stores it (a string; booleans lower-case)."""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _moto_supports(resource_type: str) -> bool:
    from moto.cloudformation.parsing import get_model_map  # noqa: PLC0415 (moto internals)

    return resource_type in get_model_map() or resource_type in {
        "AWS::CloudFormation::WaitConditionHandle"
    }


def _mentions(node: Any, names: set[str]) -> bool:
    text = json.dumps(node)
    return any(
        f'"Ref": "{name}"' in text or f'"Fn::GetAtt": ["{name}"' in text or f"${{{name}" in text
        for name in names
    )


def _dependency_order(resources: dict[str, Any]) -> list[str]:
    ordered: list[str] = []

    def visit(logical_id: str, trail: tuple[str, ...]) -> None:
        if logical_id in ordered:
            return
        if logical_id in trail:
            raise RuntimeError(f"circular reference: {' -> '.join((*trail, logical_id))}")
        others = set(resources) - {logical_id}
        for other in sorted(others):
            if _mentions(resources[logical_id], {other}):
                visit(other, (*trail, logical_id))
        ordered.append(logical_id)

    for logical_id in sorted(resources):
        visit(logical_id, ())
    return ordered
