"""The nightly run: every image not marked run_by_default: false, in parallel, into a
dated report folder.

    python -m imagecheck.nightly [--reports reports] [--baseline auto|none|FILE] [-- PYTEST ARGS]

(`make nightly ARGS="--require-gpu"` runs it.) The images are the --image arguments given
after `--`, else every image of the images file (--images-file, here or after `--`) that
is not marked run_by_default: false. It starts pytest with one xdist worker per
image (each image's checks stay on one worker, see imagecheck.scheduling). On a GPU host
each worker gets its own share of the GPUs (runtime.gpu.worker_share), so there it runs
at most one worker per 2 GPUs (the multi-GPU checks need 2; more if an image's
gpu.min_gpus says so) and the other images wait for a free worker; --workers N overrides
(`make nightly WORKERS=N`). It writes the
sign-off report (report.html, report.md, report.json), the JUnit XML (junit.xml) and the
terminal output (pytest.log) into REPORTS/YYYY-MM-DD/ (UTC; `-2`, `-3`... when the day
already has one), points REPORTS/latest at it, and compares with the newest earlier
report.json under REPORTS (--baseline auto), so last night's results are the baseline.
The exit status is pytest's (1 when an image is BLOCKED).
"""
from __future__ import annotations

import argparse
import datetime
import glob
import subprocess
import sys
from pathlib import Path

from . import config as config_module
from .errors import ConfigError
from .runtime import gpu as gpu_runtime


def option_values(pytest_args: list[str], option: str) -> list[str]:
    """The values given to a pytest option (`--opt VALUE` or `--opt=VALUE`), in order."""
    values = []
    for index, arg in enumerate(pytest_args):
        if arg == option and index + 1 < len(pytest_args):
            values.append(pytest_args[index + 1])
        elif arg.startswith(option + "="):
            values.append(arg.split("=", 1)[1])
    return values


def images_file_in(pytest_args: list[str], default: Path) -> Path:
    """The images file pytest will read: the last --images-file among its arguments (the
    one pytest keeps), else default."""
    given = option_values(pytest_args, "--images-file")
    return Path(given[-1]) if given else default


def images_in(pytest_args: list[str], catalog: config_module.Catalog) -> list[str]:
    """The images the run validates: the --image arguments, else the catalog's default set."""
    refs = option_values(pytest_args, "--image")
    if refs:
        return list(dict.fromkeys(refs))
    return catalog.default_refs()


def dated_folder(reports: Path, today: datetime.date) -> Path:
    """REPORTS/YYYY-MM-DD, or the next free YYYY-MM-DD-N."""
    base = reports / today.isoformat()
    candidate, number = base, 1
    while candidate.exists():
        number += 1
        candidate = reports / f"{today.isoformat()}-{number}"
    return candidate


def previous_report(reports: Path, exclude: Path) -> Path | None:
    """The newest report.json under REPORTS, other than the new folder's."""
    found = [p for p in reports.glob("*/report.json")
             if p.parent.resolve() != exclude.resolve() and not p.parent.is_symlink()]
    return max(found, key=lambda p: p.stat().st_mtime, default=None)


def host_gpu_count() -> int:
    """GPUs on this host (nvidia-smi, else the /dev/nvidiaN device nodes)."""
    return len(gpu_runtime.host_gpus()) or len(glob.glob("/dev/nvidia[0-9]*"))


def worker_count(refs: list[str], catalog: config_module.Catalog, gpus: int) -> tuple[int, str]:
    """One worker per image; on a GPU host no more than the GPUs allow (2 or min_gpus each)."""
    if gpus == 0:
        return len(refs), "one worker per image"
    need = max([2] + [catalog.spec_for(ref)[0].gpu.min_gpus for ref in refs])
    workers = max(1, min(len(refs), gpus // need))
    if workers == len(refs):
        return workers, f"one worker per image, {gpus // workers} of the host's {gpus} GPU(s) each"
    return workers, (f"{workers} worker(s) for {len(refs)} images: the host has {gpus} GPU(s) and each worker "
                     f"needs {need} (the multi-GPU checks); --workers N overrides")


def command(folder: Path, workers: int, baseline: Path | None, pytest_args: list[str]) -> list[str]:
    args = [sys.executable, "-m", "pytest", "-n", str(workers), "--signoff-report", str(folder),
            f"--junitxml={folder / 'junit.xml'}", "-o", "junit_suite_name=imagecheck-nightly"]
    if baseline is not None:
        args += ["--baseline", str(baseline)]
    return args + pytest_args


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m imagecheck.nightly", description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--reports", type=Path, default=Path("reports"), help="Folder of the dated report folders")
    parser.add_argument("--images-file", type=Path, default=Path("images.yaml"),
                        help="The images and their promises (an --images-file after -- wins)")
    parser.add_argument("--baseline", default="auto",
                        help="auto (the newest earlier report under --reports), none, or a report.json")
    parser.add_argument("--workers", type=int, default=None,
                        help="xdist workers (default: one per image, at most one per 2 GPUs on a GPU host)")
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER, help="Arguments for pytest (after --)")
    args = parser.parse_args(argv)
    pytest_args = [a for a in args.pytest_args if a != "--"] if args.pytest_args[:1] == ["--"] else args.pytest_args
    images_file = images_file_in(pytest_args, args.images_file)
    if not option_values(pytest_args, "--images-file") and images_file != Path("images.yaml"):
        pytest_args = ["--images-file", str(images_file), *pytest_args]
    try:
        catalog = config_module.load(images_file)
    except ConfigError as error:
        print(f"nightly: {images_file} is not valid:\n  {error}", file=sys.stderr)
        return 4
    refs = images_in(pytest_args, catalog)
    if not refs:
        print(f"nightly: {images_file} lists no image to run by default (every one is marked run_by_default: "
              "false) and no --image was given; nothing to validate", file=sys.stderr)
        return 4
    folder = dated_folder(args.reports, datetime.datetime.now(datetime.timezone.utc).date())
    folder.mkdir(parents=True)
    if args.baseline == "auto":
        baseline = previous_report(args.reports, folder)
    elif args.baseline == "none":
        baseline = None
    else:
        baseline = Path(args.baseline)
    if args.workers:
        workers, why = args.workers, f"{args.workers} worker(s) (--workers)"
    else:
        workers, why = worker_count(refs, catalog, host_gpu_count())
    cmd = command(folder, workers, baseline, pytest_args)
    print(f"nightly: {len(refs)} image(s), {why}: {', '.join(refs)}", flush=True)
    print(f"nightly: writing into {folder}/" + (f"; baseline {baseline}" if baseline else "; no baseline"), flush=True)
    with (folder / "pytest.log").open("w") as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            log.write(line)
        status = proc.wait()
    latest = args.reports / "latest"
    try:
        if latest.is_symlink() or latest.exists():
            latest.unlink()
        latest.symlink_to(folder.name)
    except OSError as error:
        print(f"nightly: could not point {latest} at {folder.name}: {error}", file=sys.stderr)
    print(f"nightly: done (exit {status}); report {folder / 'report.html'}", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
