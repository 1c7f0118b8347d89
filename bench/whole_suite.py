"""The whole suite on one image, and where its CPU time goes (target on a CPU-only host:
the reference, idle machine, <= 60 s).

    .venv/bin/python bench/whole_suite.py [--image REF] [--repeat 2]

Runs `pytest --image REF` (every check; the SBOM made once before, not counted) and prints,
per run: the wall time from start to exit, the machine's CPU time over the run (all
processes: the containers, the engine and its storage driver, pytest, syft), and the CPU
time of the run's containers by role (read from their cgroups while they live). The
machine's CPU time divided by its cores is the least wall time those checks can take on
it, however they are ordered. Figures are printed, never asserted.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import docker
import docker.errors

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from overhead import load, timed  # noqa: E402

POLL = 0.2


def machine_cpu_seconds() -> float:
    """CPU time the machine spent busy since boot (every core; /proc/stat, idle and iowait out)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    ticks = [int(value) for value in fields]
    busy = sum(ticks) - ticks[3] - (ticks[4] if len(ticks) > 4 else 0)
    return busy / os.sysconf("SC_CLK_TCK")


def container_cpu_seconds(container_id: str) -> float | None:
    """CPU time of a live container from its cgroup (v2, systemd or cgroupfs driver; v1), or None."""
    candidates = [f"/sys/fs/cgroup/system.slice/docker-{container_id}.scope/cpu.stat",
                  f"/sys/fs/cgroup/docker/{container_id}/cpu.stat",
                  f"/sys/fs/cgroup/cpuacct/docker/{container_id}/cpuacct.usage",
                  f"/sys/fs/cgroup/cpu,cpuacct/docker/{container_id}/cpuacct.usage",
                  f"/sys/fs/cgroup/cpuacct/system.slice/docker-{container_id}.scope/cpuacct.usage"]
    for path in candidates:
        try:
            text = Path(path).read_text()
        except OSError:
            continue
        if path.endswith("cpu.stat"):
            for line in text.splitlines():
                if line.startswith("usage_usec "):
                    return int(line.split()[1]) / 1e6
        else:
            return int(text.strip()) / 1e9
    return None


class ContainerCpu:
    """Polls the CPU time of the run's containers (label imagecheck.run) while they live."""

    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client
        self.seconds: dict[str, float] = {}  # by container id: the last figure read
        self.role: dict[str, str] = {}
        self.unreadable: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> "ContainerCpu":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(10)

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                live = self.client.containers.list(filters={"label": "imagecheck.run"})
            except docker.errors.DockerException:
                live = []
            for container in live:
                self.role.setdefault(container.id, container.labels.get("imagecheck.role", "?"))
                seconds = container_cpu_seconds(container.id)
                if seconds is None:
                    self.unreadable.add(container.id)
                else:
                    self.seconds[container.id] = seconds
            self._stop.wait(POLL)

    def by_role(self) -> dict[str, tuple[int, float]]:
        """Containers and CPU seconds per role, largest first."""
        totals: dict[str, list] = defaultdict(lambda: [0, 0.0])
        for container_id, seconds in self.seconds.items():
            totals[self.role[container_id]][0] += 1
            totals[self.role[container_id]][1] += seconds
        return {role: (n, s) for role, (n, s) in sorted(totals.items(), key=lambda kv: -kv[1][1])}


def run_suite(image: str, *options: str) -> tuple[float, str]:
    """Wall time of `pytest --image IMAGE [options]` in a subprocess, and its last line."""
    seconds, proc = timed([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--image", image,
                           *options], cwd=ROOT)
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-300:]
    return seconds, last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="pytorch-cuda:v2.6", help="Image to run the suite on (default: the reference)")
    parser.add_argument("--repeat", type=int, default=2, help="Runs of the whole suite (default 2)")
    args = parser.parse_args()
    client = docker.from_env()
    cores = os.cpu_count() or 1
    print(f"image: {args.image}; {cores} cores; {time.strftime('%Y-%m-%d %H:%M')}; {load()} at the start",
          flush=True)
    with tempfile.TemporaryDirectory(prefix="imagecheck-bench-suite-") as scratch:
        # the SBOM made (and cached) once, so each run below does the same work
        run_suite(args.image, "tests/test_sbom.py", f"--signoff-report={scratch}/sbom")
        for number in range(1, args.repeat + 1):
            busy = machine_cpu_seconds()
            with ContainerCpu(client) as account:
                seconds, outcome = run_suite(args.image, f"--signoff-report={scratch}/run{number}")
            machine = machine_cpu_seconds() - busy
            containers = sum(s for _, s in account.by_role().values())
            print(f"\nrun {number}: {seconds:.1f} s wall ({outcome})")
            print(f"  machine CPU {machine:.1f} s over the run: at least {machine / cores:.1f} s on {cores} cores, "
                  f"however the checks are ordered")
            print(f"  the run's containers: {containers:.1f} s CPU; the rest ({machine - containers:.1f} s) is the "
                  "engine, its storage driver, pytest and syft")
            print("  | role | containers | CPU s |\n  |---|---:|---:|")
            for role, (count, cpu) in account.by_role().items():
                print(f"  | {role} | {count} | {cpu:.1f} |")
            unread = account.unreadable - set(account.seconds)
            if unread:
                print(f"  ({len(unread)} container(s) whose cgroup could not be read are not counted)")
    print(f"({load()} at the end)")


if __name__ == "__main__":
    main()
