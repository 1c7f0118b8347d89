"""What listens inside a container: every listening TCP/UDP socket in its network
namespace, from testinfra's socket module (ss or netstat in the image), else from /proc/net
read directly (an image without either)."""
from __future__ import annotations

import socket
from dataclasses import dataclass

from ..runtime import testinfra_bridge
from ..runtime.container import Container


@dataclass(frozen=True)
class Listener:
    """A listening socket inside the container."""

    protocol: str
    address: str
    port: int

    def __str__(self) -> str:
        return f"{self.protocol} {self.address}:{self.port}"


def listening_sockets(container: Container, timeout: float) -> tuple[list[Listener], str]:
    """Every listening TCP/UDP socket in the container's network namespace, and the source:
    testinfra's socket module (ss or netstat in the image), else /proc/net read directly."""
    host = testinfra_bridge.host(container, timeout)
    try:
        specs = host.socket.get_listening_sockets()
    except (RuntimeError, ValueError, AssertionError):
        return _proc_net_listeners(container, timeout), "/proc/net (the image has neither ss nor netstat)"
    listeners = []
    for spec in specs:
        protocol, _, rest = spec.partition("://")
        if protocol not in ("tcp", "udp"):
            continue
        address, _, port = rest.rpartition(":")
        listeners.append(Listener(protocol, address, int(port)))
    return sorted(set(listeners), key=lambda l: (l.port, l.protocol, l.address)), "ss/netstat (testinfra's socket module)"


_PROC_STATES = {"tcp": "0A", "udp": "07"}  # LISTEN, and UNCONN for a bound UDP socket


def _proc_net_listeners(container: Container, timeout: float) -> list[Listener]:
    listeners = set()
    for table in ("tcp", "tcp6", "udp", "udp6"):
        result = container.exec(["cat", f"/proc/net/{table}"], timeout=timeout)
        protocol = table.rstrip("6")
        for line in result.stdout.splitlines()[1:]:
            fields = line.split()
            if len(fields) < 4 or fields[3] != _PROC_STATES[protocol]:
                continue
            address_hex, _, port_hex = fields[1].partition(":")
            port = int(port_hex, 16)
            if port:
                listeners.add(Listener(protocol, _proc_address(address_hex), port))
    return sorted(listeners, key=lambda l: (l.port, l.protocol, l.address))


def _proc_address(hex_address: str) -> str:
    raw = bytes.fromhex(hex_address)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
    return socket.inet_ntop(socket.AF_INET6, words)
