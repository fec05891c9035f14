"""What the document rules need from storage: a metadata repository and an object store.

Metadata (name, type, size, status) lives apart from the bytes so that reading and listing
documents never touches, let alone scans, the bucket. Implementations raise domain errors
or return None/False for "not there"; driver exceptions mean something unexpected.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from customer_platform.documents.models import Document


@dataclass(frozen=True)
class Page:
    items: list[Document]
    # where the next page starts when more items follow, else None (the caller signs it)
    cursor: str | None


class DocumentRepository(Protocol):
    def add(self, document: Document, expires_at: int) -> None:
        """Store a new pending document; the store may forget it after `expires_at` (epoch s)
        unless it is marked uploaded first."""

    def get(self, document_id: str) -> Document | None:
        """The document in any status, or None. Reads are strongly consistent."""

    def mark_uploaded(
        self, document_id: str, size: int, uploaded_at: datetime, version_id: str | None
    ) -> Document | None:
        """Record a verified upload of object version `version_id`, once: a document that
        is already uploaded keeps what it has, and the answer is the stored document (its
        `version_id` says which upload counts). None when the document no longer exists."""

    def list_uploaded(self, limit: int, cursor: str | None) -> Page:
        """Up to `limit` uploaded documents, newest upload first, starting after `cursor`."""

    def remove(self, document_id: str) -> bool:
        """Delete the metadata; False when it was already gone."""


@dataclass(frozen=True)
class PresignedPost:
    url: str
    fields: dict[str, str] = field(default_factory=dict)
    expires_in: int = 0  # seconds the form really works (documents/signing.py)


@dataclass(frozen=True)
class PresignedUrl:
    url: str
    expires_in: int  # seconds the URL really works (documents/signing.py)


@dataclass(frozen=True)
class StoredObject:
    size: int
    content_type: str
    last_modified: datetime
    version_id: str | None


class DocumentStorage(Protocol):
    def presigned_post(
        self, key: str, filename: str, content_type: str, max_bytes: int, expires_in: int
    ) -> PresignedPost:
        """A form upload whose signed policy pins `key`, `content_type`, 1..max_bytes and
        a `Content-Disposition` naming `filename`, for `expires_in` seconds or less (the
        answer says)."""

    def presigned_get(
        self,
        key: str,
        filename: str,
        content_type: str,
        expires_in: int,
        version_id: str | None = None,
    ) -> PresignedUrl:
        """A download URL of the object's version `version_id` (None: the current one)
        that answers with `content_type` as an attachment named `filename`, for
        `expires_in` seconds or less (the answer says)."""

    def head(self, key: str) -> StoredObject | None:
        """The current version's size, type and version id, or None when there is no
        object under `key`."""

    def delete(self, key: str, version_id: str | None = None) -> None:
        """Delete `key` (a delete marker), or purge one version of it for good."""
