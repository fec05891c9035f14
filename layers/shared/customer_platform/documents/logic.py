"""Document rules, independent of HTTP, DynamoDB and S3.

A document's life: POST hands out a presigned upload and stores the metadata as
`pending`; the client sends the bytes straight to S3; S3's ObjectCreated notification
(or, if a client asks before it arrives, the first GET) checks the object against what
was announced and marks the document `uploaded`, or removes an object that does not
match. Only uploaded documents are visible: GET, list and DELETE answer 404 for the rest.

A confirmed upload never changes. The presigned POST stays valid until it expires (S3
POST policies are reusable), so the same form can be sent again after the upload was
confirmed: the bucket is versioned, the new bytes become a new version under the same key,
and its notification undoes it (that version is deleted, the confirmed one is current
again) and logs an audit record. Until the notification arrives, downloads are signed for
the confirmed version, so nobody is served the replacement meanwhile.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from aws_lambda_powertools import Logger

from customer_platform.documents.models import (
    Document,
    DocumentInput,
    DocumentPage,
    DocumentStatus,
    DocumentSummary,
    DocumentWithDownload,
    Download,
    PresignedUpload,
    UploadPolicy,
    UploadSlot,
    document_id_of_key,
    is_document_id,
    new_document_id,
    object_key,
)
from customer_platform.documents.repository import (
    DocumentRepository,
    DocumentStorage,
    StoredObject,
)
from customer_platform.errors import NotFound
from customer_platform.pagination import PageTokenCodec

Clock = Callable[[], datetime]

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
# A pending document outlives its upload URL by a day (a late notification still finds
# it); after that the table's TTL forgets uploads that never happened.
PENDING_GRACE_SECONDS = 86_400

logger = Logger(child=True)


def utc_now() -> datetime:
    return datetime.now(UTC)


def _not_found(document_id: str) -> NotFound:
    return NotFound(f"document {document_id!r} not found")


# -- upload slots ---------------------------------------------------------------------------


def create_document(
    repo: DocumentRepository,
    storage: DocumentStorage,
    policy: UploadPolicy,
    data: DocumentInput,
    clock: Clock = utc_now,
) -> UploadSlot:
    now = clock()
    document_id = new_document_id()
    document = Document(
        id=document_id,
        filename=data.filename,
        content_type=data.content_type,
        object_key=object_key(document_id, data.filename),
        status=DocumentStatus.PENDING,
        created_at=now.replace(microsecond=now.microsecond // 1000 * 1000),
    )
    repo.add(
        document,
        expires_at=int(now.timestamp()) + policy.url_expiry_seconds + PENDING_GRACE_SECONDS,
    )
    post = storage.presigned_post(
        document.object_key,
        document.filename,
        document.content_type,
        policy.max_upload_bytes,
        policy.url_expiry_seconds,
    )
    return UploadSlot(
        id=document.id,
        filename=document.filename,
        content_type=document.content_type,
        upload=PresignedUpload(url=post.url, fields=post.fields),
        # what the signing session allows: never longer than the URL really works
        expires_in=post.expires_in,
    )


# -- checking what arrived ------------------------------------------------------------------


class Outcome(StrEnum):
    UPLOADED = "uploaded"  # the object matches: the document is visible
    NOT_YET = "not-yet"  # no object under the key (yet)
    REJECTED = "rejected"  # wrong type or size: that object version was purged
    ORPHAN = "orphan"  # no document owns the key: the object version was purged
    REPLACEMENT = "replacement-undone"  # a version after the confirmed one: purged


@dataclass(frozen=True)
class UploadCheck:
    outcome: Outcome
    document: Document | None
    reason: str | None = None


def _mismatch(document: Document, size: int, content_type: str, policy: UploadPolicy) -> str | None:
    if content_type.lower() != document.content_type:
        return f"content type {content_type!r} is not the announced {document.content_type!r}"
    if not 1 <= size <= policy.max_upload_bytes:
        return f"size {size} is outside 1..{policy.max_upload_bytes} bytes"
    return None


def _undo_replacement(
    storage: DocumentStorage, document: Document, stored: StoredObject
) -> UploadCheck:
    """A version stored after the confirmed one: delete it, so the confirmed version is
    the current one again, and leave an audit record of the attempt."""
    undone = stored.version_id is not None
    if undone:
        storage.delete(document.object_key, stored.version_id)
    logger.warning(
        "replacement of a confirmed document undone" if undone else "replacement NOT undone",
        extra={
            "audit": "DocumentReplacementRefused",
            "documentId": document.id,
            "key": document.object_key,
            "confirmedVersion": document.version_id,
            "refusedVersion": stored.version_id,
            "refusedSize": stored.size,
            "undone": undone,
        },
    )
    return UploadCheck(Outcome.REPLACEMENT, document, "the document was already uploaded")


def _recheck(storage: DocumentStorage, document: Document, stored: StoredObject) -> UploadCheck:
    """An object under an uploaded document's key: the confirmed version (a notification
    told twice, or a check after the GET's), or a later one to undo."""
    if document.version_id is None or stored.version_id == document.version_id:
        return UploadCheck(Outcome.UPLOADED, document)
    return _undo_replacement(storage, document, stored)


def check_upload(
    repo: DocumentRepository, storage: DocumentStorage, policy: UploadPolicy, document: Document
) -> UploadCheck:
    """Compare the object under the document's key with what the client announced, or,
    for a document already uploaded, with the version that was confirmed."""
    stored = storage.head(document.object_key)
    if stored is None:
        return UploadCheck(Outcome.NOT_YET, document)
    if document.status is DocumentStatus.UPLOADED:
        return _recheck(storage, document, stored)
    reason = _mismatch(document, stored.size, stored.content_type, policy)
    if reason is not None:
        # The presigned POST's policy already makes S3 refuse such an upload; this catches
        # any other writer. Purge the version, not just hide it behind a delete marker.
        storage.delete(document.object_key, stored.version_id)
        logger.warning(
            "upload rejected and removed",
            extra={"documentId": document.id, "key": document.object_key, "reason": reason},
        )
        return UploadCheck(Outcome.REJECTED, document, reason)
    marked = repo.mark_uploaded(document.id, stored.size, stored.last_modified, stored.version_id)
    if marked is None:  # deleted (or expired) while the bytes were on their way
        storage.delete(document.object_key, stored.version_id)
        return UploadCheck(Outcome.ORPHAN, None, "the document was deleted before its upload")
    if marked.version_id is not None and marked.version_id != stored.version_id:
        return _undo_replacement(storage, marked, stored)  # another check confirmed first
    return UploadCheck(Outcome.UPLOADED, marked)


def object_created(
    repo: DocumentRepository, storage: DocumentStorage, policy: UploadPolicy, key: str
) -> UploadCheck:
    """S3 says an object appeared under `key`: verify it, or purge it if nobody owns it."""
    document_id = document_id_of_key(key)
    document = repo.get(document_id) if document_id is not None else None
    if document is None or document.object_key != key:
        stored = storage.head(key)
        if stored is not None:
            storage.delete(key, stored.version_id)
        logger.warning("object without a document removed", extra={"key": key})
        return UploadCheck(Outcome.ORPHAN, None, "no document owns this key")
    return check_upload(repo, storage, policy, document)


def _uploaded_document(
    repo: DocumentRepository, storage: DocumentStorage, policy: UploadPolicy, document_id: str
) -> Document:
    # An id we could never have issued is simply not found; it never reaches the store.
    document = repo.get(document_id) if is_document_id(document_id) else None
    if document is not None and document.status is DocumentStatus.PENDING:
        # The notification is asynchronous; a client that asks right after its upload
        # should not see a 404 for a document that is in fact there.
        document = check_upload(repo, storage, policy, document).document
    if document is None or document.status is not DocumentStatus.UPLOADED:
        raise _not_found(document_id)
    return document


# -- reads and deletes ----------------------------------------------------------------------


def get_document(
    repo: DocumentRepository, storage: DocumentStorage, policy: UploadPolicy, document_id: str
) -> DocumentWithDownload:
    document = _uploaded_document(repo, storage, policy, document_id)
    signed = storage.presigned_get(
        document.object_key,
        document.filename,
        document.content_type,
        policy.url_expiry_seconds,
        document.version_id,
    )
    summary = DocumentSummary.of(document)
    return DocumentWithDownload(
        **dict(summary), download=Download(url=signed.url, expires_in=signed.expires_in)
    )


def list_documents(
    repo: DocumentRepository, tokens: PageTokenCodec, limit: int, next_token: str | None
) -> DocumentPage:
    cursor = tokens.decode(next_token) if next_token is not None else None
    page = repo.list_uploaded(limit, cursor)
    return DocumentPage(
        items=[DocumentSummary.of(document) for document in page.items],
        next_token=tokens.encode(page.cursor) if page.cursor is not None else None,
    )


def delete_document(
    repo: DocumentRepository, storage: DocumentStorage, policy: UploadPolicy, document_id: str
) -> None:
    document = _uploaded_document(repo, storage, policy, document_id)
    # Metadata first: if the object delete then fails, an invisible orphan remains (cost),
    # never a listed document whose download is gone.
    if not repo.remove(document.id):
        raise _not_found(document_id)
    # A delete marker: with versioning on, the bytes stay recoverable until the lifecycle
    # rule expires noncurrent versions.
    storage.delete(document.object_key)
