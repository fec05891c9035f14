"""The listening sockets of the local stack, with a backlog a burst of clients fits in.

A listening socket queues connections the server has not accepted yet; `socketserver`'s
default queue is 5, so a burst of simultaneous connects (a load test, a front end opening
a pool) overflowed it while the accept loop was busy, and clients saw their connections
reset. API Gateway and Lambda's endpoint accept such a burst (or answer 429). Every local
server listens with LISTEN_BACKLOG; the kernel caps it at net.core.somaxconn (4096 on
current Linux, 128 on older kernels and macOS).
"""

from http.server import ThreadingHTTPServer

LISTEN_BACKLOG = 128


class LocalHTTPServer(ThreadingHTTPServer):
    """`ThreadingHTTPServer` with LISTEN_BACKLOG pending connects and a thread per
    connection that does not keep the process alive."""

    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True
