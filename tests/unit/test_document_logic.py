"""Document rules, run against an in-memory repository and object store: no AWS, no HTTP."""

from datetime import UTC, datetime

import pytest

from customer_platform.documents import logic
from customer_platform.documents.models import (
    Document,
    DocumentInput,
    DocumentStatus,
    DocumentSummary,
    UploadPolicy,
)
from customer_platform.documents.repository import Page, PresignedPost, PresignedUrl, StoredObject
from customer_platform.errors import BadRequest, NotFound
from customer_platform.pagination import PageTokenCodec
from tests.support.polling import rounds

T0 = datetime(2026, 11, 22, 10, 15, 0, 123456, tzinfo=UTC)
UPLOADED_AT = datetime(2026, 11, 22, 10, 15, 7, tzinfo=UTC)
POLICY = UploadPolicy(url_expiry_seconds=900, max_upload_bytes=1000)


class InMemoryRepository:
    """The DocumentRepository protocol over a dict."""

    def __init__(self) -> None:
        self.rows: dict[str, Document] = {}
        self.expiry: dict[str, int] = {}

    def add(self, document: Document, expires_at: int) -> None:
        self.rows[document.id] = document
        self.expiry[document.id] = expires_at

    def get(self, document_id: str) -> Document | None:
        return self.rows.get(document_id)

    def mark_uploaded(
        self, document_id: str, size: int, uploaded_at: datetime, version_id: str | None
    ) -> Document | None:
        current = self.rows.get(document_id)
        if current is None or current.status is DocumentStatus.UPLOADED:
            return current  # gone, or confirmed already: kept as it is
        self.rows[document_id] = current.model_copy(
            update={
                "status": DocumentStatus.UPLOADED,
                "size": size,
                "uploaded_at": uploaded_at,
                "version_id": version_id,
            }
        )
        self.expiry.pop(document_id, None)
        return self.rows[document_id]

    def list_uploaded(self, limit: int, cursor: str | None) -> Page:
        uploaded = sorted(
            (d for d in self.rows.values() if d.status is DocumentStatus.UPLOADED),
            key=lambda d: d.id,
        )
        rest = [d for d in uploaded if cursor is None or d.id > cursor]
        chosen = rest[:limit]
        return Page(chosen, chosen[-1].id if len(rest) > limit else None)

    def remove(self, document_id: str) -> bool:
        return self.rows.pop(document_id, None) is not None


class InMemoryStorage:
    """The DocumentStorage protocol over a dict of key -> (object, versions)."""

    def __init__(self) -> None:
        self.objects: dict[str, StoredObject] = {}
        self.deleted: list[tuple[str, str | None]] = []
        self.posts: list[tuple[str, str, str, int, int]] = []

    def presigned_post(
        self, key: str, filename: str, content_type: str, max_bytes: int, expires_in: int
    ) -> PresignedPost:
        self.posts.append((key, filename, content_type, max_bytes, expires_in))
        return PresignedPost(
            url="https://bucket.example/", fields={"key": key}, expires_in=expires_in
        )

    def presigned_get(
        self,
        key: str,
        filename: str,
        content_type: str,
        expires_in: int,
        version_id: str | None = None,
    ) -> PresignedUrl:
        url = f"https://bucket.example/{key}?expires={expires_in}&name={filename}"
        return PresignedUrl(url=url + f"&versionId={version_id}", expires_in=expires_in)

    def head(self, key: str) -> StoredObject | None:
        return self.objects.get(key)

    def delete(self, key: str, version_id: str | None = None) -> None:
        self.deleted.append((key, version_id))
        self.objects.pop(key, None)

    def put(self, key: str, size: int, content_type: str, version_id: str = "v1") -> None:
        self.objects[key] = StoredObject(
            size=size, content_type=content_type, last_modified=UPLOADED_AT, version_id=version_id
        )


@pytest.fixture
def repo() -> InMemoryRepository:
    return InMemoryRepository()


@pytest.fixture
def storage() -> InMemoryStorage:
    return InMemoryStorage()


def create(repo: InMemoryRepository, storage: InMemoryStorage, name: str = "a.pdf") -> Document:
    slot = logic.create_document(
        repo,
        storage,
        POLICY,
        DocumentInput(filename=name, content_type="application/pdf"),
        clock=lambda: T0,
    )
    return repo.rows[slot.id]


def tokens() -> PageTokenCodec:
    return PageTokenCodec("documents", lambda: b"k" * 32)


# -- create -------------------------------------------------------------------------------------


def test_create_stores_a_pending_document_that_expires_after_its_url_and_a_day(
    repo: InMemoryRepository, storage: InMemoryStorage
):
    slot = logic.create_document(
        repo,
        storage,
        POLICY,
        DocumentInput(filename="Q3 report.pdf", content_type="application/pdf"),
        clock=lambda: T0,
    )

    stored = repo.rows[slot.id]
    assert stored.status is DocumentStatus.PENDING
    assert stored.object_key == f"documents/{slot.id}/Q3_report.pdf"
    assert stored.created_at == T0.replace(microsecond=123000)
    assert repo.expiry[slot.id] == int(T0.timestamp()) + 900 + logic.PENDING_GRACE_SECONDS
    assert storage.posts == [(stored.object_key, "Q3 report.pdf", "application/pdf", 1000, 900)]
    assert slot.expires_in == 900


# -- checking uploads ---------------------------------------------------------------------------


def test_a_matching_upload_marks_the_document_uploaded_with_the_objects_size_and_time(
    repo: InMemoryRepository, storage: InMemoryStorage
):
    document = create(repo, storage)
    storage.put(document.object_key, 10, "application/pdf")

    check = logic.object_created(repo, storage, POLICY, document.object_key)

    assert check.outcome is logic.Outcome.UPLOADED
    assert repo.rows[document.id].status is DocumentStatus.UPLOADED
    assert (repo.rows[document.id].size, repo.rows[document.id].uploaded_at) == (10, UPLOADED_AT)
    assert document.id not in repo.expiry


def test_a_repeated_notification_changes_nothing(
    repo: InMemoryRepository, storage: InMemoryStorage
):
    document = create(repo, storage)
    storage.put(document.object_key, 10, "application/pdf")
    first = logic.object_created(repo, storage, POLICY, document.object_key)

    second = logic.object_created(repo, storage, POLICY, document.object_key)

    assert second == first


@pytest.mark.parametrize(
    ("size", "content_type", "reason"),
    [
        (10, "text/html", "content type"),
        (0, "application/pdf", "size 0"),
        (1001, "application/pdf", "size 1001"),
    ],
)
def test_a_mismatched_upload_is_purged_and_the_document_stays_pending(
    repo: InMemoryRepository, storage: InMemoryStorage, size: int, content_type: str, reason: str
):
    document = create(repo, storage)
    storage.put(document.object_key, size, content_type)

    check = logic.object_created(repo, storage, POLICY, document.object_key)

    assert check.outcome is logic.Outcome.REJECTED
    assert reason in (check.reason or "")
    assert storage.deleted == [(document.object_key, "v1")]  # that version, for good
    assert repo.rows[document.id].status is DocumentStatus.PENDING


def test_an_upload_at_the_size_limit_is_accepted(
    repo: InMemoryRepository, storage: InMemoryStorage
):
    document = create(repo, storage)
    storage.put(document.object_key, 1000, "APPLICATION/PDF")

    assert logic.object_created(repo, storage, POLICY, document.object_key).outcome is (
        logic.Outcome.UPLOADED
    )


@pytest.mark.parametrize(
    "key",
    [
        "documents/00000000-0000-4000-8000-000000000000/a.pdf",
        "documents/not-an-id/a.pdf",
        "elsewhere.txt",
    ],
)
def test_an_object_no_document_owns_is_purged(
    repo: InMemoryRepository, storage: InMemoryStorage, key: str
):
    storage.put(key, 10, "application/pdf")

    check = logic.object_created(repo, storage, POLICY, key)

    assert check.outcome is logic.Outcome.ORPHAN
    assert storage.deleted == [(key, "v1")]


def test_an_object_under_a_documents_id_with_another_name_is_purged(
    repo: InMemoryRepository, storage: InMemoryStorage
):
    document = create(repo, storage, "a.pdf")
    other = document.object_key.replace("a.pdf", "b.pdf")
    storage.put(other, 10, "application/pdf")

    assert logic.object_created(repo, storage, POLICY, other).outcome is logic.Outcome.ORPHAN
    assert repo.rows[document.id].status is DocumentStatus.PENDING


def test_an_upload_that_arrives_after_its_document_was_deleted_is_purged(
    repo: InMemoryRepository, storage: InMemoryStorage
):
    document = create(repo, storage)
    storage.put(document.object_key, 10, "application/pdf")
    del repo.rows[document.id]

    check = logic.check_upload(repo, storage, POLICY, document)

    assert check.outcome is logic.Outcome.ORPHAN
    assert storage.deleted == [(document.object_key, "v1")]


def test_a_second_upload_to_a_confirmed_document_is_undone_and_the_document_kept(
    repo: InMemoryRepository, storage: InMemoryStorage
):
    """The presigned POST is sent again after the upload was confirmed: a new version
    under the same key. Mutation caught: the later version not deleted
    (customer_platform/documents/logic.py `_undo_replacement`)."""
    document = create(repo, storage)
    storage.put(document.object_key, 10, "application/pdf", version_id="v1")
    logic.object_created(repo, storage, POLICY, document.object_key)
    confirmed = repo.rows[document.id]
    storage.put(document.object_key, 20, "application/pdf", version_id="v2")

    check = logic.object_created(repo, storage, POLICY, document.object_key)

    assert check.outcome is logic.Outcome.REPLACEMENT
    assert storage.deleted == [(document.object_key, "v2")]
    assert repo.rows[document.id] == confirmed
    assert (confirmed.version_id, confirmed.size) == ("v1", 10)


def test_a_check_that_loses_the_race_to_confirm_undoes_its_own_version(
    repo: InMemoryRepository, storage: InMemoryStorage
):
    """Two checks of a pending document (the notification's and a GET's) each saw another
    version; the one whose mark comes second finds the document confirmed with the other
    version and undoes the one it saw."""
    document = create(repo, storage)
    repo.mark_uploaded(document.id, 10, UPLOADED_AT, "v1")  # the other check, first
    storage.put(document.object_key, 20, "application/pdf", version_id="v2")

    check = logic.check_upload(repo, storage, POLICY, document)  # saw it pending

    assert check.outcome is logic.Outcome.REPLACEMENT
    assert storage.deleted == [(document.object_key, "v2")]
    assert repo.rows[document.id].version_id == "v1"


# -- reads ---------------------------------------------------------------------------------------


def test_get_confirms_a_pending_upload_whose_notification_has_not_arrived(
    repo: InMemoryRepository, storage: InMemoryStorage
):
    document = create(repo, storage)
    storage.put(document.object_key, 10, "application/pdf")

    fetched = logic.get_document(repo, storage, POLICY, document.id)

    assert fetched.size == 10
    assert fetched.download.expires_in == 900
    assert repo.rows[document.id].status is DocumentStatus.UPLOADED


@pytest.mark.parametrize("document_id", ["00000000-0000-4000-8000-000000000000", "nope", ""])
def test_get_of_an_unknown_document_is_not_found(
    repo: InMemoryRepository, storage: InMemoryStorage, document_id: str
):
    with pytest.raises(NotFound):
        logic.get_document(repo, storage, POLICY, document_id)


def test_get_and_delete_of_a_document_never_uploaded_are_not_found(
    repo: InMemoryRepository, storage: InMemoryStorage
):
    document = create(repo, storage)

    with pytest.raises(NotFound):
        logic.get_document(repo, storage, POLICY, document.id)
    with pytest.raises(NotFound):
        logic.delete_document(repo, storage, POLICY, document.id)
    assert repo.rows[document.id].status is DocumentStatus.PENDING


def test_list_follows_tokens_through_uploaded_documents_only(
    repo: InMemoryRepository, storage: InMemoryStorage
):
    uploaded = []
    for i in range(5):
        document = create(repo, storage, f"{i}.pdf")
        if i != 2:
            storage.put(document.object_key, 10, "application/pdf")
            logic.object_created(repo, storage, POLICY, document.object_key)
            uploaded.append(document.id)

    seen: list[str] = []
    token = None
    for _ in rounds("a page without nextToken"):
        page = logic.list_documents(repo, tokens(), 2, token)
        seen += [item.id for item in page.items]
        if page.next_token is None:
            break
        token = page.next_token

    assert sorted(seen) == sorted(uploaded)


def test_list_refuses_a_token_of_another_list(repo: InMemoryRepository):
    foreign = PageTokenCodec("dynamodb/customers", lambda: b"k" * 32).encode("x")

    with pytest.raises(BadRequest):
        logic.list_documents(repo, tokens(), 2, foreign)


# -- delete --------------------------------------------------------------------------------------


def test_delete_removes_the_metadata_then_the_object(
    repo: InMemoryRepository, storage: InMemoryStorage
):
    document = create(repo, storage)
    storage.put(document.object_key, 10, "application/pdf")
    logic.object_created(repo, storage, POLICY, document.object_key)

    logic.delete_document(repo, storage, POLICY, document.id)

    assert document.id not in repo.rows
    assert storage.deleted == [(document.object_key, None)]  # a delete marker


def test_a_document_summary_needs_an_upload(repo: InMemoryRepository, storage: InMemoryStorage):
    document = create(repo, storage)

    with pytest.raises(ValueError, match="not uploaded"):
        DocumentSummary.of(document)
