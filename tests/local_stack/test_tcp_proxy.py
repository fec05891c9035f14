"""The latency-injecting TCP proxy the benchmark and the fault tests put between a
function and its backends. The round trip is checked as a lower bound only (the proxy
must add at least what it is asked to add); how fast anything is stays in `make bench`."""

import socket
import socketserver
import threading
import time
from collections.abc import Iterator

import pytest

from local_stack.tcp_proxy import TcpProxy


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(4096):
            self.request.sendall(data)


@pytest.fixture
def echo() -> Iterator[tuple[str, int]]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[:2]  # type: ignore[misc]
    server.shutdown()
    server.server_close()


def _round_trip(port: int, payload: bytes = b"ping") -> tuple[bytes, float]:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        started = time.perf_counter()
        client.sendall(payload)
        received = client.recv(4096)
        return received, time.perf_counter() - started


def test_every_round_trip_pays_the_rtt_asked(echo: tuple[str, int]):
    """Catches: the delay applied in one direction only, or not at all (the benchmark's
    figures at a network distance would be loopback figures)."""
    proxy = TcpProxy(echo, rtt_ms=200)
    try:
        data, elapsed = _round_trip(proxy.port)
        assert data == b"ping"
        assert elapsed >= 0.2
        proxy.set_rtt(0)
        assert _round_trip(proxy.port)[0] == b"ping"
    finally:
        proxy.close()


def test_cut_refuses_and_restore_accepts_again(echo: tuple[str, int]):
    """Catches: cut() leaving the listener open (a database that stays reachable)."""
    proxy = TcpProxy(echo)
    try:
        proxy.cut()
        with pytest.raises(ConnectionRefusedError):
            _round_trip(proxy.port)
        proxy.restore()
        assert _round_trip(proxy.port)[0] == b"ping"
    finally:
        proxy.close()


def test_blackhole_accepts_and_never_answers(echo: tuple[str, int]):
    """Catches: a blackhole that refuses (an error at once) instead of a silent peer that
    only a timeout detects."""
    proxy = TcpProxy(echo)
    try:
        proxy.blackhole()
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as client:
            client.settimeout(0.3)
            client.sendall(b"ping")
            with pytest.raises(TimeoutError):
                client.recv(4096)
    finally:
        proxy.close()
