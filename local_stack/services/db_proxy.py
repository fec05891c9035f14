"""The optional RDS Proxy (EnableDatabaseProxy), locally: a TCP relay to the same MySQL.

In AWS the proxy is its own endpoint in front of the database; the functions connect to it
with the application user's credentials (DATABASE_PROXY_ENDPOINT replaces the secret's
host) and it pools connections to the database. Here the DBProxy resource becomes a relay
on 127.0.0.1 and a port of its own, forwarding every byte (TLS included) to the stack's
MySQL server, so proxy mode runs the functions' code unchanged against the same database,
and what goes through the proxy can be counted. Connection pooling, multiplexing and
session pinning are the managed proxy's and are not emulated; neither is its own TLS
certificate (the bytes reach MySQL, which answers the handshake itself).
"""

import contextlib
import socket
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

from local_stack.network.sockets import LISTEN_BACKLOG
from local_stack.services import mysql


class Cloud(Protocol):
    stack_name: str


Created = tuple[str, dict[str, str]]  # physical id, GetAtt attributes


@dataclass
class Relay:
    """127.0.0.1:<port> forwarded to `target`; `accepted` counts client connections."""

    target: tuple[str, int]
    accepted: int = 0
    _listener: socket.socket = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(LISTEN_BACKLOG)
        threading.Thread(target=self._accept, name="db-proxy", daemon=True).start()

    @property
    def endpoint(self) -> str:
        host, port = self._listener.getsockname()[:2]
        return f"{host}:{port}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.accepted += 1
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.close()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


# endpoint -> relay, for tests that look at what went through a stack's proxy
RELAYS: dict[str, Relay] = {}


def proxy(logical_id: str, props: dict[str, Any], cloud: Cloud) -> Created:
    """AWS::RDS::DBProxy: a relay to this process's MySQL server."""
    address = mysql.server()
    relay = Relay((address.host, address.port))
    RELAYS[relay.endpoint] = relay
    name = str(props.get("DBProxyName") or f"{cloud.stack_name}-{logical_id}")
    return name, {
        "Endpoint": relay.endpoint,
        "DBProxyArn": f"arn:aws:rds:local:000000000000:db-proxy:{name}",
    }


def target_group(logical_id: str, props: dict[str, Any], cloud: Cloud) -> Created:
    """AWS::RDS::DBProxyTargetGroup: the relay already reaches the only database."""
    return f"{props['DBProxyName']}/{props.get('TargetGroupName', 'default')}", {}


SHIMS = {"AWS::RDS::DBProxy": proxy, "AWS::RDS::DBProxyTargetGroup": target_group}
