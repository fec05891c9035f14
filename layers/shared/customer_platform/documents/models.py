"""Document models and naming rules: what a client may send, what the API returns.

A client names its file freely (that name comes back in `Content-Disposition`), but the
S3 key is built by the server: `documents/{id}/{safe name}`. The id makes every key unique
and the safe name is plain ASCII, so no client input can walk out of its prefix or
surprise a tool that lists the bucket.
"""

import re
import unicodedata
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated
from urllib.parse import quote

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue
from pydantic.alias_generators import to_camel
from pydantic.config import JsonDict

from customer_platform.customers.models import Timestamp
from customer_platform.documents import signing

ALLOWED_CONTENT_TYPES = frozenset(
    {"application/pdf", "image/png", "image/jpeg", "text/plain", "text/csv"}
)
MAX_FILENAME_BYTES = 255  # what common file systems accept for one name
KEY_PREFIX = "documents/"
MAX_KEY_NAME_LENGTH = 100
# A presigned URL cannot outlive the role session that signs it (documents/signing.py);
# S3 refuses a POST object above 5 GiB.
MAX_URL_EXPIRY_SECONDS = signing.MAX_URL_EXPIRY_SECONDS
MAX_UPLOAD_BYTES_LIMIT = 5 * 1024**3

# Characters a file name may not contain: the Unicode categories C0/C1 controls (Cc),
# invisible format characters such as the right-to-left override that disguises "exe.pdf"
# (Cf), lone surrogates (Cs) and line or paragraph separators (Zl, Zp), as of Unicode 15.1
# (Python 3.13, the functions' runtime). Written out rather than looked up in unicodedata, so
# the rule, and the pattern docs/openapi.json publishes for it, are the same on every Python;
# a test checks that they still cover those categories in the running Python's database.
FORBIDDEN_FILENAME_RANGES: tuple[tuple[int, int], ...] = (
    (0x0000, 0x001F), (0x007F, 0x009F), (0x00AD, 0x00AD), (0x0600, 0x0605),
    (0x061C, 0x061C), (0x06DD, 0x06DD), (0x070F, 0x070F), (0x0890, 0x0891),
    (0x08E2, 0x08E2), (0x180E, 0x180E), (0x200B, 0x200F), (0x2028, 0x202E),
    (0x2060, 0x2064), (0x2066, 0x206F), (0xD800, 0xDFFF), (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB), (0x110BD, 0x110BD), (0x110CD, 0x110CD), (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0001, 0xE0001), (0xE0020, 0xE007F),
)  # fmt: skip


def _regex_char(code_point: int) -> str:
    """A code point inside a regex character class, as both Python's `re` and ECMA-262
    (JSON Schema's dialect) read it: escaped in the BMP, literal above it."""
    if code_point < 0x100:
        return f"\\x{code_point:02x}"
    if code_point < 0x10000:
        return f"\\u{code_point:04x}"
    return chr(code_point)


# The body of a regex character class: the forbidden characters (without the separators).
FORBIDDEN_FILENAME_CLASS = "".join(
    _regex_char(low) if low == high else f"{_regex_char(low)}-{_regex_char(high)}"
    for low, high in FORBIDDEN_FILENAME_RANGES
)
_FORBIDDEN = re.compile(f"[{FORBIDDEN_FILENAME_CLASS}]")


def check_filename(value: str) -> str:
    """The name trimmed and NFC-normalised; ValueError for anything unsafe to keep."""
    name = unicodedata.normalize("NFC", value.strip())
    if not name:
        raise ValueError("filename must not be empty")
    if name in (".", ".."):
        raise ValueError("filename must not be '.' or '..'")
    if "/" in name or "\\" in name:
        raise ValueError("filename must not contain path separators")
    if _FORBIDDEN.search(name):
        raise ValueError("filename must not contain control characters")
    if len(name.encode("utf-8")) > MAX_FILENAME_BYTES:
        raise ValueError(f"filename must be at most {MAX_FILENAME_BYTES} bytes in UTF-8")
    return name


def check_content_type(value: str) -> str:
    content_type = value.strip().lower()  # media types are case-insensitive
    if content_type not in ALLOWED_CONTENT_TYPES:
        raise ValueError(f"contentType must be one of {', '.join(sorted(ALLOWED_CONTENT_TYPES))}")
    return content_type


def filename_json_schema() -> JsonDict:
    """What `check_filename` accepts, as JSON Schema, for clients that generate requests
    from docs/openapi.json. Where JSON Schema cannot say it exactly, it says less: every
    name it allows is accepted, some accepted names (surrounding blanks, which are trimmed;
    long non-ASCII names within 255 bytes) fall outside it.

    The byte limit applies after NFC normalisation, which can triple a name's characters,
    each up to 4 bytes in UTF-8: hence 255 printable ASCII characters (1 byte, unchanged by
    NFC), or 127 from Latin-1 and Latin Extended-A/B (2 bytes, no combining marks, so NFC
    leaves them alone), or 21 of any allowed character (255 // 12).
    """
    return {
        "minLength": 1,
        # only allowed characters; no blank at either end (a trimmed name has none)
        "pattern": f"^[^/\\\\{FORBIDDEN_FILENAME_CLASS}]*$",
        "allOf": [{"pattern": "^\\S(?:.*\\S)?$"}, {"not": {"enum": [".", ".."]}}],
        "anyOf": [
            {"maxLength": MAX_FILENAME_BYTES, "pattern": "^[\\x20-\\x7e]*$"},
            {"maxLength": MAX_FILENAME_BYTES // 2, "pattern": "^[\\x20-\\x7e\\xa0-\\u024f]*$"},
            {"maxLength": MAX_FILENAME_BYTES // 12},
        ],
    }


Filename = Annotated[str, AfterValidator(check_filename)]
ContentType = Annotated[str, AfterValidator(check_content_type)]


def _check_expiry(value: int) -> int:
    if not 1 <= value <= MAX_URL_EXPIRY_SECONDS:
        raise ValueError(
            f"must be 1 to {MAX_URL_EXPIRY_SECONDS} seconds: a presigned URL dies with the "
            "one-hour role session that signs it (longer links: CloudFront signed URLs)"
        )
    return value


def _check_max_bytes(value: int) -> int:
    if not 1 <= value <= MAX_UPLOAD_BYTES_LIMIT:
        raise ValueError(f"must be 1 to {MAX_UPLOAD_BYTES_LIMIT} bytes (S3's POST object limit)")
    return value


UrlExpirySeconds = Annotated[int, AfterValidator(_check_expiry)]
MaxUploadBytes = Annotated[int, AfterValidator(_check_max_bytes)]


class UploadPolicy(BaseModel):
    """How long presigned URLs live and how large an upload may be (from the template)."""

    model_config = ConfigDict(frozen=True)

    url_expiry_seconds: UrlExpirySeconds
    max_upload_bytes: MaxUploadBytes


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    def to_api(self) -> dict[str, object]:
        return self.model_dump(mode="json", by_alias=True)


class DocumentInput(_Camel):
    """Body of POST /documents. Unknown fields are rejected."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)

    filename: Filename = Field(
        description="the name the download will carry: no path separators or control"
        f" characters, at most {MAX_FILENAME_BYTES} bytes in UTF-8 after trimming and NFC"
        " normalisation, not '.' or '..'",
        examples=["report.pdf"],
        json_schema_extra=filename_json_schema(),
    )
    content_type: ContentType = Field(
        description="one of "
        + ", ".join(sorted(ALLOWED_CONTENT_TYPES))
        + " (compared case-insensitively)",
        examples=["application/pdf"],
        json_schema_extra={"enum": list[JsonValue](sorted(ALLOWED_CONTENT_TYPES))},
    )


class DocumentStatus(StrEnum):
    PENDING = "pending"  # upload slot handed out, no object seen yet
    UPLOADED = "uploaded"  # an object of the announced type and an allowed size is stored


class Document(BaseModel):
    """A stored document's metadata (never the bytes)."""

    model_config = ConfigDict(frozen=True)

    id: str
    filename: str
    content_type: str
    object_key: str
    status: DocumentStatus
    created_at: datetime
    size: int | None = None
    uploaded_at: datetime | None = None
    # The S3 object version confirmed as the upload; downloads are signed for it, and any
    # later version under the key is undone (a presigned POST can be sent again).
    version_id: str | None = None


class PresignedUpload(_Camel):
    url: str
    fields: dict[str, str]


class UploadSlot(_Camel):
    """Answer to POST /documents: where and how to upload, once, within `expiresIn`."""

    id: str
    filename: str
    content_type: str
    upload: PresignedUpload
    expires_in: int


class DocumentSummary(_Camel):
    id: str
    filename: str
    content_type: str
    size: int
    uploaded_at: Timestamp

    @classmethod
    def of(cls, document: Document) -> "DocumentSummary":
        if document.size is None or document.uploaded_at is None:
            raise ValueError(f"document {document.id} is not uploaded")
        return cls(
            id=document.id,
            filename=document.filename,
            content_type=document.content_type,
            size=document.size,
            uploaded_at=document.uploaded_at,
        )


class Download(_Camel):
    url: str
    expires_in: int


class DocumentWithDownload(DocumentSummary):
    """Answer to GET /documents/{id}."""

    download: Download


class DocumentPage(_Camel):
    items: list[DocumentSummary]
    next_token: str | None


def new_document_id() -> str:
    return str(uuid.uuid4())


def is_document_id(value: str) -> bool:
    """True for ids this API issues (canonical UUID strings); anything else cannot exist."""
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


def _ascii(text: str) -> str:
    """Accents dropped (é -> e); other non-ASCII characters removed."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def safe_key_name(filename: str) -> str:
    """An ASCII, shell- and URL-friendly version of `filename` for the S3 key."""
    stem, dot, extension = _ascii(filename).rpartition(".")
    if not dot:
        stem, extension = extension, ""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem)
    stem = re.sub(r"\.{2,}", ".", stem).strip("._-") or "document"
    extension = re.sub(r"[^A-Za-z0-9]+", "", extension)[:16]
    suffix = f".{extension}" if extension else ""
    return stem[: MAX_KEY_NAME_LENGTH - len(suffix)] + suffix


def object_key(document_id: str, filename: str) -> str:
    return f"{KEY_PREFIX}{document_id}/{safe_key_name(filename)}"


def document_id_of_key(key: str) -> str | None:
    """The id in `documents/{id}/{name}`, or None for a key this API did not build."""
    parts = key.split("/")
    if len(parts) != 3 or f"{parts[0]}/" != KEY_PREFIX or not is_document_id(parts[1]):
        return None
    return parts[1]


def content_disposition(filename: str) -> str:
    """`attachment` with the client's file name, per RFC 6266.

    `filename=` carries an ASCII fallback for clients that do not read `filename*`: the
    key's safe name (`safe_key_name`), so the fallback can never be a path, a hidden name
    or anything a client could misread, whatever compatibility characters the name holds
    (a name of fullwidth dots and solidi, U+FF0E and U+FF0F, passes the filename rule and
    would become `../../etc/passwd` under a bare NFKD). `filename*=` carries the exact name in UTF-8
    (RFC 8187) whenever the fallback differs from it.
    """
    fallback = safe_key_name(filename)
    header = f'attachment; filename="{fallback}"'
    if fallback != filename:
        header += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return header
