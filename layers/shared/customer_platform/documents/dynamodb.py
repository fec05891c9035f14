"""DocumentRepository on DynamoDB.

One item per document, keyed by `documentId`:

    documentId, filename, contentType, objectKey, status, createdAt
    pending only:   expiresAt (epoch seconds; the table's TTL forgets abandoned uploads)
    uploaded only:  size, uploadedAt, versionId (the confirmed object version),
                    listing = "uploaded"

Listing queries the sparse `UploadedDocuments` index (partition `listing`, sort
`uploadedAt`): only uploaded items carry `listing`, so pending uploads cost no read
capacity, a page holds exactly `limit` documents, and the newest upload comes first. One
constant partition is fine at this scale (an index partition takes 1,000 writes a second;
uploads arrive far slower); shard the key if that ever changes.
"""

from datetime import datetime
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from customer_platform.customers.models import format_timestamp, parse_timestamp
from customer_platform.documents.models import Document, DocumentStatus
from customer_platform.documents.repository import Page
from customer_platform.errors import BadRequest

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

LISTED = "uploaded"  # the one value of `listing`
_CURSOR_SEPARATOR = "|"

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _attrs(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _serializer.serialize(value) for name, value in item.items()}


def _key(document_id: str) -> dict[str, Any]:
    return _attrs({"documentId": document_id})


def to_item(document: Document) -> dict[str, Any]:
    item: dict[str, Any] = {
        "documentId": document.id,
        "filename": document.filename,
        "contentType": document.content_type,
        "objectKey": document.object_key,
        "status": document.status.value,
        "createdAt": format_timestamp(document.created_at),
    }
    if document.status is DocumentStatus.UPLOADED:
        if document.size is None or document.uploaded_at is None:
            raise ValueError("an uploaded document has a size and an upload time")
        item |= {
            "size": document.size,
            "uploadedAt": format_timestamp(document.uploaded_at),
            "listing": LISTED,
        }
        if document.version_id is not None:
            item["versionId"] = document.version_id
    return _attrs(item)


def from_item(item: dict[str, Any]) -> Document:
    plain = {name: _deserializer.deserialize(value) for name, value in item.items()}
    return Document(
        id=plain["documentId"],
        filename=plain["filename"],
        content_type=plain["contentType"],
        object_key=plain["objectKey"],
        status=DocumentStatus(plain["status"]),
        created_at=parse_timestamp(plain["createdAt"]),
        size=int(plain["size"]) if "size" in plain else None,
        uploaded_at=parse_timestamp(plain["uploadedAt"]) if "uploadedAt" in plain else None,
        version_id=plain.get("versionId"),
    )


def _is_condition_failure(error: ClientError) -> bool:
    return error.response["Error"]["Code"] == "ConditionalCheckFailedException"


class DynamoDBDocumentRepository:
    def __init__(self, client: "DynamoDBClient", table_name: str, list_index: str) -> None:
        self._client = client
        self._table = table_name
        self._index = list_index

    def add(self, document: Document, expires_at: int) -> None:
        self._client.put_item(
            TableName=self._table,
            Item=to_item(document) | _attrs({"expiresAt": expires_at}),
            ConditionExpression="attribute_not_exists(documentId)",  # a fresh UUID: never fails
        )

    def get(self, document_id: str) -> Document | None:
        response = self._client.get_item(
            TableName=self._table, Key=_key(document_id), ConsistentRead=True
        )
        item = response.get("Item")
        return from_item(item) if item else None

    def mark_uploaded(
        self, document_id: str, size: int, uploaded_at: datetime, version_id: str | None
    ) -> Document | None:
        # Only a pending document is marked: an upload, once confirmed, never changes.
        values = {
            ":uploaded": DocumentStatus.UPLOADED.value,
            ":pending": DocumentStatus.PENDING.value,
            ":size": size,
            ":at": format_timestamp(uploaded_at),
            ":listed": LISTED,
        }
        assignments = "#status = :uploaded, #size = :size, uploadedAt = :at, listing = :listed"
        if version_id is not None:
            values[":version"] = version_id
            assignments += ", versionId = :version"
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=_key(document_id),
                UpdateExpression=f"SET {assignments} REMOVE expiresAt",
                ConditionExpression="attribute_exists(documentId) AND #status = :pending",
                ExpressionAttributeNames={"#status": "status", "#size": "size"},
                ExpressionAttributeValues=_attrs(values),
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if _is_condition_failure(error):
                return self.get(document_id)  # gone (None), or already uploaded: as it is
            raise
        return from_item(response["Attributes"])

    def list_uploaded(self, limit: int, cursor: str | None) -> Page:
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": self._index,
            "KeyConditionExpression": "listing = :listed",
            "ExpressionAttributeValues": _attrs({":listed": LISTED}),
            "ScanIndexForward": False,
        }
        if cursor is not None:
            request["ExclusiveStartKey"] = _start_key(cursor)
        # Ask for one more than needed: if it comes back, there is a next page and the last
        # item returned is where it starts. No empty trailing page.
        items: list[Document] = []
        while len(items) <= limit:
            response = self._client.query(**request, Limit=limit + 1 - len(items))
            items.extend(from_item(item) for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        if len(items) > limit:
            return Page(items=items[:limit], cursor=_cursor(items[limit - 1]))
        return Page(items=items, cursor=None)

    def remove(self, document_id: str) -> bool:
        try:
            self._client.delete_item(
                TableName=self._table,
                Key=_key(document_id),
                ConditionExpression="attribute_exists(documentId)",
            )
        except ClientError as error:
            if _is_condition_failure(error):
                return False
            raise
        return True


def _cursor(document: Document) -> str:
    if document.uploaded_at is None:
        raise ValueError("only uploaded documents are listed")
    return f"{format_timestamp(document.uploaded_at)}{_CURSOR_SEPARATOR}{document.id}"


def _start_key(cursor: str) -> dict[str, Any]:
    # The cursor arrives inside an HMAC-signed token this API issued, so it is well formed;
    # checked anyway, because a key that does not match the index is a 500 otherwise.
    uploaded_at, separator, document_id = cursor.partition(_CURSOR_SEPARATOR)
    if not separator or not document_id:
        raise BadRequest("nextToken is malformed or was not issued by this API")
    return _attrs({"documentId": document_id, "listing": LISTED, "uploadedAt": uploaded_at})
