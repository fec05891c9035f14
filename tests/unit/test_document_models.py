"""Document naming rules: what a client may call a file, the S3 key built from it, and the
Content-Disposition that names the download."""

import re
import unicodedata
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from customer_platform import aws
from customer_platform.documents.models import (
    FORBIDDEN_FILENAME_RANGES,
    MAX_URL_EXPIRY_SECONDS,
    DocumentInput,
    UploadPolicy,
    check_filename,
    content_disposition,
    document_id_of_key,
    object_key,
    safe_key_name,
)

DOCUMENT_ID = "3f2b8c1e-9a4d-4e7b-8c6f-1d2e3f4a5b6c"


def valid_filenames() -> st.SearchStrategy[str]:
    def acceptable(name: str) -> bool:
        try:
            check_filename(name)
        except ValueError:
            return False
        return True

    return st.text(min_size=1, max_size=80).filter(acceptable)


# -- filenames ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("report.pdf", "report.pdf"),
        ("  spaced out.pdf  ", "spaced out.pdf"),
        ("Grüße.txt", "Grüße.txt"),
        ("e\u0301.txt", "é.txt"),  # combining accent, NFC-normalised
        ("报告.pdf", "报告.pdf"),
        ("...hidden", "...hidden"),
        ("a" * 255, "a" * 255),
    ],
)
def test_a_safe_filename_is_kept_trimmed_and_normalised(given: str, kept: str):
    assert check_filename(given) == kept


@pytest.mark.parametrize(
    ("filename", "reason"),
    [
        ("", "empty"),
        ("  \t ", "empty"),
        (".", "'.'"),
        ("..", "'.'"),
        ("../x.pdf", "path separators"),
        ("a\\b.pdf", "path separators"),
        ("a\x00b", "control characters"),
        ("a\x1fb", "control characters"),
        ("a\x9fb", "control characters"),
        ("a\u200bb", "control characters"),  # zero-width space (Cf)
        ("a\u2028b", "control characters"),  # line separator
        ("é" * 128, "255 bytes"),  # 256 bytes in UTF-8
    ],
)
def test_an_unsafe_filename_is_refused_with_the_reason(filename: str, reason: str):
    with pytest.raises(ValueError, match=reason):
        check_filename(filename)


def test_the_input_model_refuses_unknown_fields_and_lowercases_the_type():
    with pytest.raises(ValidationError):
        DocumentInput.model_validate({"filename": "a.pdf", "contentType": "text/csv", "x": 1})

    parsed = DocumentInput.model_validate({"filename": "a.pdf", "contentType": " Text/CSV "})

    assert parsed.content_type == "text/csv"


# -- keys ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "name"),
    [
        ("report.pdf", "report.pdf"),
        ("Quarterly report (final).PDF", "Quarterly_report_final.PDF"),
        ("résumé.pdf", "resume.pdf"),
        ("报告.pdf", "document.pdf"),
        ("...hidden", "document.hidden"),
        ("archive.tar.gz", "archive.tar.gz"),
        ("no extension", "no_extension"),
        ("x" * 300 + ".csv", "x" * 96 + ".csv"),
    ],
)
def test_the_key_name_is_plain_ascii(filename: str, name: str):
    assert safe_key_name(filename) == name


@given(valid_filenames())
def test_every_key_stays_inside_its_document_prefix(filename: str):
    key = object_key(DOCUMENT_ID, filename)

    assert key.startswith(f"documents/{DOCUMENT_ID}/")
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", key.rsplit("/", 1)[1])
    assert document_id_of_key(key) == DOCUMENT_ID


@pytest.mark.parametrize(
    "key",
    [
        "documents/not-a-uuid/a.pdf",
        f"other/{DOCUMENT_ID}/a.pdf",
        f"documents/{DOCUMENT_ID}",
        f"documents/{DOCUMENT_ID}/a/b.pdf",
        f"documents/{DOCUMENT_ID.upper()}/a.pdf",
    ],
)
def test_a_key_this_api_did_not_build_has_no_document(key: str):
    assert document_id_of_key(key) is None


# -- Content-Disposition ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "header"),
    [
        ("report.pdf", 'attachment; filename="report.pdf"'),
        ("a;b,c.pdf", "attachment; filename=\"a_b_c.pdf\"; filename*=UTF-8''a%3Bb%2Cc.pdf"),
        (
            'say "hi".txt',
            "attachment; filename=\"say_hi.txt\"; filename*=UTF-8''say%20%22hi%22.txt",
        ),
        ("é.pdf", "attachment; filename=\"e.pdf\"; filename*=UTF-8''%C3%A9.pdf"),
        (
            "报告.pdf",
            "attachment; filename=\"document.pdf\"; filename*=UTF-8''%E6%8A%A5%E5%91%8A.pdf",
        ),
        (  # fullwidth full stops and solidi: ../../etc/passwd under a bare NFKD
            "\uff0e\uff0e\uff0f\uff0e\uff0e\uff0fetc\uff0fpasswd",
            "attachment; filename=\"document.etcpasswd\"; filename*=UTF-8''"
            + "%EF%BC%8E%EF%BC%8E%EF%BC%8F" * 2
            + "etc%EF%BC%8Fpasswd",
        ),
    ],
)
def test_content_disposition_is_an_attachment_with_a_quoted_fallback(filename: str, header: str):
    assert content_disposition(filename) == header


@given(valid_filenames())
def test_content_disposition_is_ascii_and_carries_the_exact_name(filename: str):
    header = content_disposition(filename)

    assert header.isascii()
    assert not any(ord(char) < 0x20 or ord(char) == 0x7F for char in header)
    exact = header.split("filename*=UTF-8''", 1)[1] if "filename*=" in header else None
    if exact is None:
        assert header == f'attachment; filename="{filename}"'
    else:
        assert unquote(exact) == filename


# -- limits --------------------------------------------------------------------------------------


@pytest.mark.parametrize("seconds", [1, 900, MAX_URL_EXPIRY_SECONDS])
def test_an_expiry_a_signing_session_outlives_is_accepted(seconds: int):
    assert (
        UploadPolicy(url_expiry_seconds=seconds, max_upload_bytes=1).url_expiry_seconds == seconds
    )


@pytest.mark.parametrize("seconds", [0, -1, MAX_URL_EXPIRY_SECONDS + 1, 604_800])
def test_an_expiry_no_signing_session_outlives_is_refused(seconds: int):
    with pytest.raises(ValidationError, match="role session"):
        UploadPolicy(url_expiry_seconds=seconds, max_upload_bytes=1)


def test_the_s3_client_presigns_sigv4_urls_on_the_regional_endpoint(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    aws.reset_clients()
    try:
        url = aws.s3().generate_presigned_url(
            "get_object", Params={"Bucket": "documents-abc", "Key": "documents/x/a.pdf"}
        )
        post = aws.s3().generate_presigned_post("documents-abc", "documents/x/a.pdf")
    finally:
        aws.reset_clients()

    assert url.startswith("https://documents-abc.s3.us-east-1.amazonaws.com/documents/x/a.pdf?")
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url
    assert post["url"] == "https://documents-abc.s3.us-east-1.amazonaws.com/"
    assert post["fields"]["x-amz-algorithm"] == "AWS4-HMAC-SHA256"


def test_the_forbidden_filename_characters_are_exactly_their_unicode_categories():
    # The table is written out (Unicode 15.1, the functions' Python 3.13) so that the rule
    # and the pattern docs/openapi.json publishes are the same on every Python. A newer
    # Unicode database that adds a control or format character fails here until the table
    # has it; code points an older database does not know yet (Cn) may already be in it.
    categories = {"Cc", "Cf", "Cs", "Zl", "Zp"}
    forbidden = {cp for low, high in FORBIDDEN_FILENAME_RANGES for cp in range(low, high + 1)}

    missing = [
        f"U+{cp:04X}"
        for cp in range(0x110000)
        if unicodedata.category(chr(cp)) in categories and cp not in forbidden
    ]
    extra = [
        f"U+{cp:04X}"
        for cp in sorted(forbidden)
        if unicodedata.category(chr(cp)) not in categories | {"Cn"}
    ]

    assert (missing, extra) == ([], [])


def test_a_format_character_of_unicode_15_is_refused_on_every_python():
    with pytest.raises(ValueError, match="control characters"):
        check_filename("report\U0001343f.pdf")  # EGYPTIAN HIEROGLYPH END WALLED ENCLOSURE
