"""A TCP proxy on 127.0.0.1 that puts a network between two local processes.

    proxy = TcpProxy(("127.0.0.1", 3306), rtt_ms=0.5)   # clients connect to proxy.port
    proxy.set_rtt(1.0)     # every byte now waits half of 1 ms in each direction
    proxy.cut()            # refuse new connections and reset the open ones
    proxy.restore()        # accept again
    proxy.blackhole()      # accept, but forward nothing either way (a silently dropped flow)
    proxy.close()

On loopback a round trip costs almost nothing, which flatters every design that makes many
of them; inside a VPC one costs a fraction of a millisecond. The delay is applied per
chunk and direction (half the round-trip time each way), in order, without holding back
the chunks behind it: a request-response exchange pays one round-trip time, a pipelined
stream pays it once. Sleeping threads set the pace, so the delay achieved is the one asked
plus the scheduler's latency (tens of microseconds): measure it where it matters.
"""

import contextlib
import socket
import struct
import threading
import time
from collections import deque

_BUFFER = 65536


class _Direction:
    """Bytes read from `source`, sent to `sink` once they are due."""

    def __init__(self, proxy: "TcpProxy", source: socket.socket, sink: socket.socket) -> None:
        self.proxy = proxy
        self.source = source
        self.sink = sink
        self.queue: deque[tuple[float, bytes]] = deque()
        self.ready = threading.Condition()
        self.done = False
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._send, daemon=True).start()

    def _read(self) -> None:
        try:
            while data := self.source.recv(_BUFFER):
                if self.proxy.mode == "blackhole":
                    continue
                delay = self.proxy.half_delay_s
                with self.ready:
                    if not delay and not self.queue:
                        # nothing to wait for: forward at once, without a thread hand-off
                        self.sink.sendall(data)
                        continue
                    self.queue.append((time.perf_counter() + delay, data))
                    self.ready.notify()
        except OSError:
            pass
        with self.ready:
            self.done = True
            self.ready.notify()

    def _send(self) -> None:
        try:
            while True:
                with self.ready:
                    while not self.queue and not self.done:
                        self.ready.wait()
                    if not self.queue:
                        break
                    due, data = self.queue.popleft()
                pause = due - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                self.sink.sendall(data)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            self.sink.shutdown(socket.SHUT_WR)


class TcpProxy:
    """127.0.0.1:`port` forwarded to `target`, with a round-trip time and faults."""

    def __init__(self, target: tuple[str, int], rtt_ms: float = 0.0) -> None:
        self.target = target
        self.half_delay_s = 0.0
        self.set_rtt(rtt_ms)
        self.mode = "open"  # open | blackhole
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self.port = 0
        self.restore()

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def set_rtt(self, ms: float) -> None:
        """Added round-trip time from now on, in milliseconds (half in each direction)."""
        if ms < 0:
            raise ValueError("a round-trip time cannot be negative")
        self.rtt_ms = float(ms)
        self.half_delay_s = ms / 2000

    def restore(self) -> None:
        """Accept and forward connections again (on the same port)."""
        self.mode = "open"
        if self._listener is not None:
            return
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def blackhole(self) -> None:
        """Keep accepting, forward nothing: a peer that never answers (timeouts, not errors)."""
        self.mode = "blackhole"

    def cut(self) -> None:
        """Refuse new connections and reset the open ones: the target is unreachable."""
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                # linger 0: close sends a RST, as a dropped route or a restarted server does
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.shutdown(socket.SHUT_RDWR)  # wakes the threads blocked reading it
            sock.close()

    def close(self) -> None:
        self.cut()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.mode == "blackhole":
                with self._lock:
                    self._sockets.append(client)
                threading.Thread(target=_drain, args=(client,), daemon=True).start()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._sockets += [client, upstream]
            _Direction(self, client, upstream)
            _Direction(self, upstream, client)


def _drain(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while sock.recv(_BUFFER):
            pass
