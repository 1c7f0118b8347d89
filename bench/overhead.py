"""How close the suite is to its floor, and how it compares with the naive way.

    make bench            (or: .venv/bin/python bench/overhead.py [--image REF])

Prints one table, measured on this machine (described at the top):
- floor: one container start + one import of torch, torchvision and torchaudio (median);
- suite: wall time of `pytest -m facts` (the checks that only read facts) on the image;
- naive: the same checks as container-structure-test command tests, one new container and
  one python process per check (bench/naive_runner.py, bench/naive_fact_checks.yaml);
- the ratios suite/floor and naive/suite;
- wall time of the fact checks for 1, 2 and 4 images with -n 1 and -n 2 (the extra images
  are tags of the same image, removed afterwards, so each is a separate container).
Numbers are printed, never asserted.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import naive_runner  # noqa: E402

FLOOR_COMMAND = ["python3", "-c", "import torch, torchvision, torchaudio"]
COPY_REPOSITORY = "imagecheck-bench/copy"


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
    proc = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    return time.monotonic() - started, proc


def floor(image: str, repeat: int) -> float:
    """Median of: docker run --rm IMAGE python3 -c 'import torch, torchvision, torchaudio'."""
    runs = []
    for _ in range(repeat):
        seconds, proc = timed(["docker", "run", "--rm", "--entrypoint", FLOOR_COMMAND[0], image, *FLOOR_COMMAND[1:]])
        if proc.returncode != 0:
            raise SystemExit(f"the floor command failed in {image}: {proc.stderr[-500:]}")
        runs.append(seconds)
    return statistics.median(runs)


def suite(images: list[str], workers: int | None, images_file: Path | None, workdir: Path) -> float:
    """Wall time of the fact checks for these images (pytest in a subprocess)."""
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
        raise SystemExit(f"the suite failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}")
    return seconds


def copies(image: str, count: int) -> tuple[list[str], Path]:
    """count references to the image (itself plus tags), and an images file listing them."""
    client = docker.from_env()
    refs = [image] + [f"{COPY_REPOSITORY}:{n}" for n in range(1, count)]
    for ref in refs[1:]:
        client.images.get(image).tag(ref)
    text = (ROOT / "images.yaml").read_text()
    extra = "".join(f"  {ref}:\n    <<: *v26\n" for ref in refs[1:])
    path = Path(tempfile.mkdtemp(prefix="imagecheck-bench-")) / "images.yaml"
    path.write_text(text.rstrip("\n") + "\n\n  # copies for the benchmark\n" + extra)
    return refs, path


def main() -> int:
    parser = argparse.ArgumentParser(description="Measure the suite's overhead against its floor")
    parser.add_argument("--image", default="pytorch-cuda:v2.6", help="Image to measure (default: the reference)")
    parser.add_argument("--repeat", type=int, default=5, help="Runs per median for the floor (default: 5)")
    parser.add_argument("--suite-repeat", type=int, default=3, help="Runs per median for the suite (default: 3)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="imagecheck-bench-run-"))
    print(f"machine: {machine()}")
    print(f"image: {args.image}; {time.strftime('%Y-%m-%d %H:%M')}", flush=True)

    suite(args.image.split(), None, None, workdir)  # warm the page cache once, not counted
    floor_s = floor(args.image, args.repeat)
    suite_s = statistics.median(suite([args.image], None, None, workdir) for _ in range(args.suite_repeat))
    print("naive run (one container and one python per check):", flush=True)
    naive_s, passed, count = naive_runner.run_all(args.image, ROOT / "bench" / "naive_fact_checks.yaml")

    print()
    print("| measure | seconds |")
    print("|---|---:|")
    print(f"| floor: container start + import torch, torchvision, torchaudio (median of {args.repeat}) | {floor_s:.1f} |")
    print(f"| suite: the {count} fact checks, `pytest -m facts` wall time (median of {args.suite_repeat}) | {suite_s:.1f} |")
    print(f"| naive: the same {count} checks, one container + one python each ({passed} passed) | {naive_s:.1f} |")
    print(f"| suite / floor (target <= 1.5) | {suite_s / floor_s:.2f} |")
    print(f"| naive / suite (target >= 5) | {naive_s / suite_s:.1f} |")
    print(flush=True)

    refs, images_file = copies(args.image, 4)
    try:
        print("| images | -n 1 (s) | -n 2 (s) | -n 2 / -n 1 |")
        print("|---:|---:|---:|---:|")
        for count in (1, 2, 4):
            one = suite(refs[:count], 1, images_file, workdir)
            two = suite(refs[:count], 2, images_file, workdir)
            print(f"| {count} | {one:.1f} | {two:.1f} | {two / one:.2f} |", flush=True)
    finally:
        client = docker.from_env()
        for ref in refs[1:]:
            client.images.remove(ref)
    print("(target with 4 images: -n 2 / -n 1 <= 0.6)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
