"""A load generator for the local API: N keep-alive clients for S seconds, in its own process.

    python -m bench.load URL CLIENTS SECONDS

Each client is a thread with one HTTP/1.1 connection, sending GET URL back to back; every
response must be 200. Prints one JSON line: requests, seconds, requests per second, p50
and p99 latency (ms). A separate process, so the clients do not compete with the server
for the bench process's interpreter lock.
"""

import http.client
import json
import statistics
import sys
import threading
import time
from urllib.parse import urlsplit


def main() -> int:
    url, clients, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    parts = urlsplit(url)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    stop = time.monotonic() + 3600.0

    def client() -> None:
        connection = http.client.HTTPConnection(
            parts.hostname or "127.0.0.1", parts.port, timeout=60
        )
        mine: list[float] = []
        start.wait()
        while time.monotonic() < stop:
            began = time.perf_counter()
            connection.request("GET", parts.path)
            response = connection.getresponse()
            body = response.read()
            mine.append(time.perf_counter() - began)
            if response.status != 200:
                with lock:
                    errors.append(f"{response.status} {body[:200]!r}")
                break
        connection.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    began = time.monotonic()
    stop = began + seconds
    start.wait()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    latencies.sort()
    print(
        json.dumps(
            {
                "clients": clients,
                "requests": len(latencies),
                "seconds": round(elapsed, 3),
                "rps": len(latencies) / elapsed,
                "p50_ms": statistics.median(latencies) * 1000 if latencies else None,
                "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000 if latencies else None,
                "errors": errors[:5],
            }
        )
    )
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
