"""A stand-in for the partner's REST API, on a real socket on 127.0.0.1.

It serves `/users` the way json-server (and JSONPlaceholder) does: the whole array, or
pages with `?_page=N&_limit=M` and an RFC 8288 `Link: <...>; rel="next"` header. Tests and
the demo script faults into it: a 500 before the next success, a response slower than the
client's read timeout, malformed JSON.
"""

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from local_stack.network.sockets import LocalHTTPServer


@dataclass
class Fault:
    status: int = 200
    body: bytes | None = None
    delay_s: float = 0.0


@dataclass
class PartnerFeed:
    rows: list[dict[str, Any]] = field(default_factory=list)
    faults: deque[Fault] = field(default_factory=deque)
    requests: list[str] = field(default_factory=list)
    _server: LocalHTTPServer | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("start() first")
        return f"http://127.0.0.1:{self._server.server_address[1]}/users"

    def fail_next(self, *faults: Fault) -> None:
        self.faults.extend(faults)

    def start(self) -> "PartnerFeed":
        feed = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                feed.requests.append(self.path)
                if feed.faults:
                    fault = feed.faults.popleft()
                    time.sleep(fault.delay_s)
                    if fault.status != 200 or fault.body is not None:
                        self._send(fault.status, fault.body or b'{"error": "partner down"}')
                        return
                url = urlsplit(self.path)
                if url.path != "/users":
                    self._send(404, b"{}")
                    return
                query = parse_qs(url.query)
                if "_page" not in query:
                    self._send(200, json.dumps(feed.rows).encode())
                    return
                page, limit = int(query["_page"][0]), int(query.get("_limit", ["10"])[0])
                chunk = feed.rows[(page - 1) * limit : page * limit]
                headers = {}
                if page * limit < len(feed.rows):
                    headers["Link"] = f'</users?_page={page + 1}&_limit={limit}>; rel="next"'
                self._send(200, json.dumps(chunk).encode(), headers)

            def _send(
                self, status: int, body: bytes, headers: dict[str, str] | None = None
            ) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    for key, value in (headers or {}).items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a read timeout): nothing to answer

            def log_message(self, *_: Any) -> None:
                pass

        self._server = LocalHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def sample_rows(count: int, start: int = 1) -> list[dict[str, Any]]:
    """Rows shaped like JSONPlaceholder's /users (with fields the sync ignores)."""
    return [
        {
            "id": i,
            "name": f"Partner Customer {i}",
            "username": f"user{i}",
            "email": f"Partner.{i}@Example.org",
            "address": {"city": "Gwenborough"},
        }
        for i in range(start, start + count)
    ]
