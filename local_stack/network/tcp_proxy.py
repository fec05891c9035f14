"""A TCP proxy that fails the way networks fail, for tests and benchmarks.

    proxy = TcpProxy(("127.0.0.1", 3306))  # 127.0.0.1:proxy.port now reaches MySQL
    proxy.cut()                        # refused: new connections fail, open ones are closed
    proxy.blackhole()                  # accepted, never answered: reads time out
    proxy.blackhole(handshake=False)   # SYNs unanswered: connects time out
    proxy.restore()                    # forwarding again, on the same port
    proxy.latency = 0.004              # 4 ms added to every round trip
    proxy.close()

The faults sit on the wire between a real client and a real server, so what a test
observes is the client's own timeouts, retries and error handling, never a stub.

- `cut()` is a host that went away: the port refuses connections (RST), and open
  connections are closed.
- `blackhole()` is a server or a firewall that swallows traffic: connections are still
  accepted, but nothing is forwarded either way, on new or open connections, and nothing
  is closed. The client's read timeout is what ends the wait.
- `blackhole(handshake=False)` is a route or a security group that drops packets: the TCP
  handshake itself never completes, so the client's connect timeout fires. (The listening
  socket's accept queue is kept full, and Linux drops the SYNs of a full queue.)
- `restore()` after a blackhole delivers what was held back, as TCP's retransmissions
  would once the path is back; a client that gave up has closed its side by then.
- `latency` is a round-trip time in seconds: each direction delays every chunk by half of
  it, without limiting throughput (chunks in flight overlap, as packets do).
"""

import contextlib
import queue
import socket
import threading
import time
from enum import Enum

from local_stack.network.sockets import LISTEN_BACKLOG

CHUNK = 65536
UPSTREAM_CONNECT_TIMEOUT = 5.0


# Chunks read from one side, each with the time it may be written to the other (b"": EOF).
Chunks = queue.SimpleQueue[tuple[float, bytes]]


class Mode(Enum):
    FORWARDING = "forwarding"
    BLACKHOLE = "blackhole"
    CUT = "cut"


class TcpProxy:
    """`host:port` (a free port, chosen once) forwarded to `target`, with faults on demand."""

    def __init__(
        self, target: tuple[str, int], *, latency: float = 0.0, host: str = "127.0.0.1"
    ) -> None:
        self.target = target
        self.host = host
        self._latency = 0.0
        self.latency = latency
        self._state = threading.Condition()
        self._mode = Mode.FORWARDING
        self._closed = False
        self._sockets: set[socket.socket] = set()
        self._held: list[socket.socket] = []  # a full accept queue (handshake=False)
        self._listener: socket.socket | None = None
        self.port = 0
        self.connections = 0  # connections forwarded upstream so far
        self._listen(backlog=LISTEN_BACKLOG)

    # -- faults ---------------------------------------------------------------------------

    @property
    def mode(self) -> Mode:
        return self._mode

    @property
    def latency(self) -> float:
        """Seconds added to each round trip (half on the way there, half on the way back)."""
        return self._latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("latency is a round-trip time in seconds, at least 0")
        self._latency = seconds

    def cut(self) -> None:
        """Refuse new connections and close the open ones."""
        with self._state:
            self._mode = Mode.CUT
            self._close_listener()
            self._close_connections()
            self._state.notify_all()

    def blackhole(self, *, handshake: bool = True) -> None:
        """Answer nothing. New connections complete their handshake (`handshake=True`) or
        never do (`handshake=False`); open ones stay open, silent both ways."""
        with self._state:
            self._mode = Mode.BLACKHOLE
            if not handshake:
                self._close_listener()
                self._listen(backlog=0)
                self._fill_accept_queue()
            elif self._listener is None or self._held:
                self._close_listener()
                self._listen(backlog=LISTEN_BACKLOG)
            self._state.notify_all()

    def restore(self) -> None:
        """Forward again, on the same port; held-back bytes are delivered."""
        with self._state:
            if self._closed:
                raise RuntimeError("the proxy is closed")
            self._mode = Mode.FORWARDING
            if self._listener is None or self._held:
                self._close_listener()
                self._listen(backlog=LISTEN_BACKLOG)
            self._state.notify_all()

    def close(self) -> None:
        """Stop for good: the port refuses connections, every connection is closed."""
        with self._state:
            self._closed = True
            self._mode = Mode.CUT
            self._close_listener()
            self._close_connections()
            self._state.notify_all()

    def __enter__(self) -> "TcpProxy":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- listening --------------------------------------------------------------------------

    def _listen(self, backlog: int) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(backlog)
        self.port = listener.getsockname()[1]
        self._listener = listener
        if backlog:
            threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _fill_accept_queue(self) -> None:
        # listen(0) queues one connection that nobody accepts; SYNs after it are dropped.
        filler = socket.create_connection((self.host, self.port), timeout=1)
        self._held.append(filler)

    def _close_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
            listener.close()
        for filler in self._held:
            filler.close()
        self._held.clear()

    def _close_connections(self) -> None:
        for sock in self._sockets:
            _close(sock)
        self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    # -- forwarding -------------------------------------------------------------------------

    def _track(self, sock: socket.socket) -> bool:
        """Register an open socket (closed by cut/close); False once the proxy is cut."""
        with self._state:
            if self._mode is Mode.CUT:
                return False
            self._sockets.add(sock)
            return True

    def _wait_for_forwarding(self) -> bool:
        """Block while blackholed; True to forward, False when cut or closed."""
        with self._state:
            self._state.wait_for(lambda: self._mode is not Mode.BLACKHOLE)
            return self._mode is Mode.FORWARDING

    def _connect(self, client: socket.socket) -> None:
        if not self._track(client):
            _close(client)
            return
        # The upstream connection waits until traffic flows, so a blackholed client sees
        # no greeting and the server sees no half-open connection time out meanwhile.
        if not self._wait_for_forwarding():
            _close(client)
            return
        try:
            upstream = socket.create_connection(self.target, timeout=UPSTREAM_CONNECT_TIMEOUT)
        except OSError:
            _close(client)
            return
        upstream.settimeout(None)
        # Each chunk goes on as soon as it is read, as a relaying router would: with Nagle's
        # algorithm on, a small write waits for the previous one's ACK, which the peer
        # delays up to 40 ms (a request written in two pieces then waits that long).
        for sock in (client, upstream):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if not self._track(upstream):
            _close(client)
            _close(upstream)
            return
        with self._state:
            self.connections += 1
        for source, sink in ((client, upstream), (upstream, client)):
            chunks: Chunks = queue.SimpleQueue()
            threading.Thread(target=self._read, args=(source, chunks), daemon=True).start()
            threading.Thread(target=self._write, args=(chunks, sink, source), daemon=True).start()

    def _read(
        self, source: socket.socket, chunks: "queue.SimpleQueue[tuple[float, bytes]]"
    ) -> None:
        while True:
            try:
                data = source.recv(CHUNK)
            except OSError:
                data = b""
            chunks.put((time.monotonic() + self._latency / 2, data))  # b"": end of stream
            if not data:
                return

    def _write(
        self,
        chunks: Chunks,
        sink: socket.socket,
        source: socket.socket,
    ) -> None:
        while True:
            due, data = chunks.get()
            if not self._wait_for_forwarding():
                break
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if not data:
                break
            try:
                sink.sendall(data)
            except OSError:
                break
        for sock in (source, sink):
            _close(sock)
        with self._state:
            self._sockets.discard(source)
            self._sockets.discard(sink)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked in recv() on it
    sock.close()
