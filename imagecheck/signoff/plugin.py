"""The release sign-off report: `--signoff-report DIR` writes report.html, report.md and
report.json; `--baseline FILE` compares with an earlier report.json; `--shard DIR` writes
the run as one shard of a fleet sign-off (the same files and junit.xml; `python -m
imagecheck.signoff merge` makes one sign-off of the shards).

SignoffReport is a plugin object registered on the controller only, as junitxml's LogXML
is: it collects every TestReport (pytest_runtest_logreport, which xdist replays on the
controller) and the image descriptions (the image fixture takes them: state.descriptions;
xdist workers send theirs: feed.py), and at session end builds the sign-off model once
(records, assemble, verdict), writes the files, adds the verdicts and every check's status
to the JUnit XML as testsuite properties, and prints the verdicts and paths in the
terminal summary. An image that is BLOCKED makes the run's exit status 1, also when no
test failed (a performance regression).
"""
from __future__ import annotations

import datetime
import time
from pathlib import Path
from typing import Any

import pytest

from .. import __version__
from ..errors import ImagecheckError
from ..image import description as imageinfo
from . import assemble, content, records, verdict
from . import baseline as baseline_module
from . import feed as report_feed
from . import junit as report_junit
from . import writer
from .model import BaselineInfo, CollectionError, Run, SignOff
from .shard import shard_info

FILES = writer.FILES


def add_options(group: Any) -> None:
    group.addoption("--signoff-report", default=None, metavar="DIR",
                    help="Write the release sign-off report (report.html, report.md, report.json) into DIR")
    group.addoption("--baseline", default=None, metavar="FILE",
                    help="Compare with an earlier report.json; regressions lead the report")
    group.addoption("--shard", default=None, metavar="DIR",
                    help="Write this run as a shard of a fleet sign-off into DIR (the report and junit.xml); "
                         "a check this host cannot run never fails it: `imagecheck-signoff merge` decides")


def configure(config: pytest.Config, state: Any) -> None:
    """Validate the report options and register the report (controller) and its feed."""
    outdir = config.getoption("--signoff-report")
    shard_dir = config.getoption("--shard")
    baseline_path = config.getoption("--baseline")
    if outdir and shard_dir:
        raise pytest.UsageError(f"--signoff-report {outdir} and --shard {shard_dir}: pass one; a shard "
                                "folder holds the sign-off report too")
    if baseline_path and not (outdir or shard_dir):
        raise pytest.UsageError("--baseline FILE compares reports: it needs --signoff-report DIR "
                                "(or --shard DIR) as well")
    if not (outdir or shard_dir):
        return
    option, target = ("--shard", Path(shard_dir)) if shard_dir else ("--signoff-report", Path(outdir))
    if target.exists() and not target.is_dir():
        raise pytest.UsageError(f"{option} {target}: exists and is not a folder; pass a folder to write "
                                f"{', '.join(FILES)} into")
    state.shard = bool(shard_dir)
    state.describe_images = True
    config.pluginmanager.register(report_feed.ReportFeed(config, state), "imagecheck-report-feed")
    if hasattr(config, "workerinput"):
        return
    base = None
    if baseline_path:
        try:
            base = baseline_module.load(baseline_path)
        except ImagecheckError as error:
            raise pytest.UsageError(str(error)) from None
    config.pluginmanager.register(SignoffReport(config, state, target, base, baseline_path), "imagecheck-signoff")


def unconfigure(config: pytest.Config) -> None:
    for name in ("imagecheck-signoff", "imagecheck-report-feed"):
        plugin = config.pluginmanager.get_plugin(name)
        if plugin is not None:
            config.pluginmanager.unregister(plugin)


class SignoffReport:
    """The controller's report plugin: collects reports, writes the files at session end."""

    def __init__(self, config: pytest.Config, state: Any, outdir: Path, base: SignOff | None,
                 baseline_path: str | None) -> None:
        self.config = config
        self.state = state
        self.outdir = outdir
        self.baseline = base
        self.baseline_path = baseline_path
        self.phases: dict[str, list[records.Phase]] = {}
        self.collection_errors: list[CollectionError] = []
        self.described: dict[str, dict] = {}
        self.lost_workers: list[str] = []
        self.started = time.time()
        self.signoff: SignOff | None = None
        self.written: list[Path] = []
        self.error: str | None = None

    # ---- collecting ----------------------------------------------------------------------
    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        what = "shard of a fleet sign-off" if self.state.shard else "sign-off report"
        files = FILES + (writer.JUNIT,) if self.state.shard else FILES
        line = f"  {what}: {self.outdir}/ ({', '.join(files)})"
        if self.baseline_path:
            line += f"; baseline {self.baseline_path}"
        return [line]

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_errors.append(CollectionError(report.nodeid or "(session)",
                                                          records.text_of(report.longrepr)[-4000:]))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.phases.setdefault(report.nodeid, []).append(records.phase_of(report))

    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """xdist: a worker finished (or died); take the image descriptions it sent."""
        output = getattr(node, "workeroutput", None) or {}
        self.described.update(output.get(report_feed.WORKEROUTPUT_KEY) or {})
        if error is not None:
            self.lost_workers.append(f"{getattr(node.gateway, 'id', 'a worker')}: {str(error).splitlines()[0]}")

    # ---- the end ----------------------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)  # before junitxml writes its file, so the properties land in it
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.config.option.collectonly:
            return  # nothing ran: no verdict to give
        self.described.update(self.state.descriptions)
        self.signoff = self.build(session, int(exitstatus))
        try:
            self.written = writer.write(self.signoff, self.outdir, junit=self.state.shard)
        except OSError as error:
            self.error = f"cannot write the sign-off report into {self.outdir}: {error.strerror or error}"
        self.junit_properties(self.signoff)
        if (self.signoff.blocked or self.error) and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def incomplete(self, session: pytest.Session, exitstatus: int) -> list[str]:
        reasons = []
        if exitstatus == pytest.ExitCode.INTERRUPTED:
            reasons.append("the run was interrupted before every check ran")
        elif session.shouldfail or session.shouldstop:
            reasons.append(f"the run stopped early ({session.shouldfail or session.shouldstop})")
        if self.collection_errors:
            names = ", ".join(e.nodeid for e in self.collection_errors[:4])
            reasons.append(f"{len(self.collection_errors)} collection error(s), so some checks never ran: {names}")
        reasons += [f"an xdist worker died: {lost}" for lost in self.lost_workers]
        return reasons

    def mode(self) -> str:
        if self.state.shard:
            return verdict.SHARD
        return verdict.RELEASE if self.state.require_gpu else verdict.DEVELOPMENT

    def build(self, session: pytest.Session, exitstatus: int) -> SignOff:
        """The whole sign-off, judged."""
        catalog = self.state.catalog
        checks = []
        for nodeid, phases in self.phases.items():
            ref = records.image_of(phases)
            checks.append(records.build(nodeid, phases, catalog.spec_for(ref)[0].checks.advisory if ref else ()))
        incomplete = self.incomplete(session, exitstatus)
        refs = list(self.state.refs) + sorted({c.image for c in checks if c.image} - set(self.state.refs))
        images = []
        for ref in refs:
            spec, listed = catalog.spec_for(ref)
            image, notes = assemble.image_report(ref, spec, listed, self.described.get(ref),
                                                 [c for c in checks if c.image == ref])
            image = content.attach(image, self.outdir)  # the SBOM's packages, read back from this folder
            images.append(assemble.judge_with_baseline(image, baseline=self.baseline, mode=self.mode(),
                                                       incomplete=incomplete, notes=notes))
        finished = time.time()
        require_gpu = bool(self.state.require_gpu)
        mode = "release (--require-gpu)" if require_gpu else "development"
        host = self.host()
        signoff = SignOff(
            tool={"name": "imagecheck", "version": __version__}, generated=_iso(finished),
            run=Run(args=list(self.config.invocation_params.args), started=_iso(self.started),
                    finished=_iso(finished), duration_s=round(finished - self.started, 1), exitstatus=exitstatus,
                    require_gpu=require_gpu, mode=f"shard, {mode}" if self.state.shard else mode,
                    workers=int(getattr(self.config.option, "numprocesses", 0) or 0), incomplete=incomplete,
                    collection_errors=self.collection_errors, images_file=str(catalog.path)),
            host=host, images=images, suite_checks=[c for c in checks if not c.image],
            baseline=None if self.baseline is None else BaselineInfo(
                str(self.baseline_path), self.baseline.generated, [i.ref for i in self.baseline.images]))
        if self.state.shard:
            signoff.shard = shard_info(self.outdir.resolve().name, host, images, __version__, require_gpu)
        return signoff

    def host(self) -> dict:
        try:
            return imageinfo.describe_host(self.state.context)
        except Exception as error:  # the report must still be written
            return {"error": f"{type(error).__name__}: {error}"}

    def junit_properties(self, signoff: SignOff) -> None:
        """The verdicts, digests, versions and check statuses as testsuite properties of --junitxml."""
        try:
            from _pytest import junitxml  # LogXML has no public accessor; absent it, skip quietly
            xml = self.config.stash.get(junitxml.xml_key, None)
        except (ImportError, AttributeError):
            return
        if xml is None:
            return
        for name, value in report_junit.suite_properties(signoff):
            xml.add_global_property(name, value)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        signoff = self.signoff
        if signoff is None:
            return
        tr = terminalreporter
        blocked = signoff.blocked
        tr.write_sep("=", "imagecheck sign-off" + (" (shard)" if self.state.shard else ""), red=bool(blocked),
                     green=not blocked, bold=True)
        width = max([len(i.ref) for i in signoff.images] + [10])
        for image in signoff.images:
            signed = image.verdict == verdict.SIGNED_OFF
            tally = ", ".join(f"{n} {o}" for o, n in image.counts.items() if n)
            tr.write(f"{image.ref:<{width}}  ")
            tr.write(f"{image.verdict:<10}", green=signed, red=not signed, bold=True)
            tr.write_line(f"  {tally or 'no checks'}")
            for reason in image.reasons[:8]:
                tr.write_line(f"    - {reason}")
            if len(image.reasons) > 8:
                tr.write_line(f"    - ... {len(image.reasons) - 8} more in the report")
            for regression in image.regressions[:8]:
                tr.write_line(f"    regression: {regression.summary}")
        if self.error:
            tr.write_line(self.error, red=True, bold=True)
        elif self.written:
            tr.write_line("report: " + ", ".join(str(p) for p in self.written))


def _iso(timestamp: float) -> str:
    return datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).isoformat(timespec="seconds")
