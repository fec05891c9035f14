"""DocumentStorage on S3: presigned POST for uploads, presigned GET for downloads.

Presigning is local arithmetic (an HMAC with the function's credentials), not an API call;
the URL carries the signer's permissions, which is why the bucket policy names the
documents functions' roles. Only `head` and `delete` talk to S3.
"""

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from customer_platform.documents.models import content_disposition
from customer_platform.documents.repository import PresignedPost, StoredObject

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_MISSING = {"404", "NoSuchKey", "NotFound"}


class S3DocumentStorage:
    def __init__(self, client: "S3Client", bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    def presigned_post(
        self, key: str, filename: str, content_type: str, max_bytes: int, expires_in: int
    ) -> PresignedPost:
        # botocore adds the exact-match `bucket` and `key` conditions itself; the policy
        # also pins the type and the size, so S3 refuses any other upload with a 403. The
        # object keeps its download name, so it arrives as an attachment by any route
        # (a CloudFront signed URL cannot override response headers).
        disposition = content_disposition(filename)
        post = self._client.generate_presigned_post(
            Bucket=self._bucket,
            Key=key,
            Fields={"Content-Type": content_type, "Content-Disposition": disposition},
            Conditions=[
                {"Content-Type": content_type},
                {"Content-Disposition": disposition},
                ["content-length-range", 1, max_bytes],
            ],
            ExpiresIn=expires_in,
        )
        return PresignedPost(url=post["url"], fields={k: str(v) for k, v in post["fields"].items()})

    def presigned_get(self, key: str, filename: str, content_type: str, expires_in: int) -> str:
        return self._client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self._bucket,
                "Key": key,
                "ResponseContentDisposition": content_disposition(filename),
                "ResponseContentType": content_type,
            },
            ExpiresIn=expires_in,
        )

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
