"""Which transport NCCL picked between the ranks, read from its own log (NCCL_DEBUG=INFO:
"Channel 00/0 : 0[0] -> 1[1] via P2P/CUMEM/read"), ranked fastest first, and the variables
of an image's environment that steer NCCL off the fast ones. NCCL never fails for a slow
transport: it quietly picks another, so the suite compares the container's with the one
the same GPUs get on the host itself. Pure."""
from __future__ import annotations

import re

VIA = re.compile(r"\bvia (P2P/[\w/]+|SHM/[\w/]+|SHM\b|NET/[\w/]+|COLLNET\S*)")
# Fastest first: P2P between GPUs (NVLink or PCIe), then host shared memory, then the network.
RANKS = (("P2P", "P2P (GPU to GPU: NVLink or PCIe)"), ("SHM", "SHM (through host shared memory)"),
         ("NET/IB", "NET/IB (InfiniBand or RoCE)"), ("COLLNET", "CollNet"), ("NET", "NET/Socket (TCP sockets)"))
STEERING = ("NCCL_P2P_DISABLE", "NCCL_P2P_LEVEL", "NCCL_SHM_DISABLE", "NCCL_SOCKET_IFNAME", "NCCL_IB_DISABLE",
            "NCCL_NET", "NCCL_P2P_USE_CUDA_MEMCPY", "NCCL_CUMEM_ENABLE", "NCCL_NET_GDR_LEVEL", "NCCL_ALGO",
            "NCCL_PROTO", "NCCL_MAX_NCHANNELS", "NCCL_NCHANNELS_PER_NET_PEER", "NCCL_BUFFSIZE")
# What each rank reports to the suite (ddp_results probe) and what the host's twin runs with.
DEBUG_ENV = {"NCCL_DEBUG": "INFO", "NCCL_DEBUG_SUBSYS": "INIT,P2P,SHM,NET"}


def transports(lines: list[str]) -> list[str]:
    """The transports NCCL's log names, in order of first appearance ('P2P/CUMEM/read')."""
    seen: dict[str, None] = {}
    for line in lines:
        for match in VIA.finditer(line):
            seen.setdefault(match.group(1), None)
    return list(seen)


def rank(transport: str) -> int:
    """0 for the fastest kind; a higher number is slower."""
    for index, (prefix, _) in enumerate(RANKS):
        if transport.startswith(prefix):
            return index
    return len(RANKS)


def slowest(found: list[str]) -> str | None:
    """The slowest transport a run used (what bounds its all_reduce)."""
    return max(found, key=rank) if found else None


def describe(transport: str | None) -> str:
    if transport is None:
        return "none named in NCCL's log"
    name = next((words for prefix, words in RANKS if transport.startswith(prefix)), "an unknown transport")
    return f"{transport}: {name}"


def steering(environment: list[str] | None) -> dict[str, str]:
    """The NCCL variables the image's environment sets that steer its choice of transport."""
    env = dict(item.split("=", 1) for item in environment or [] if "=" in item)
    return {name: env[name] for name in STEERING if name in env}


def slower_than_the_host(container: list[str], host: list[str]) -> bool:
    """Whether the container's slowest transport is slower than the host's for the same GPUs."""
    mine, theirs = slowest(container), slowest(host)
    return mine is not None and theirs is not None and rank(mine) > rank(theirs)


def forcing(transport: str | None) -> dict[str, str]:
    """The variables that make NCCL on the host use the same kind of transport (so that a
    two-node run of containers, which talks over the network, is judged against the same
    transport on the host, not against NVLink)."""
    if transport is None or transport.startswith("P2P"):
        return {}
    if transport.startswith("SHM"):
        return {"NCCL_P2P_DISABLE": "1"}
    return {"NCCL_P2P_DISABLE": "1", "NCCL_SHM_DISABLE": "1"}
