"""The documents bucket, table and permissions exactly as template.yaml declares them: what
the local stack built in moto, and the resolved policies moto cannot enforce."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from local_stack.assembly.stack import LocalStack
from local_stack.services.endpoint import AwsEndpoint
from tests.conftest import deploy

PUBLIC_KEY = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAA\n-----END PUBLIC KEY-----"
OBJECT_ACTIONS = {
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
}


def resolved(stack: LocalStack, logical_id: str, *path: str) -> Any:
    node = stack.template.transformed["Resources"][logical_id]["Properties"]
    for part in path:
        node = node[part]
    return stack.cloud.resolve(node)


def bucket_policy(stack: LocalStack) -> dict[str, Any]:
    policy: dict[str, Any] = resolved(stack, "DocumentsBucketPolicy", "PolicyDocument")
    policy["Statement"] = [s for s in policy["Statement"] if s is not None]  # AWS::NoValue
    return policy


def statement(policy: dict[str, Any], sid: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in policy["Statement"] if s.get("Sid") == sid)
    return found


def role_statements(stack: LocalStack, function: str) -> list[dict[str, Any]]:
    role = stack.template.transformed["Resources"][f"{function}Role"]["Properties"]
    return [
        stack.cloud.resolve(s)
        for policy in role.get("Policies", [])
        for s in policy["PolicyDocument"]["Statement"]
    ]


@pytest.fixture(scope="module")
def bucket(stack: LocalStack) -> str:
    return stack.cloud.physical_id("DocumentsBucket")


@pytest.fixture(scope="module")
def s3(stack: LocalStack) -> Any:
    return boto3.client("s3", region_name=stack.region)


@pytest.fixture(scope="module")
def cdn_stack(aws: AwsEndpoint, function_logs: Path) -> Iterator[LocalStack]:
    deployed = deploy(
        aws,
        function_logs,
        "t-documents-cdn",
        {"EnableDocumentsCdn": "true", "DocumentsCdnPublicKeyPem": PUBLIC_KEY},
    )
    yield deployed
    deployed.close()


# -- the bucket moto holds -----------------------------------------------------------------------


def test_all_four_public_access_blocks_are_on(s3: Any, bucket: str):
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]

    assert block == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }


def test_acls_are_disabled_the_bucket_owner_owns_every_object(s3: Any, bucket: str):
    rules = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]

    assert rules == [{"ObjectOwnership": "BucketOwnerEnforced"}]


def test_objects_are_encrypted_with_the_stack_key_and_a_bucket_key(
    stack: LocalStack, s3: Any, bucket: str
):
    (rule,) = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]

    assert rule["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": stack.cloud.resolve({"Fn::GetAtt": ["AppKey", "Arn"]}),
    }
    assert rule["BucketKeyEnabled"] is True


def test_versioning_is_on(s3: Any, bucket: str):
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"


def test_lifecycle_tiers_expires_old_versions_and_aborts_stale_multipart_uploads(
    s3: Any, bucket: str
):
    rules = {
        rule["ID"]: rule for rule in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    }

    tiering = rules["DocumentsToIntelligentTiering"]
    assert tiering["Status"] == "Enabled"
    assert tiering["Transitions"] == [{"Days": 0, "StorageClass": "INTELLIGENT_TIERING"}]
    assert tiering["Filter"]["And"]["Prefix"] == "documents/"
    assert rules["ExpireNoncurrentVersions"]["NoncurrentVersionExpiration"] == {
        "NoncurrentDays": 30
    }
    assert rules["AbortIncompleteMultipartUploads"]["AbortIncompleteMultipartUpload"] == {
        "DaysAfterInitiation": 1
    }


def test_objects_too_small_for_intelligent_tiering_stay_in_standard(stack: LocalStack):
    # moto keeps no object-size filters, so this one is read from the resolved template
    rules = resolved(stack, "DocumentsBucket", "LifecycleConfiguration", "Rules")

    tiering = next(rule for rule in rules if rule["Id"] == "DocumentsToIntelligentTiering")
    assert tiering["ObjectSizeGreaterThan"] == 131072  # 128 KiB: smaller objects never tier


def test_cors_allows_browser_uploads_from_the_configured_origins_only(s3: Any, bucket: str):
    (rule,) = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]

    assert rule["AllowedOrigins"] == ["http://localhost:3000"]
    assert sorted(rule["AllowedMethods"]) == ["GET", "HEAD", "POST"]


def test_object_created_under_documents_notifies_the_upload_checker(
    stack: LocalStack, s3: Any, bucket: str
):
    config = s3.get_bucket_notification_configuration(Bucket=bucket)

    (target,) = config["LambdaFunctionConfigurations"]
    # the function's published "live" alias (AutoPublishAlias), as every event source uses
    function_arn = stack.cloud.resolve({"Fn::GetAtt": ["DocumentUploadedFunction", "Arn"]})
    assert target["LambdaFunctionArn"] == f"{function_arn}:live"
    assert target["Events"] == ["s3:ObjectCreated:*"]
    (rule,) = target["Filter"]["Key"]["FilterRules"]
    assert (rule["Name"].lower(), rule["Value"]) == ("prefix", "documents/")


def test_the_metadata_table_is_the_one_template_yaml_declares(stack: LocalStack):
    declared = stack.template.source["Resources"]["DocumentsTable"]["Properties"]
    dynamodb = boto3.client("dynamodb", region_name=stack.region)

    table = dynamodb.describe_table(TableName=stack.cloud.physical_id("DocumentsTable"))["Table"]

    assert table["KeySchema"] == declared["KeySchema"]
    assert [(i["IndexName"], i["KeySchema"]) for i in table["GlobalSecondaryIndexes"]] == [
        (i["IndexName"], i["KeySchema"]) for i in declared["GlobalSecondaryIndexes"]
    ]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"


# -- the bucket policy (moto stores no policy it cannot evaluate; read it resolved) -------------


def test_requests_without_tls_are_denied_on_the_bucket_and_its_objects(
    stack: LocalStack, bucket: str
):
    deny = statement(bucket_policy(stack), "DenyRequestsWithoutTls")

    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", "s3:*")
    assert deny["Resource"] == [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_only_the_documents_roles_may_read_or_write_objects(stack: LocalStack, bucket: str):
    deny = statement(bucket_policy(stack), "OnlyTheDocumentsFunctionsTouchObjects")

    roles = [
        stack.cloud.resolve({"Fn::GetAtt": [f"{function}Role", "Arn"]})
        for function in ("DocumentsFunction", "DocumentUploadedFunction", "DocumentsUrlSigner")
    ]
    assert (deny["Effect"], deny["Principal"]) == ("Deny", "*")
    assert set(deny["Action"]) == OBJECT_ACTIONS
    assert deny["Resource"] == f"arn:aws:s3:::{bucket}/*"  # objects only: admins keep the bucket
    assert deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": roles}}


def test_without_the_cdn_nothing_else_is_granted(stack: LocalStack):
    policy = bucket_policy(stack)

    assert [s["Sid"] for s in policy["Statement"]] == [
        "DenyRequestsWithoutTls",
        "OnlyTheDocumentsFunctionsTouchObjects",
    ]
    assert not stack.cloud.deployed("DocumentsDistribution")
    assert "DocumentsDistributionDomainName" not in stack.outputs()


# -- least privilege of the two functions ---------------------------------------------------------


def actions_of(granted: dict[str, Any]) -> list[str]:
    action = granted["Action"]
    return [action] if isinstance(action, str) else list(action)


@pytest.mark.parametrize(
    "function", ["DocumentsFunction", "DocumentUploadedFunction", "DocumentsUrlSigner"]
)
def test_object_permissions_are_scoped_to_the_documents_prefix(
    stack: LocalStack, bucket: str, function: str
):
    s3_grants = [
        granted
        for granted in role_statements(stack, function)
        if any(action.startswith("s3:") for action in actions_of(granted))
    ]

    assert s3_grants
    for granted in s3_grants:
        if actions_of(granted) == ["s3:ListBucket"]:  # 404 rather than 403 for a missing key
            assert granted["Resource"] == f"arn:aws:s3:::{bucket}"
        else:
            assert granted["Resource"] == f"arn:aws:s3:::{bucket}/documents/*"
            assert set(actions_of(granted)) <= OBJECT_ACTIONS


def test_only_the_url_signer_may_sign_uploads_and_only_the_api_function_may_be_it(
    stack: LocalStack,
):
    """Mutation caught: PutObject back on a function's own role (a URL signed with the
    function's credentials, of unknown expiry), or a signer anyone may assume."""

    def actions(function: str) -> set[str]:
        return {a for granted in role_statements(stack, function) for a in actions_of(granted)}

    resources = stack.template.transformed["Resources"]
    signer = resources["DocumentsUrlSignerRole"]["Properties"]
    sessions = resources["DocumentsUrlSigningSessions"]["Properties"]

    assert "s3:PutObject" in actions("DocumentsUrlSigner")
    assert "s3:PutObject" not in actions("DocumentsFunction") | actions("DocumentUploadedFunction")
    assert [s["Principal"] for s in signer["AssumeRolePolicyDocument"]["Statement"]] == [
        {"AWS": {"Fn::GetAtt": ["DocumentsFunctionRole", "Arn"]}}
    ]
    assert sessions["Roles"] == [{"Ref": "DocumentsFunctionRole"}]
    assert sessions["PolicyDocument"]["Statement"] == [
        {
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Resource": {"Fn::GetAtt": ["DocumentsUrlSignerRole", "Arn"]},
        }
    ]
    assert signer["MaxSessionDuration"] == 3600


# -- parameters: the CloudFront option and SSE-S3 --------------------------------------------------


def test_with_the_cdn_cloudfront_may_read_documents_for_its_own_distribution(
    cdn_stack: LocalStack,
):
    policy = bucket_policy(cdn_stack)
    distribution_arn = (
        "arn:aws:cloudfront::123456789012:distribution/"
        f"{cdn_stack.cloud.physical_id('DocumentsDistribution')}"
    )
    bucket = cdn_stack.cloud.physical_id("DocumentsBucket")

    allow = statement(policy, "CloudFrontReadsDocumentsForItsDistribution")
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert (allow["Action"], allow["Resource"]) == (
        "s3:GetObject",
        f"arn:aws:s3:::{bucket}/documents/*",
    )
    assert allow["Condition"] == {"StringEquals": {"aws:SourceArn": distribution_arn}}
    deny = statement(policy, "OnlyTheDocumentsFunctionsTouchObjects")
    assert deny["Condition"]["StringNotEquals"] == {"aws:SourceArn": distribution_arn}
    assert cdn_stack.outputs()["DocumentsDistributionDomainName"].endswith(".cloudfront.net")


def test_with_the_cdn_the_distribution_is_https_only_signed_urls_only_behind_oac(
    cdn_stack: LocalStack,
):
    config = resolved(cdn_stack, "DocumentsDistribution", "DistributionConfig")

    (origin,) = config["Origins"]
    behaviour = config["DefaultCacheBehavior"]
    assert origin["OriginAccessControlId"] == cdn_stack.cloud.physical_id(
        "DocumentsCdnOriginAccessControl"
    )
    assert origin["DomainName"] == (
        f"{cdn_stack.cloud.physical_id('DocumentsBucket')}.s3.us-east-1.amazonaws.com"
    )
    assert behaviour["ViewerProtocolPolicy"] == "https-only"
    assert behaviour["TrustedKeyGroups"] == [cdn_stack.cloud.physical_id("DocumentsCdnKeyGroup")]
    oac = resolved(cdn_stack, "DocumentsCdnOriginAccessControl", "OriginAccessControlConfig")
    assert (oac["SigningBehavior"], oac["SigningProtocol"]) == ("always", "sigv4")


def test_with_the_cdn_on_kms_cloudfront_may_decrypt_for_this_accounts_distributions(
    cdn_stack: LocalStack, stack: LocalStack
):
    def sids(deployed: LocalStack) -> list[str]:
        key_policy = resolved(deployed, "AppKey", "KeyPolicy")
        return [s["Sid"] for s in key_policy["Statement"] if s is not None]

    assert "CloudFrontDecryptsDocumentsForThisAccountsDistributions" in sids(cdn_stack)
    assert "CloudFrontDecryptsDocumentsForThisAccountsDistributions" not in sids(stack)


def test_sse_s3_by_parameter(aws: AwsEndpoint, function_logs: Path):
    deployed = deploy(aws, function_logs, "t-documents-sse-s3", {"DocumentsEncryption": "SSE-S3"})
    s3 = boto3.client("s3", region_name=deployed.region)

    (rule,) = s3.get_bucket_encryption(Bucket=deployed.cloud.physical_id("DocumentsBucket"))[
        "ServerSideEncryptionConfiguration"
    ]["Rules"]

    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
