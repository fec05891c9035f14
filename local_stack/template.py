"""Read template.yaml and turn it into plain CloudFormation with the SAM translator.

The local stack and the tests build every resource from this one template, so nothing a
test relies on can drift from what `sam deploy` creates.
"""

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from samtranslator.translator.transform import transform as sam_transform
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parent.parent
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
        layers = props.get("Layers", globals_.get("Layers", []))
        functions[logical_id] = FunctionSource(
            logical_id=logical_id,
            code_dir=ROOT / props["CodeUri"],
            handler=props["Handler"],
            layer_ids=tuple(layer["Ref"] for layer in layers if "Ref" in layer),
            timeout=int(props.get("Timeout", globals_.get("Timeout", 3))),
            events=props.get("Events", {}),
        )
    return functions


def load_template(path: Path = TEMPLATE, parameters: dict[str, str] | None = None) -> SamTemplate:
    """Parse and SAM-transform `path`; local code folders become placeholder S3 URIs."""
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
    transformed = sam_transform(fragment, values, _NoManagedPolicies())
    return SamTemplate(source=source, transformed=transformed, functions=functions, layers=layers)
