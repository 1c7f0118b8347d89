"""How long a nightly of unchanged images takes with --reuse (target: <= 5 s per image).

    .venv/bin/python bench/nightly_reuse.py [--image REF] [--images 4] [--repeat 3]

Tags the image several times (each tag its own entry in a copy of images.yaml, with the
reference's promises), runs one nightly that validates them all (the fact checks,
`-m facts`: it only makes the report to reuse, so its time is shown, not judged), then
nightlies with --reuse, each of which finds every image unchanged. Prints the wall time
of each, from the command's start to its exit; removes the tags and the reports after.
Figures are printed, never asserted.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker

ROOT = Path(__file__).resolve().parent.parent
REPOSITORY = "imagecheck-bench/reuse"
RUN_LIMIT = 1800  # seconds: a nightly of the fact checks takes about a minute; past this, something hangs


def nightly(reports: Path, images_file: Path, refs: list[str], *options: str) -> tuple[float, str]:
    """One nightly in a subprocess: its wall time and output; stops the bench if it fails."""
    command = [sys.executable, "-m", "imagecheck.nightly", "--reports", str(reports), *options, "--",
               "-p", "no:cacheprovider", "--images-file", str(images_file), "-m", "facts"]
    for ref in refs:
        command += ["--image", ref]
    started = time.monotonic()
    try:
        proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=RUN_LIMIT)
    except subprocess.TimeoutExpired:
        raise SystemExit(f"bench: the nightly {' '.join(options) or '(no reuse)'} ran past {RUN_LIMIT} s (expected "
                         "one in minutes)\n  hint: run it by hand to see where it hangs") from None
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit(f"bench: the nightly {' '.join(options) or '(no reuse)'} failed (expected exit 0, observed "
                         f"{proc.returncode}):\n{(proc.stdout + proc.stderr)[-2500:]}\n  hint: run it by hand")
    return seconds, proc.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description="Time a nightly of unchanged images with --reuse")
    parser.add_argument("--image", default="pytorch-cuda:v2.6", help="Image to tag (default: the reference)")
    parser.add_argument("--images", type=int, default=4, help="How many unchanged images (default: 4)")
    parser.add_argument("--repeat", type=int, default=3, help="Nightlies with --reuse (default: 3)")
    args = parser.parse_args()
    client = docker.from_env()
    refs = [f"{REPOSITORY}:{n}" for n in range(1, args.images + 1)]
    work = Path(tempfile.mkdtemp(prefix="imagecheck-bench-reuse-"))
    images_file = work / "images.yaml"
    images_file.write_text((ROOT / "images.yaml").read_text().rstrip("\n") + "\n\n  # copies for the benchmark\n"
                           + "".join(f"  {ref}:\n    <<: *v26\n" for ref in refs))
    one, five, fifteen = os.getloadavg()
    print(f"nightly with --reuse: {args.images} tags of {args.image}; {time.strftime('%Y-%m-%d %H:%M')}; "
          f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} at the start", flush=True)
    try:
        for ref in refs:
            client.images.get(args.image).tag(ref)
        seed, _ = nightly(work / "reports", images_file, refs)
        runs = []
        for _ in range(args.repeat):
            seconds, output = nightly(work / "reports", images_file, refs, "--reuse")
            if f"{args.images} image(s) reused" not in output:
                raise SystemExit(f"bench: expected every image reused, observed:\n{output[-2000:]}\n  hint: did "
                                 "tests/, fixtures/probes/ or imagecheck/ change during the bench?")
            runs.append(seconds)
    finally:
        for ref in refs:
            try:
                client.images.remove(ref)
            except docker.errors.ImageNotFound:
                pass
        shutil.rmtree(work, ignore_errors=True)
    reused = statistics.median(runs)
    print()
    print("| measure | seconds |")
    print("|---|---:|")
    print(f"| nightly that validates the {args.images} images (`-m facts`, makes the report to reuse) | {seed:.1f} |")
    print(f"| nightly --reuse of the {args.images} unchanged images (median of {len(runs)}: "
          f"{', '.join(f'{s:.1f}' for s in runs)}) | {reused:.1f} |")
    print(f"| per image (target <= 5) | **{reused / args.images:.2f}** |")
    one, five, fifteen = os.getloadavg()
    print(f"(load average {one:.2f}, {five:.2f}, {fifteen:.2f} at the end)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
