"""The nightly run: every image not marked run_by_default: false, in parallel, into a
dated report folder.

    python -m imagecheck.nightly [--reports reports] [--baseline auto|none|FILE] [--reuse] [-- PYTEST ARGS]

(`make nightly ARGS="--require-gpu"` runs it.) The images are the --image arguments given
after `--`, else every image of the images file (--images-file, here or after `--`) that
is not marked run_by_default: false. It starts pytest with one xdist worker per
image (each image's checks stay on one worker, see imagecheck.pytest_plugin.scheduling). On a GPU host
each worker gets its own share of the GPUs (runtime.gpu.worker_share), so there it runs
at most one worker per 2 GPUs (the multi-GPU checks need 2; more if an image's
gpu.min_gpus says so) and the other images wait for a free worker; --workers N overrides
(`make nightly WORKERS=N`). It writes the
sign-off report (report.html, report.md, report.json), the JUnit XML (junit.xml) and the
terminal output (pytest.log) into REPORTS/YYYY-MM-DD/ (UTC; `-2`, `-3`... when the day
already has one), points REPORTS/latest at it, and compares with the newest earlier
report.json under REPORTS (--baseline auto), so last night's results are the baseline.
The exit status is pytest's (1 when an image is BLOCKED).

Every nightly records in report.json each validated image's fingerprint (signoff/reuse.py:
image ID, the suite's version and checks, the image's entry in the images file, the host,
the other pytest arguments). With --reuse (`make nightly REUSE=1`) an image whose
fingerprint equals the one of a signed-off image in an earlier report under REPORTS is
not validated again: its results are carried into tonight's report, which says from which
run; with every image reused, no pytest runs at all. A release run (--require-gpu) never
reuses.
"""
from __future__ import annotations

import argparse
import datetime
import glob
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from . import __version__
from . import config as config_module
from .errors import ConfigError, ImagecheckError
from .runtime import gpu as gpu_runtime

RELEASE_OPTION = "--require-gpu"
JUNIT_SUITE = "imagecheck-nightly"


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


def without_option(pytest_args: list[str], option: str) -> list[str]:
    """The pytest arguments less every value given to an option (both forms)."""
    kept, skip = [], False
    for arg in pytest_args:
        if skip:
            skip = False
        elif arg == option:
            skip = True
        elif not arg.startswith(option + "="):
            kept.append(arg)
    return kept


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
            f"--junitxml={folder / 'junit.xml'}", "-o", f"junit_suite_name={JUNIT_SUITE}"]
    if baseline is not None:
        args += ["--baseline", str(baseline)]
    return args + pytest_args


def reuse_refused(pytest_args: list[str]) -> str | None:
    """Why this run may not reuse earlier results (a release run, also through
    PYTEST_ADDOPTS), else None."""
    if RELEASE_OPTION in pytest_args or RELEASE_OPTION in os.environ.get("PYTEST_ADDOPTS", "").split():
        return f"a release run ({RELEASE_OPTION}) validates every image"
    return None


def fingerprints_of(refs: list[str], catalog: config_module.Catalog, pytest_args: list[str]) -> dict[str, dict]:
    """Each image's fingerprint now (signoff/reuse.py); empty, with a line saying why, when
    the engine does not answer (the run itself then says what is wrong)."""
    from .runtime.engine import connect
    from .signoff import reuse

    try:
        client = connect(timeout=30)
        host = reuse.host_facts(client)
        ids = {ref: reuse.image_id(client, ref) for ref in refs}
    except Exception as error:  # an engine that does not answer (DockerUnavailable, an API error): no reuse
        print(f"nightly: no fingerprints, so nothing is reused or recorded: {str(error).splitlines()[0]}",
              file=sys.stderr)
        return {}
    suite = reuse.suite_digest()
    arguments = reuse.other_arguments(pytest_args)
    return {ref: reuse.fingerprint(ids[ref], suite, catalog.spec_for(ref)[0], host, arguments) for ref in refs}


def reusable(refs: list[str], fingerprints: dict[str, dict], reports: Path, folder: Path) -> dict:
    """The earlier results each image can reuse: ref -> (its report, the report it came from)."""
    from .signoff import reuse

    earlier = reuse.earlier_reports(reports, folder)
    found = {}
    for ref in refs:
        image, source, why = reuse.find(ref, fingerprints[ref], earlier)
        if image is None:
            print(f"nightly: {ref}: validated (not reused: {why})", flush=True)
        else:
            found[ref] = (image, source)
            print(f"nightly: {ref}: results reused from {image.reused_from.label()} (unchanged image, suite, "
                  "promises, host and arguments)", flush=True)
    for report in earlier:
        if report.problem:
            print(f"nightly: an earlier report cannot be read, so nothing of it is reused: {report.problem}",
                  flush=True)
    return found


def run_pytest(cmd: list[str], log_path: Path) -> int:
    """pytest, its output on the terminal and in pytest.log; its exit status."""
    with log_path.open("w") as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            log.write(line)
        return proc.wait()


def write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def finish_report(folder: Path, fingerprints: dict[str, dict], reused: dict, refs: list[str],
                  baseline: Path | None, ran: bool, status: int, started: float, argv: list[str],
                  images_file: Path) -> int:
    """The fingerprints into report.json, and the reused images into every file of the
    report (report.json, HTML, Markdown, junit.xml); the run's exit status."""
    from .signoff import baseline as baseline_module
    from .signoff import reuse, writer
    from .signoff.model import BaselineInfo, Run, SignOff

    report_path = folder / "report.json"
    data: dict | None = None
    if ran:
        try:
            data = json.loads(report_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            if reused or status in (0, 1):
                print(f"nightly: pytest wrote no readable report (expected {report_path}: {error}); nothing is "
                      "recorded" + (" and the reused results are not added" if reused else ""), file=sys.stderr)
            return status
        for line in reuse.record(data, fingerprints):
            print(f"nightly: {line}", file=sys.stderr)
        if not reused:
            write_json(report_path, data)
            return status
    base = None
    if baseline is not None:
        try:
            base = baseline_module.load(baseline)
        except ImagecheckError as error:
            print(f"nightly: the reused images are not compared with the baseline: {error}", file=sys.stderr)
    source = next(iter(reused.values()))[1]
    finished = time.time()
    fallback = SignOff(
        tool={"name": "imagecheck", "version": __version__}, generated=_iso(finished), host=source.signoff.host,
        run=Run(args=argv, started=_iso(started), finished=_iso(finished), duration_s=round(finished - started, 1),
                exitstatus=0, mode="development", images_file=str(images_file), program="python -m imagecheck.nightly"),
        baseline=None if base is None else BaselineInfo(str(baseline), base.generated, [i.ref for i in base.images]))
    ran_signoff = SignOff.from_json(data) if data is not None else None
    signoff = reuse.combined(ran_signoff, {ref: pair[0] for ref, pair in reused.items()}, refs, base, fallback)
    writer.copy_sboms(signoff, folder, [folder, *(pair[1].folder for pair in reused.values())])  # reused ones' too
    writer.write(signoff, folder)
    reuse.junit_with_reused(folder / "junit.xml", signoff, list(reused), JUNIT_SUITE)
    blocked = [image.ref for image in signoff.images if image.verdict != "SIGNED OFF"]
    if not ran:
        return 1 if blocked else 0
    return 1 if status == 0 and blocked else status


def _iso(timestamp: float) -> str:
    return datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).isoformat(timespec="seconds")


def main(argv: list[str] | None = None) -> int:
    started = time.time()
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m imagecheck.nightly", description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--reports", type=Path, default=Path("reports"), help="Folder of the dated report folders")
    parser.add_argument("--images-file", type=Path, default=Path("images.yaml"),
                        help="The images and their promises (an --images-file after -- wins)")
    parser.add_argument("--baseline", default="auto",
                        help="auto (the newest earlier report under --reports), none, or a report.json")
    parser.add_argument("--workers", type=int, default=None,
                        help="xdist workers (default: one per image, at most one per 2 GPUs on a GPU host)")
    parser.add_argument("--reuse", action="store_true",
                        help="Reuse an earlier report's results for an image whose image ID, suite, promises, host "
                             f"and pytest arguments are unchanged (never in a release run, {RELEASE_OPTION})")
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
    fingerprints = fingerprints_of(refs, catalog, pytest_args)
    reused: dict = {}
    refused = reuse_refused(pytest_args)
    if args.reuse and refused:
        print(f"nightly: --reuse is off: {refused}", flush=True)
    elif args.reuse and fingerprints:
        reused = reusable(refs, fingerprints, args.reports, folder)
    to_run = [ref for ref in refs if ref not in reused]
    print(f"nightly: writing into {folder}/" + (f"; baseline {baseline}" if baseline else "; no baseline"), flush=True)
    status = 0
    if to_run:
        if args.workers:
            workers, why = args.workers, f"{args.workers} worker(s) (--workers)"
        else:
            workers, why = worker_count(to_run, catalog, host_gpu_count())
        run_args = pytest_args if not reused else \
            [*without_option(pytest_args, "--image"), *(arg for ref in to_run for arg in ("--image", ref))]
        print(f"nightly: {len(to_run)} image(s), {why}: {', '.join(to_run)}", flush=True)
        status = run_pytest(command(folder, workers, baseline, run_args), folder / "pytest.log")
    else:
        (folder / "pytest.log").write_text(f"nightly: every image's results reused ({', '.join(refs)}); "
                                           "pytest did not run\n")
        print("nightly: every image's results reused; pytest does not run", flush=True)
    if fingerprints and (to_run or reused):
        status = finish_report(folder, fingerprints, reused, refs, baseline, bool(to_run), status, started, argv,
                               images_file)
    latest = args.reports / "latest"
    try:
        if latest.is_symlink() or latest.exists():
            latest.unlink()
        latest.symlink_to(folder.name)
    except OSError as error:
        print(f"nightly: could not point {latest} at {folder.name}: {error}", file=sys.stderr)
    carried = f"; {len(reused)} image(s) reused: " + ", ".join(reused) if reused else ""
    print(f"nightly: done (exit {status}{carried}); report {folder / 'report.html'}", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
