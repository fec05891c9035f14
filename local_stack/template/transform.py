"""Read template.yaml and turn it into plain CloudFormation with the SAM translator.

The local stack and the tests build every resource from this one template, so nothing a
test relies on can drift from what `sam deploy` creates.
"""

import copy
import hashlib
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from samtranslator.translator.transform import transform as sam_transform
from samtranslator.yaml_helper import yaml_parse

from local_stack.paths import ROOT

TEMPLATE = ROOT / "template.yaml"
LOCAL_CODE_BUCKET = "local-code"  # placeholder: the local stack never uploads code


@dataclass(frozen=True)
class FunctionSource:
    """Where a function's code lives on disk and how Lambda would start it."""

    logical_id: str
    code_dir: Path
    handler: str
    layer_ids: tuple[str, ...]
    timeout: int
    events: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class SamTemplate:
    source: dict[str, Any]  # template.yaml as written
    transformed: dict[str, Any]  # plain CloudFormation after the SAM transform
    functions: dict[str, FunctionSource]
    layers: dict[str, Path]  # SAM layer logical id -> source folder

    def parameter_defaults(self) -> dict[str, str]:
        return {
            name: str(spec["Default"])
            for name, spec in self.source.get("Parameters", {}).items()
            if "Default" in spec
        }


class _NoManagedPolicies:
    """SAM asks for the account's managed-policy map only for policies given by name.

    This template uses policy templates and inline statements, so the map is never
    needed; refusing loudly keeps it that way rather than calling IAM."""

    def load(self) -> dict[str, str]:
        raise RuntimeError("template.yaml must not reference managed policies by name")


def load_yaml(path: Path = TEMPLATE) -> dict[str, Any]:
    parsed: dict[str, Any] = yaml_parse(path.read_text())
    return parsed


def _function_sources(source: dict[str, Any]) -> dict[str, FunctionSource]:
    globals_ = source.get("Globals", {}).get("Function", {})
    functions = {}
    for logical_id, resource in source["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        # SAM appends a function's own Layers to the Globals' (lists in Globals are additive).
        layers = [*globals_.get("Layers", []), *props.get("Layers", [])]
        functions[logical_id] = FunctionSource(
            logical_id=logical_id,
            code_dir=ROOT / props["CodeUri"],
            handler=props["Handler"],
            layer_ids=tuple(layer["Ref"] for layer in layers if "Ref" in layer),
            timeout=int(props.get("Timeout", globals_.get("Timeout", 3))),
            events=props.get("Events", {}),
        )
    return functions


LANGUAGE_EXTENSIONS = "AWS::LanguageExtensions"
_EXTENSION_ONLY = ("Fn::Length", "Fn::ToJsonString")
_RESOLVED_SECTIONS = ("Resources", "Conditions", "Outputs")


def resolve_language_extensions(
    template: dict[str, Any], parameters: dict[str, str]
) -> dict[str, Any]:
    """Do what the AWS::LanguageExtensions transform does before SAM, for what this template
    uses of it: `Fn::FindInMap` with a `DefaultValue`, keyed literally or by `!Ref` to a
    parameter (the Api's DefaultAuthorizer per ApiAuth, each function's SnapStart), and only
    in the sections the transform resolves: Resources, Conditions and Outputs (SAM CLI's
    port of it, samcli/lib/cfn_language_extensions/api.py, leaves "other sections"
    untouched). A DefaultValue anywhere else, such as Globals, reaches SAM and then
    CloudFormation unresolved, as it would in AWS. Other functions only that transform knows
    fail here rather than deploy differently locally; the rest is left to CloudFormation
    (moto), which resolves it the same way after the transform.

    Why not SAM CLI's implementation (samcli 1.170.0,
    `samcli.lib.cfn_language_extensions.sam_integration.process_template_for_sam_cli`, the
    expansion `expand_language_extensions` wraps with telemetry; samtranslator has none):
    in the partial resolution mode SAM CLI runs it in, it changes the template beyond the
    language extensions, so the transformed template differs for every ApiAuth and
    samconfig.toml parameter set (checked over all of them):

    * `Fn::Sub` with a variable it cannot resolve without a deployment (`${AWS::Region}`,
      `${AWS::StackName}`, a resource's `${Api}`) loses its `Fn::Sub` and becomes a plain
      string that still holds `${...}`: the API URL output, log group names, policy
      resources would reach CloudFormation as literal text.
    * Parameter `Ref`s, `Conditions` and `Fn::If` are folded into literals at expansion
      (`!Ref Stage` becomes `v1`), so SAM names its resources differently
      (`...PermissionStage` becomes `...Permissionv1`) and the template no longer carries
      the parameters the deployed stack is given.
    """
    transforms = template.get("Transform", [])
    transforms = [transforms] if isinstance(transforms, str) else list(transforms)
    if LANGUAGE_EXTENSIONS not in transforms:
        return template
    mappings: dict[str, Any] = template.get("Mappings", {})

    def key(node: Any) -> str:
        if isinstance(node, dict) and set(node) == {"Ref"} and node["Ref"] in parameters:
            return parameters[node["Ref"]]
        if isinstance(node, str):
            return node
        raise ValueError(f"Fn::FindInMap key {node!r}: only literals and parameters locally")

    def resolve(node: Any) -> Any:
        if isinstance(node, list):
            return [resolve(item) for item in node]
        if not isinstance(node, dict):
            return node
        for name in node:
            if name.startswith("Fn::ForEach::") or name in _EXTENSION_ONLY:
                raise ValueError(f"{name} ({LANGUAGE_EXTENSIONS}) has no local implementation")
        arguments = node.get("Fn::FindInMap")
        if len(node) == 1 and isinstance(arguments, list) and len(arguments) == 4:
            map_name, first, second, options = arguments
            found = mappings.get(key(map_name), {}).get(key(first), {}).get(key(second))
            return resolve(options["DefaultValue"]) if found is None else found
        return {name: resolve(value) for name, value in node.items()}

    resolved = dict(template)
    for section in _RESOLVED_SECTIONS:
        if section in resolved:
            resolved[section] = resolve(resolved[section])
    resolved["Transform"] = [name for name in transforms if name != LANGUAGE_EXTENSIONS]
    return resolved


_TRANSFORMED: dict[tuple[str, str], SamTemplate] = {}
_TRANSFORMED_LOCK = threading.Lock()


def load_template(path: Path = TEMPLATE, parameters: dict[str, str] | None = None) -> SamTemplate:
    """Parse and SAM-transform `path`; local code folders become placeholder S3 URIs.

    Parsing and transforming take seconds, so the result is kept per process for the same
    template text and parameters; callers treat it as read-only (deploys copy it)."""
    text = path.read_text()
    key = (hashlib.sha256(text.encode()).hexdigest(), json.dumps(parameters or {}, sort_keys=True))
    with _TRANSFORMED_LOCK:
        if key not in _TRANSFORMED:
            _TRANSFORMED[key] = _load_template(path, parameters)
        return _TRANSFORMED[key]


def _load_template(path: Path, parameters: dict[str, str] | None) -> SamTemplate:
    source = load_yaml(path)
    functions = _function_sources(source)
    layers = {
        logical_id: ROOT / resource["Properties"]["ContentUri"]
        for logical_id, resource in source["Resources"].items()
        if resource["Type"] == "AWS::Serverless::LayerVersion"
    }
    fragment = copy.deepcopy(source)
    for logical_id, resource in fragment["Resources"].items():
        props = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str):
                props[key] = f"s3://{LOCAL_CODE_BUCKET}/{logical_id}.zip"
    template = SamTemplate(source=source, transformed={}, functions=functions, layers=layers)
    values = template.parameter_defaults() | (parameters or {})
    fragment = resolve_language_extensions(fragment, values)
    transformed = sam_transform(fragment, values, _NoManagedPolicies())
    return SamTemplate(source=source, transformed=transformed, functions=functions, layers=layers)
