"""Lambda resource policies are per qualifier, as in Lambda: a permission on the function
does not let a service invoke its alias or a version, and one on the alias does not let it
invoke the function ("Using Lambda aliases in event sources and permissions policies",
https://docs.aws.amazon.com/lambda/latest/dg/using-aliases.html: a permission on
helloworld:PROD allows invoking helloworld:PROD; invoking without the alias is a
permission error).

The transformed templates here are minimal fragments of what SAM writes for a function
with AutoPublishAlias and an S3 event, read by the same loader as the deployed stack's.
"""

from typing import Any

import pytest

from local_stack.iam import Deliveries, MotoFacts
from local_stack.iam.effective import load_effective_policies

ACCOUNT = "123456789012"
REGION = "us-east-1"
FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:stack-Fn"
ALIAS = f"{FUNCTION}:live"
VERSION = f"{FUNCTION}:1"
BUCKET = "stack-documents"

# what Ref / Fn::GetAtt name in the deployed stack
PHYSICAL = {
    ("Ref", "AWS::AccountId"): ACCOUNT,
    ("Ref", "AWS::Region"): REGION,
    ("Ref", "AWS::Partition"): "aws",
    ("Ref", "Fn"): "stack-Fn",
    ("Ref", "FnAliaslive"): ALIAS,
    ("Ref", "FnVersion1"): VERSION,
    ("Fn::GetAtt", "Fn.Arn"): FUNCTION,
    ("Fn::GetAtt", "FnRole.Arn"): f"arn:aws:iam::{ACCOUNT}:role/stack-FnRole",
}


def resolve(node: Any) -> Any:
    if isinstance(node, list):
        return [resolve(item) for item in node]
    if isinstance(node, dict) and len(node) == 1:
        ((name, argument),) = node.items()
        if name in ("Ref", "Fn::GetAtt"):
            target = ".".join(argument) if isinstance(argument, list) else argument
            return PHYSICAL[(name, target)]
    if isinstance(node, dict):
        return {key: resolve(value) for key, value in node.items()}
    return node


def template(function_name: Any) -> dict[str, Any]:
    """A function with its role, its "live" alias, and S3's permission on `function_name`."""
    return {
        "Resources": {
            "FnRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "lambda.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                            }
                        ]
                    }
                },
            },
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {"Role": {"Fn::GetAtt": ["FnRole", "Arn"]}},
            },
            "FnObjectCreatedPermission": {
                "Type": "AWS::Lambda::Permission",
                "Properties": {
                    "Action": "lambda:InvokeFunction",
                    "FunctionName": function_name,
                    "Principal": "s3.amazonaws.com",
                    "SourceAccount": ACCOUNT,
                },
            },
        }
    }


def s3_may_invoke(function_name: Any, invoked: str) -> bool:
    policies = load_effective_policies(template(function_name), resolve)
    deliveries = Deliveries(policies, MotoFacts(ACCOUNT, REGION))
    return deliveries.s3_to_lambda(BUCKET, invoked).allowed


@pytest.mark.parametrize(
    "function_name",
    [
        {"Ref": "FnAliaslive"},  # what SAM writes with AutoPublishAlias
        ALIAS,
        "stack-Fn:live",  # a name with its alias
        f"{ACCOUNT}:function:stack-Fn:live",  # a partial ARN
    ],
)
def test_a_permission_on_the_alias_allows_the_alias_only(function_name: Any):
    """Mutations caught: the permission's qualifier dropped when the template is read (the
    alias's permission then allows the function), the policy looked up by the unqualified
    ARN, the qualifier dropped from the ARN S3 asks for."""
    assert s3_may_invoke(function_name, ALIAS)
    assert not s3_may_invoke(function_name, FUNCTION)
    assert not s3_may_invoke(function_name, VERSION)


@pytest.mark.parametrize(
    "function_name", [{"Ref": "Fn"}, {"Fn::GetAtt": ["Fn", "Arn"]}, f"{ACCOUNT}:function:stack-Fn"]
)
def test_a_permission_on_the_function_does_not_allow_its_alias_or_versions(function_name: Any):
    """Mutations caught: the qualifier dropped from the ARN S3 asks for (the function's
    permission then allows `:live`, which Lambda refuses), a partial ARN read as a name."""
    assert s3_may_invoke(function_name, FUNCTION)
    assert not s3_may_invoke(function_name, ALIAS)
    assert not s3_may_invoke(function_name, VERSION)


def test_a_permission_on_a_version_allows_that_version_only():
    """Mutations caught: the qualifier dropped when the template is read or from the ARN
    asked for, the policy looked up by the unqualified ARN."""
    assert s3_may_invoke({"Ref": "FnVersion1"}, VERSION)
    assert not s3_may_invoke({"Ref": "FnVersion1"}, ALIAS)
    assert not s3_may_invoke({"Ref": "FnVersion1"}, FUNCTION)
