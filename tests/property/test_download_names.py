"""Property: the name a download carries is never a path, whatever name the client chose.

Every name the filename rule accepts (`check_filename`) gets a Content-Disposition whose
ASCII fallback (`filename=`, what a client without RFC 8187 support saves the file as) is
the key's safe name: letters, digits and `._-`, starting with a letter or digit, no `..`.
Names are drawn from all of Unicode and, with extra weight, from the compatibility forms
that NFKD folds onto `.`, `/` and `\\` (fullwidth, small, one-dot leaders, ellipses), the
characters that once turned a name of fullwidth dots and solidi into
`filename="../../etc/passwd"`.
"""

import re
import unicodedata
from urllib.parse import unquote

from hypothesis import example, given
from hypothesis import strategies as st

from customer_platform.documents.models import check_filename, content_disposition, safe_key_name

# What NFKD maps onto a dot, a slash or a backslash (found in the running Python's Unicode
# database, so the strategy keeps up with it), beside the plain ones.
FOLDS_TO_PATH = sorted(
    {
        char
        for code in range(0x80, 0x30000)
        if set(unicodedata.normalize("NFKD", char := chr(code))) & set("./\\")
    }
)
SAFE_FALLBACK = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
HEADER = re.compile(
    r"attachment; filename=\"(?P<fallback>[^\"]*)\""
    r"(?:; filename\*=UTF-8''(?P<exact>\S+))?"
)

path_like = st.text(
    alphabet=st.sampled_from([*FOLDS_TO_PATH, ".", "/", "\\", "e", "t", "c", " ", "~"]),
    min_size=1,
    max_size=40,
)
names = st.one_of(path_like, st.text(min_size=1, max_size=120)).filter(
    lambda name: _accepted(name) is not None
)


def _accepted(name: str) -> str | None:
    try:
        return check_filename(name)
    except ValueError:
        return None


def test_the_strategy_covers_the_fullwidth_and_small_forms():
    assert {"\uff0e", "\uff0f", "\uff3c", "\ufe52", "\u2024", "\u2025"} <= set(FOLDS_TO_PATH)


@given(names)
@example("\uff0e\uff0e\uff0f\uff0e\uff0e\uff0fetc\uff0fpasswd")
@example("\u2025\uff0fsecret")
@example("..\uff3c..\uff3cwindows")
def test_the_download_fallback_is_the_safe_key_name_never_a_path(raw: str):
    """Mutation caught: the old fallback (NFKD, then `"` and `\\` replaced) in
    customer_platform/documents/models.py `content_disposition`: the first example's
    fallback is `../../etc/passwd`."""
    name = check_filename(raw)

    header = content_disposition(name)

    match = HEADER.fullmatch(header)
    assert match is not None, header
    fallback = match["fallback"]
    assert SAFE_FALLBACK.fullmatch(fallback), fallback
    assert ".." not in fallback
    assert fallback == safe_key_name(name)
    exact = match["exact"]
    assert unquote(exact) == name if exact is not None else fallback == name
