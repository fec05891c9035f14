"""What is left of CloudFormation's intrinsic functions once moto's resolver has run."""

from typing import Any


def without_novalue(node: Any) -> Any:
    """Drop the None that `!Ref AWS::NoValue` leaves after intrinsics are resolved."""
    if isinstance(node, list):
        return [without_novalue(item) for item in node if item is not None]
    if isinstance(node, dict):
        return {key: without_novalue(value) for key, value in node.items() if value is not None}
    return node
