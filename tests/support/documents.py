"""A small client for the documents API and the presigned S3 requests it hands out."""

import base64
import json
import uuid
from dataclasses import dataclass
from typing import Any

import boto3
import requests
from botocore.config import Config

from local_stack.assembly.stack import LocalStack
from local_stack.services.apigateway import ApiResponse, LocalApi
from tests.support.polling import rounds

# moto answers S3 in a few milliseconds; the limit only stops a hung test.
S3_TIMEOUT_SECONDS = 30


def unique_filename(suffix: str = ".pdf") -> str:
    return f"report-{uuid.uuid4().hex[:8]}{suffix}"


def post_policy(fields: dict[str, str]) -> dict[str, Any]:
    """The decoded policy document of a presigned POST."""
    policy: dict[str, Any] = json.loads(base64.b64decode(fields["policy"]))
    return policy


def upload(
    slot: dict[str, Any], content: bytes, *, fields: dict[str, str] | None = None
) -> requests.Response:
    """POST the file as a multipart form, the way a browser form or curl -F does."""
    form = slot["upload"]["fields"] | (fields or {})
    return requests.post(
        slot["upload"]["url"],
        data=form,
        files={"file": (slot["filename"], content, form.get("Content-Type"))},
        timeout=S3_TIMEOUT_SECONDS,
    )


def download(url: str) -> requests.Response:
    return requests.get(url, timeout=S3_TIMEOUT_SECONDS)


@dataclass
class SignerSession:
    """A session of DocumentsUrlSignerRole, opened as the documents function opens one (its
    role may assume the signer role), and an S3 client that signs with it (SigV4)."""

    credentials: dict[str, Any]  # AssumeRole's Credentials, Expiration included
    s3: Any

    @classmethod
    def open(cls, stack: LocalStack, seconds: int = 3600) -> "SignerSession":
        function = stack.function("DocumentsFunction")
        caller = boto3.session.Session(
            aws_access_key_id=function.credentials.access_key_id,
            aws_secret_access_key=function.credentials.secret_access_key,
            aws_session_token=function.credentials.session_token,
            region_name=stack.region,
        )
        role = stack.cloud.resolve({"Fn::GetAtt": ["DocumentsUrlSignerRole", "Arn"]})
        sts = caller.client("sts", endpoint_url=stack.endpoint.url)
        opened = sts.assume_role(RoleArn=role, RoleSessionName="test", DurationSeconds=seconds)
        credentials: dict[str, Any] = dict(opened["Credentials"])
        s3 = boto3.client(
            "s3",
            endpoint_url=stack.endpoint.url,
            region_name=stack.region,
            aws_access_key_id=str(credentials["AccessKeyId"]),
            aws_secret_access_key=str(credentials["SecretAccessKey"]),
            aws_session_token=str(credentials["SessionToken"]),
            config=Config(signature_version="s3v4"),
        )
        return cls(credentials, s3)


@dataclass
class DocumentsClient:
    api: LocalApi

    def call(
        self,
        method: str,
        path: str = "",
        body: Any = None,
        *,
        query: dict[str, str] | None = None,
    ) -> ApiResponse:
        payload = None if body is None else json.dumps(body)
        return self.api.request(method, "/documents" + path, body=payload, query=query)

    def create(
        self, filename: str | None = None, content_type: str = "application/pdf"
    ) -> dict[str, Any]:
        response = self.call(
            "POST", body={"filename": filename or unique_filename(), "contentType": content_type}
        )
        assert response.status == 201, response.body
        slot: dict[str, Any] = response.json()
        return slot

    def create_uploaded(
        self,
        content: bytes = b"%PDF-1.7 example",
        filename: str | None = None,
        content_type: str = "application/pdf",
    ) -> dict[str, Any]:
        """A document whose bytes went up through its presigned POST; its GET body."""
        slot = self.create(filename, content_type)
        sent = upload(slot, content)
        assert sent.status_code == 204, sent.text
        response = self.call("GET", f"/{slot['id']}")
        assert response.status == 200, response.body
        document: dict[str, Any] = response.json()
        return document

    def list_all(self, limit: int = 100) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        query = {"limit": str(limit)}
        for _ in rounds("a page without nextToken"):
            response = self.call("GET", query=query)
            assert response.status == 200, response.body
            page = response.json()
            items.extend(page["items"])
            if page["nextToken"] is None:
                return items
            query = {"limit": str(limit), "nextToken": page["nextToken"]}
        return items  # pragma: no cover - rounds() raises first
