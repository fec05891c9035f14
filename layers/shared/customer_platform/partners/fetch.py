"""Fetching the partner feed over HTTP: timeouts, bounded retries with backoff, pagination.

urllib3 does the retrying (`Retry`: 5xx, connection errors and read timeouts, exponential
backoff, `Retry-After` honoured); this module only follows pages. urllib3 ships with the
Lambda runtime (botocore depends on it), so the layer does not carry a second copy.
"""

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import urllib3
from urllib3.util import Retry, Timeout

CONNECT_TIMEOUT_S = 3.0
READ_TIMEOUT_S = 10.0
MAX_PAGES = 1000  # a feed longer than this is a partner bug, not a sync to finish


class FetchError(Exception):
    """The feed could not be read completely; nothing of the run may be written."""


@dataclass(frozen=True)
class Feed:
    rows: list[Any]
    pages: int


def http_pool(
    retries: int = 3,
    backoff: float = 0.5,
    connect_timeout: float = CONNECT_TIMEOUT_S,
    read_timeout: float = READ_TIMEOUT_S,
) -> urllib3.PoolManager:
    retry = Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        backoff_factor=backoff,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=frozenset({"GET"}),
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    return urllib3.PoolManager(
        retries=retry, timeout=Timeout(connect=connect_timeout, read=read_timeout)
    )


def _next_link(link_header: str | None, base: str) -> str | None:
    """The rel="next" target of an RFC 8288 Link header (json-server, GitHub style)."""
    for part in (link_header or "").split(","):
        if 'rel="next"' in part and "<" in part and ">" in part:
            return urljoin(base, part[part.index("<") + 1 : part.index(">")])
    return None


def _page_rows(body: Any, url: str) -> tuple[list[Any], str | None]:
    """Rows and the next page's URL of one response body."""
    if isinstance(body, list):
        return body, None
    if isinstance(body, dict):
        rows = next(
            (body[k] for k in ("items", "data", "users") if isinstance(body.get(k), list)), None
        )
        if rows is not None:
            following = body.get("next") or body.get("nextUrl")
            return rows, urljoin(url, following) if isinstance(following, str) else None
    raise FetchError(f"unexpected feed shape from {url}: expected a list of rows")


def fetch_feed(url: str, pool: urllib3.PoolManager | None = None) -> Feed:
    """Every row of the feed at `url`, following pages; FetchError if any page fails."""
    pool = pool or http_pool()
    rows: list[Any] = []
    seen: set[str] = set()
    next_url: str | None = url
    pages = 0
    while next_url is not None:
        if next_url in seen or pages >= MAX_PAGES:
            raise FetchError(f"pagination does not end (at page {pages + 1}: {next_url})")
        seen.add(next_url)
        try:
            response = pool.request("GET", next_url, headers={"Accept": "application/json"})
        except urllib3.exceptions.HTTPError as error:  # retries exhausted: timeouts, resets
            raise FetchError(f"GET {next_url} failed after retries: {error}") from error
        if response.status != 200:
            raise FetchError(f"GET {next_url} answered {response.status} after retries")
        try:
            body = json.loads(response.data)
        except ValueError as error:
            raise FetchError(f"GET {next_url} returned malformed JSON: {error}") from error
        page, following = _page_rows(body, next_url)
        rows.extend(page)
        pages += 1
        next_url = following or _next_link(response.headers.get("Link"), next_url)
    return Feed(rows=rows, pages=pages)
