"""DocumentStorage on S3: presigned POST for uploads, presigned GET for downloads.

Presigning is local arithmetic (an HMAC with the signer's credentials), not an API call;
the URL carries the signer's permissions, which is why the bucket policy names the URL
signer's role. URLs are signed with a session of known expiry (documents/signing.py) and
say how long they really work. Only `head` and `delete` talk to S3, with the function's
own credentials.
"""

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from customer_platform.documents.models import content_disposition
from customer_platform.documents.repository import PresignedPost, PresignedUrl, StoredObject
from customer_platform.documents.signing import SessionSigner

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_MISSING = {"404", "NoSuchKey", "NotFound"}


class S3DocumentStorage:
    def __init__(
        self, client: "S3Client", bucket: str, signer: SessionSigner | None = None
    ) -> None:
        self._client = client
        self._bucket = bucket
        self._signer = signer  # None: this function only checks and deletes objects

    def _signing(self, expires_in: int) -> tuple["S3Client", int]:
        if self._signer is None:
            raise RuntimeError("this storage has no URL signer")
        return self._signer.signing_client(expires_in)

    def presigned_post(
        self, key: str, filename: str, content_type: str, max_bytes: int, expires_in: int
    ) -> PresignedPost:
        # botocore adds the exact-match `bucket` and `key` conditions itself; the policy
        # also pins the type and the size, so S3 refuses any other upload with a 403. The
        # object keeps its download name, so it arrives as an attachment by any route
        # (a CloudFront signed URL cannot override response headers).
        disposition = content_disposition(filename)
        client, works_for = self._signing(expires_in)
        post = client.generate_presigned_post(
            Bucket=self._bucket,
            Key=key,
            Fields={"Content-Type": content_type, "Content-Disposition": disposition},
            Conditions=[
                {"Content-Type": content_type},
                {"Content-Disposition": disposition},
                ["content-length-range", 1, max_bytes],
            ],
            ExpiresIn=works_for,
        )
        fields = {k: str(v) for k, v in post["fields"].items()}
        return PresignedPost(url=post["url"], fields=fields, expires_in=works_for)

    def presigned_get(
        self,
        key: str,
        filename: str,
        content_type: str,
        expires_in: int,
        version_id: str | None = None,
    ) -> PresignedUrl:
        client, works_for = self._signing(expires_in)
        params = {
            "Bucket": self._bucket,
            "Key": key,
            "ResponseContentDisposition": content_disposition(filename),
            "ResponseContentType": content_type,
        }
        if version_id is not None:  # the confirmed upload, whatever came after it
            params["VersionId"] = version_id
        url = client.generate_presigned_url("get_object", Params=params, ExpiresIn=works_for)
        return PresignedUrl(url=url, expires_in=works_for)

    def head(self, key: str) -> StoredObject | None:
        try:
            response = self._client.head_object(Bucket=self._bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _MISSING:
                return None
            raise
        return StoredObject(
            size=response["ContentLength"],
            content_type=response.get("ContentType", ""),
            last_modified=response["LastModified"],
            version_id=response.get("VersionId"),
        )

    def delete(self, key: str, version_id: str | None = None) -> None:
        if version_id is None:
            self._client.delete_object(Bucket=self._bucket, Key=key)
        else:
            self._client.delete_object(Bucket=self._bucket, Key=key, VersionId=version_id)
