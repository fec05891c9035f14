"""The drawings and snippets of template.yaml in the docs say what the template says: the
VPC diagram names every network resource, the bucket policy shown names the roles the
template's policy names."""

import re
from pathlib import Path
from typing import Any

from local_stack.template.transform import load_yaml

DOCS = Path(__file__).resolve().parents[2] / "docs"
NETWORK = {
    "AWS::EC2::VPC",
    "AWS::EC2::Subnet",
    "AWS::EC2::RouteTable",
    "AWS::EC2::SecurityGroup",
    "AWS::EC2::SecurityGroupIngress",
    "AWS::EC2::VPCEndpoint",
}


def _mermaid(page: str) -> list[str]:
    return re.findall(r"```mermaid\n(.*?)```", (DOCS / page).read_text(), re.DOTALL)


def test_the_vpc_diagram_names_every_subnet_route_table_endpoint_and_security_group():
    """Catches: a network resource added to the template (an endpoint, a security group or
    its ingress rule) that the diagram of rds-network.md does not show."""
    # Given the template's network resources
    network = {
        logical_id
        for logical_id, resource in load_yaml()["Resources"].items()
        if resource["Type"] in NETWORK
    }

    # When the page's diagram is read
    (diagram,) = _mermaid("rds-network.md")

    # Then every one of them is in it, by its logical id
    assert len(network) >= 12
    assert not {name for name in network if not re.search(rf"\b{name}\b", diagram)}


def _role_ids(node: Any) -> list[str]:
    """Logical ids of the `!GetAtt <Role>.Arn` in a resolved-YAML list."""
    return [item["Fn::GetAtt"][0] for item in node]


def test_the_bucket_policy_shown_names_the_roles_the_template_names():
    """Catches: the snippet of documents-bucket.md listing two roles while the template's
    policy admits three (the URL signer signs every presigned URL, so it must be there)."""
    # Given the template's deny-everyone-else statement
    policy = load_yaml()["Resources"]["DocumentsBucketPolicy"]["Properties"]["PolicyDocument"]
    statement = next(
        s for s in policy["Statement"] if s.get("Sid") == "OnlyTheDocumentsFunctionsTouchObjects"
    )
    without_cdn = statement["Condition"]["Fn::If"][2]
    roles = _role_ids(without_cdn["ArnNotEquals"]["aws:PrincipalArn"])

    # When the page's snippet of it is read
    text = (DOCS / "documents-bucket.md").read_text()
    snippet = next(
        block
        for block in re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)
        if "OnlyTheDocumentsFunctionsTouchObjects" in block
    )
    shown = re.search(r"aws:PrincipalArn: \[(.*?)\]", snippet)

    # Then it names the same roles, in the same order
    assert shown is not None
    assert [name.strip(" <>") for name in shown.group(1).split(",")] == roles
    assert len(roles) == 3
