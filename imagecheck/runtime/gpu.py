"""GPU access for containers: what to pass to docker so a container sees the GPUs.

Modes (--gpu-mode):
- toolkit: a DeviceRequest, what `docker run --gpus` does; needs the NVIDIA Container Toolkit;
- devices: the device nodes plus the driver's library folder mounted read-only, what the
  toolkit does, done explicitly, for hosts without the toolkit;
- none: no GPU access;
- auto: toolkit when the engine lists an nvidia runtime, devices when /dev/nvidiactl
  exists, else none.
"""
from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field, replace

import docker
import docker.types

MODES = ("auto", "toolkit", "devices", "none")
DEFAULT_DRIVER_DIR = "/usr/local/nvidia"
_CONTROL_NODES = ("/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidia-modeset")


@dataclass(frozen=True)
class HostGpu:
    """One GPU of the host, as nvidia-smi on the host reports it."""

    index: int
    name: str
    driver: str
    memory_mib: int | None = None
    uuid: str | None = None


@dataclass(frozen=True)
class GpuAccess:
    """The access mode chosen for this run and the GPUs it grants."""

    mode: str                      # toolkit | devices | none
    reason: str                    # why this mode was chosen
    indices: tuple[int, ...] = ()  # GPUs granted to each container (host indices)
    driver_dir: str = DEFAULT_DRIVER_DIR
    host_gpus: tuple[HostGpu, ...] = field(default_factory=tuple)
    host_driver: str | None = None  # from /proc/driver/nvidia or the driver folder, when nvidia-smi is absent
    shared: bool = False           # a granted GPU is also given to another xdist worker (worker_share)

    @property
    def granted(self) -> int:
        return 0 if self.mode == "none" else len(self.indices)

    @property
    def driver_version(self) -> str | None:
        return self.host_gpus[0].driver if self.host_gpus else self.host_driver

    def describe(self) -> str:
        if self.mode == "none":
            return f"GPU access: none ({self.reason})"
        names = ", ".join(f"{g.index}: {g.name}" for g in self.host_gpus if g.index in self.indices) or \
            ", ".join(str(i) for i in self.indices)
        driver = f", driver {self.driver_version}" if self.driver_version else ""
        shared = "; shared with another xdist worker (timings overlap)" if self.shared else ""
        return f"GPU access: {self.mode} ({self.reason}); granted {self.granted} GPU(s) [{names}]{driver}{shared}"

    def subset(self, indices: tuple[int, ...]) -> "GpuAccess":
        """The same access limited to some of the granted GPUs (shared only if it keeps a GPU)."""
        return replace(self, indices=tuple(indices), shared=self.shared and bool(indices))

    def container_kwargs(self, image_env: list[str] | None = None) -> dict:
        """docker SDK run/create keyword arguments that grant these GPUs."""
        if self.mode == "none" or not self.indices:
            return {}
        if self.mode == "toolkit":
            request = docker.types.DeviceRequest(device_ids=[str(i) for i in self.indices],
                                                 capabilities=[["gpu", "compute", "utility"]])
            return {"device_requests": [request]}
        nodes = [n for n in _CONTROL_NODES if os.path.exists(n)] + [f"/dev/nvidia{i}" for i in self.indices]
        env = dict(item.split("=", 1) for item in (image_env or []) if "=" in item)
        lib = f"{self.driver_dir}/lib64"
        paths = {
            "LD_LIBRARY_PATH": _append(env.get("LD_LIBRARY_PATH"), lib),
            "PATH": _append(env.get("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
                            f"{self.driver_dir}/bin"),
        }
        return {"devices": [f"{n}:{n}:rwm" for n in nodes],
                "volumes": {self.driver_dir: {"bind": self.driver_dir, "mode": "ro"}},
                "environment": paths}


def _append(value: str | None, extra: str) -> str:
    parts = [p for p in (value or "").split(":") if p]
    return ":".join(parts + ([extra] if extra not in parts else []))


def host_gpus() -> tuple[HostGpu, ...]:
    """The GPUs nvidia-smi on this host lists; empty without nvidia-smi or GPUs."""
    smi = shutil.which("nvidia-smi") or (f"{DEFAULT_DRIVER_DIR}/bin/nvidia-smi"
                                         if os.path.exists(f"{DEFAULT_DRIVER_DIR}/bin/nvidia-smi") else None)
    if smi is None:
        return ()
    try:
        proc = subprocess.run([smi, "--query-gpu=index,name,driver_version,memory.total,uuid",
                               "--format=csv,noheader,nounits"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ()
    gpus = []
    for line in proc.stdout.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) >= 3 and parts[0].isdigit():
            memory = int(parts[3]) if len(parts) > 3 and parts[3].isdigit() else None
            uuid = parts[4] if len(parts) > 4 and parts[4].startswith("GPU-") else None
            gpus.append(HostGpu(int(parts[0]), parts[1], parts[2], memory, uuid))
    return tuple(gpus)


def host_driver_version(driver_dir: str = DEFAULT_DRIVER_DIR) -> str | None:
    """The host's NVIDIA kernel driver version without nvidia-smi: /proc/driver/nvidia/version,
    else the libcuda.so.VERSION file in the driver folder; None when neither is there."""
    try:
        with open("/proc/driver/nvidia/version") as handle:
            match = re.search(r"Kernel Module(?: for \S+)?\s+(\d+\.\d+(?:\.\d+)?)", handle.read())
            if match:
                return match.group(1)
    except OSError:
        pass
    for path in sorted(glob.glob(f"{driver_dir}/lib64/libcuda.so.*.*")):
        match = re.fullmatch(r"libcuda\.so\.(\d+\.\d+(?:\.\d+)?)", os.path.basename(path))
        if match:
            return match.group(1)
    return None


def _device_indices() -> tuple[int, ...]:
    found = [int(m.group(1)) for p in glob.glob("/dev/nvidia*") if (m := re.fullmatch(r"/dev/nvidia(\d+)", p))]
    return tuple(sorted(found))


def parse_gpus(value: str) -> tuple[str, tuple[int, ...]]:
    """--gpus: 'all', a count 'N', or a list '0,1'. Returns (kind, numbers)."""
    value = value.strip()
    if value == "all":
        return "all", ()
    if re.fullmatch(r"\d+", value):
        return "count", (int(value),)
    if re.fullmatch(r"\d+(,\d+)*", value):
        return "list", tuple(int(v) for v in value.split(","))
    raise ValueError(f"--gpus {value!r}: expected 'all', a count such as 2, or indices such as 0,1")


def choose(mode: str, gpus: str, driver_dir: str, client: docker.DockerClient | None) -> GpuAccess:
    """Decide the access mode and the granted GPUs for this host."""
    kind, numbers = parse_gpus(gpus)
    found = host_gpus()
    driver = None if found else host_driver_version(driver_dir)
    available = tuple(g.index for g in found) or _device_indices()
    if mode == "auto":
        runtimes = {}
        if client is not None:
            try:
                runtimes = client.info().get("Runtimes") or {}
            except docker.errors.APIError:
                runtimes = {}
        if "nvidia" in runtimes:
            mode, reason = "toolkit", "auto: the engine lists an nvidia runtime"
        elif os.path.exists("/dev/nvidiactl"):
            mode, reason = "devices", "auto: /dev/nvidiactl exists, no nvidia runtime in the engine"
        else:
            return GpuAccess("none", "auto: no nvidia runtime and no /dev/nvidiactl on this host", (), driver_dir,
                             found, driver)
    elif mode == "none":
        return GpuAccess("none", "--gpu-mode none", (), driver_dir, found, driver)
    else:
        reason = f"--gpu-mode {mode}"
    if kind == "all":
        indices = available
    elif kind == "count":
        indices = available[: numbers[0]]
    else:
        indices = numbers
    return GpuAccess(mode, reason, tuple(indices), driver_dir, found, driver)


def worker_share(access: GpuAccess, worker: str | None, workers: int | None) -> GpuAccess:
    """With `pytest -n K` (xdist), each worker's own GPUs. One rule: every worker gets
    per = max(1, GPUs // K) GPUs, the shares handed out in turn over the granted GPUs
    (worker gwi from position i * per on, wrapping around). With at least as many GPUs as
    workers the shares are disjoint (what does not divide evenly stays unused); with fewer,
    the shares wrap and a GPU goes to more than one worker: `shared` says so (describe()
    too), and figures measured on it are not the image's. Use K <= GPUs / 2 for the
    multi-GPU checks. Without xdist, or with no GPU granted: the access unchanged."""
    if access.mode == "none" or not access.indices or not worker or not workers or workers <= 1:
        return access
    count = len(access.indices)
    per = max(1, count // workers)
    shares = [tuple(access.indices[(k * per + j) % count] for j in range(per)) for k in range(workers)]
    index = int(re.sub(r"\D", "", worker) or 0) % workers
    share = shares[index]
    others = {gpu for k, other in enumerate(shares) if k != index for gpu in other}
    shared = bool(others & set(share))
    note = (f"xdist worker {worker} of {workers}: GPUs {','.join(map(str, share))} of "
            f"{','.join(map(str, access.indices))}")
    return replace(access, reason=f"{access.reason}; {note}", indices=share, shared=shared)
