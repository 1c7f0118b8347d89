"""The release sign-off report: `--signoff-report DIR` writes report.html, report.md and
report.json; `--baseline FILE` compares with an earlier report.json.

SignoffReport is a plugin object registered on the controller only, as junitxml's LogXML
is: it collects every TestReport (pytest_runtest_logreport, which xdist replays on the
controller), receives each image's metadata from the workers (see report_feed), and at
session end decides a verdict per image (imagecheck.verdict), finds regressions against
the baseline (imagecheck.baseline), writes the three files once, adds the verdicts to
the JUnit XML as testsuite properties, and prints the verdicts and paths in the terminal
summary. An image that is BLOCKED makes the run's exit status 1, also when no test
failed (a performance regression).

report.json (schema imagecheck.signoff/1) holds everything; the HTML and Markdown pages
are rendered from it (report_html, report_md).
"""
from __future__ import annotations

import datetime
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from .. import __version__
from ..errors import ImagecheckError
from ..image import description as imageinfo
from ..rules import perf
from . import baseline as baseline_module
from . import feed as report_feed
from . import verdict

SCHEMA = baseline_module.SCHEMA
FILES = ("report.html", "report.md", "report.json")
DETAILS_LIMIT = 20000
SECTION_LIMIT = 8000


def add_options(group: Any) -> None:
    group.addoption("--signoff-report", default=None, metavar="DIR",
                    help="Write the release sign-off report (report.html, report.md, report.json) into DIR")
    group.addoption("--baseline", default=None, metavar="FILE",
                    help="Compare with an earlier report.json; regressions lead the report")


def configure(config: pytest.Config, state: Any) -> None:
    """Validate the report options and register the report (controller) and its feed."""
    outdir = config.getoption("--signoff-report")
    baseline_path = config.getoption("--baseline")
    if baseline_path and not outdir:
        raise pytest.UsageError("--baseline FILE compares reports: it needs --signoff-report DIR as well")
    if not outdir:
        return
    target = Path(outdir)
    if target.exists() and not target.is_dir():
        raise pytest.UsageError(f"--signoff-report {outdir}: exists and is not a folder; pass a folder to write "
                                f"{', '.join(FILES)} into")
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


# ---- turning TestReports into plain records ---------------------------------------------
def _text(longrepr: Any) -> str:
    if longrepr is None:
        return ""
    if isinstance(longrepr, (tuple, list)) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


def _crash(report: pytest.TestReport) -> str:
    """The short message of a failure or skip, without pytest's decorations."""
    longrepr = report.longrepr
    if isinstance(longrepr, (tuple, list)) and len(longrepr) == 3:
        message = str(longrepr[2])
        return message.removeprefix("Skipped: ")
    crash = getattr(longrepr, "reprcrash", None)
    message = crash.message if crash is not None and getattr(crash, "message", None) else _text(longrepr)
    for prefix in ("AssertionError: ", "Failed: ", "E   "):
        message = message.removeprefix(prefix)
    lines = message.splitlines()
    for index, line in enumerate(lines[1:], 1):
        if line.startswith("assert "):  # pytest's assertion introspection repeats the message
            lines = lines[:index]
            break
    return "\n".join(lines).strip()


def _value(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _phase(report: pytest.TestReport) -> dict:
    failed_or_skipped = report.failed or report.skipped
    return {
        "when": report.when, "outcome": report.outcome, "duration": float(report.duration or 0.0),
        "crash": _crash(report) if failed_or_skipped else "",
        "details": _text(report.longrepr)[-DETAILS_LIMIT:] if report.failed else "",
        "wasxfail": getattr(report, "wasxfail", None),
        "properties": [(str(k), v) for k, v in report.user_properties],
        "sections": [(title, content[-SECTION_LIMIT:]) for title, content in report.sections] if report.failed else [],
        "meta": getattr(report, "imagecheck", None) or {},
    }


def build_check(nodeid: str, phases: list[dict]) -> dict:
    """One check's record: outcome, message, evidence, duration, from its phases."""
    by_when = {p["when"]: p for p in phases}
    meta = next((p["meta"] for p in phases if p["meta"]), {})
    setup, call, teardown = by_when.get("setup"), by_when.get("call"), by_when.get("teardown")
    outcome, source = "passed", None
    if setup and setup["outcome"] == "failed":
        outcome, source = "error", setup
    elif setup and setup["outcome"] == "skipped":
        outcome, source = ("xfailed" if setup["wasxfail"] else "skipped"), setup
    elif call:
        if call["outcome"] == "failed":
            outcome, source = "failed", call
        elif call["outcome"] == "skipped":
            outcome, source = ("xfailed" if call["wasxfail"] else "skipped"), call
        elif call["wasxfail"]:
            outcome = "xpassed"
    if teardown and teardown["outcome"] == "failed" and outcome in ("passed", "skipped", "xfailed", "xpassed"):
        outcome, source = "error", teardown
    last = phases[-1]
    evidence = {key: _value(value) for key, value in last["properties"]}
    sections = [s for p in phases for s in p["sections"]]
    return {
        "check": meta.get("check") or nodeid.split("::")[-1],
        "function": meta.get("function") or nodeid.split("::")[-1].split("[")[0],
        "nodeid": nodeid, "module": nodeid.split("::")[0], "doc": meta.get("doc", ""),
        "image": meta.get("image"), "worker": meta.get("worker"),
        "outcome": outcome, "phase": source["when"] if source else None,
        "message": source["crash"] if source else "",
        "details": source["details"] if source else "",
        "sections": [{"title": t, "content": c} for t, c in sections],
        "duration_s": round(sum(p["duration"] for p in phases), 3),
        "evidence": evidence,
    }


def perf_figures(checks: list[dict]) -> tuple[dict[str, dict], list[str]]:
    """The performance figures the checks recorded (perf.* evidence) and malformed keys."""
    figures, malformed = {}, []
    for check in checks:
        for key, value in check["evidence"].items():
            if not key.startswith(perf.PREFIX):
                continue
            parsed = perf.parse(key)
            number = perf.as_number(value)
            if parsed is None or number is None:
                malformed.append(f"{key} (in {check['check']})")
                continue
            figures[key] = {"value": number, "unit": parsed.unit_label, "direction": parsed.direction,
                            "subject": parsed.subject, "measure": parsed.measure, "check": check["check"]}
    return figures, malformed


_ORDER = {"failed": 0, "error": 0, "xpassed": 1, "skipped": 2, "xfailed": 3, "passed": 4}


class SignoffReport:
    """The controller's report plugin: collects reports, writes the files at session end."""

    def __init__(self, config: pytest.Config, state: Any, outdir: Path, base: dict | None,
                 baseline_path: str | None) -> None:
        self.config = config
        self.state = state
        self.outdir = outdir
        self.baseline = base
        self.baseline_path = baseline_path
        self.phases: dict[str, list[dict]] = {}
        self.collection_errors: list[dict] = []
        self.described: dict[str, dict] = {}
        self.lost_workers: list[str] = []
        self.started = time.time()
        self.model: dict | None = None
        self.written: list[Path] = []
        self.error: str | None = None

    # ---- collecting ----------------------------------------------------------------------
    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        line = f"  sign-off report: {self.outdir}/ (report.html, report.md, report.json)"
        if self.baseline_path:
            line += f"; baseline {self.baseline_path}"
        return [line]

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_errors.append({"nodeid": report.nodeid or "(session)",
                                           "message": _text(report.longrepr)[-4000:]})

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.phases.setdefault(report.nodeid, []).append(_phase(report))

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
        self.model = self.build(session, int(exitstatus))
        try:
            self.write(self.model)
        except OSError as error:
            self.error = f"cannot write the sign-off report into {self.outdir}: {error.strerror or error}"
        self.junit_properties(self.model)
        blocked = self.model["summary"]["blocked"]
        if (blocked or self.error) and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def incomplete(self, session: pytest.Session, exitstatus: int) -> list[str]:
        reasons = []
        if exitstatus == pytest.ExitCode.INTERRUPTED:
            reasons.append("the run was interrupted before every check ran")
        elif session.shouldfail or session.shouldstop:
            reasons.append(f"the run stopped early ({session.shouldfail or session.shouldstop})")
        if self.collection_errors:
            names = ", ".join(e["nodeid"] for e in self.collection_errors[:4])
            reasons.append(f"{len(self.collection_errors)} collection error(s), so some checks never ran: {names}")
        reasons += [f"an xdist worker died: {lost}" for lost in self.lost_workers]
        return reasons

    def build(self, session: pytest.Session, exitstatus: int) -> dict:
        """The whole report as plain JSON."""
        checks = [build_check(nodeid, phases) for nodeid, phases in self.phases.items()]
        incomplete = self.incomplete(session, exitstatus)
        require_gpu = bool(self.state.require_gpu)
        images = []
        refs = list(self.state.refs) + sorted({c["image"] for c in checks if c["image"]} - set(self.state.refs))
        for ref in refs:
            spec, listed = self.state.catalog.spec_for(ref)
            entry: dict[str, Any] = {"ref": ref, "listed": listed, **imageinfo.expectations(spec)}
            described = self.described.get(ref) or {}
            entry.update({k: v for k, v in described.items() if k != "ref"})
            mine = sorted((c for c in checks if c["image"] == ref), key=lambda c: _ORDER.get(c["outcome"], 5))
            entry["checks"] = mine
            entry["counts"] = {o: sum(1 for c in mine if c["outcome"] == o)
                               for o in ("passed", "failed", "error", "skipped", "xfailed", "xpassed")}
            entry["perf"], malformed = perf_figures(mine)
            regressions, base_ref = [], None
            if self.baseline is not None:
                base = baseline_module.match(self.baseline, ref)
                if base is not None:
                    base_ref = base.get("ref")
                    regressions = baseline_module.compare(base, entry, spec.regression.max_perf_drop)
            entry["baseline_ref"] = base_ref
            entry["regressions"] = regressions
            decision = verdict.decide(mine, required=spec.checks.required, advisory=spec.checks.advisory,
                                      require_gpu=require_gpu, incomplete=incomplete, regressions=regressions)
            required = {c["check"] for c in mine if c.get("required")}
            for regression in regressions:
                regression["effect"] = "blocks" if regression.get("blocks") else "informs"
                if regression["kind"] == "newly_failing" and regression["name"] in required:
                    regression["effect"] = "blocks (a required check fails)"
            if malformed:
                decision["notes"].append("evidence keys under perf. that do not follow imagecheck.perf's naming "
                                         "(perf.<subject>.<measure>_<unit>, a number): " + ", ".join(malformed))
            if not described and mine:
                decision["notes"].append("no metadata reached the report for this image (its worker died?)")
            if self.baseline is not None and base_ref is None:
                decision["notes"].append("the baseline report has no image to compare this one with")
            entry.update(decision)
            images.append(entry)
        blocked = sum(1 for i in images if i["verdict"] == verdict.BLOCKED)
        finished = time.time()
        return {
            "schema": SCHEMA,
            "tool": {"name": "imagecheck", "version": __version__},
            "generated": _iso(finished),
            "summary": {"verdict": verdict.BLOCKED if blocked or not images else verdict.SIGNED_OFF,
                        "images": len(images), "signed_off": len(images) - blocked, "blocked": blocked},
            "run": {"args": list(self.config.invocation_params.args), "started": _iso(self.started),
                    "finished": _iso(finished), "duration_s": round(finished - self.started, 1),
                    "exitstatus": exitstatus, "require_gpu": require_gpu,
                    "mode": "release (--require-gpu)" if require_gpu else "development",
                    "workers": int(getattr(self.config.option, "numprocesses", 0) or 0),
                    "incomplete": incomplete, "collection_errors": self.collection_errors,
                    "images_file": str(self.state.catalog.path)},
            "host": self.host(),
            "baseline": None if self.baseline is None else {
                "path": str(self.baseline_path), "generated": self.baseline.get("generated"),
                "images": [i.get("ref") for i in self.baseline.get("images") or []]},
            "images": images,
            "suite_checks": [c for c in checks if not c["image"]],
        }

    def host(self) -> dict:
        try:
            return imageinfo.describe_host(self.state.context)
        except Exception as error:  # the report must still be written
            return {"error": f"{type(error).__name__}: {error}"}

    def write(self, model: dict) -> None:
        from . import html as report_html, markdown as report_md  # renderers, imported when a report is written

        self.outdir.mkdir(parents=True, exist_ok=True)
        contents = {"report.json": json.dumps(model, indent=2, default=str) + "\n",
                    "report.html": report_html.render(model), "report.md": report_md.render(model)}
        for name, text in contents.items():
            path = self.outdir / name
            tmp = path.with_name(f".{name}.tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
            self.written.append(path)

    def junit_properties(self, model: dict) -> None:
        """The verdicts, digests and versions as testsuite properties of --junitxml."""
        try:
            from _pytest import junitxml  # LogXML has no public accessor; absent it, skip quietly
            xml = self.config.stash.get(junitxml.xml_key, None)
        except (ImportError, AttributeError):
            return
        if xml is None:
            return
        xml.add_global_property("imagecheck.signoff", model["summary"]["verdict"])
        for image in model["images"]:
            prefix = f"imagecheck.{image['ref']}"
            xml.add_global_property(f"{prefix}.verdict", image["verdict"])
            for number, reason in enumerate(image["reasons"], 1):
                xml.add_global_property(f"{prefix}.reason.{number}", reason)
            info = image.get("image") or {}
            if info.get("id"):
                xml.add_global_property(f"{prefix}.id", info["id"])
            for digest in info.get("repo_digests") or []:
                xml.add_global_property(f"{prefix}.digest", digest)
            for name, value in (image.get("versions") or {}).items():
                if value is not None:
                    xml.add_global_property(f"{prefix}.{name}", str(value))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        model = self.model
        if model is None:
            return
        tr = terminalreporter
        blocked = model["summary"]["blocked"]
        tr.write_sep("=", "imagecheck sign-off", red=bool(blocked), green=not blocked, bold=True)
        width = max([len(i["ref"]) for i in model["images"]] + [10])
        for image in model["images"]:
            signed = image["verdict"] == verdict.SIGNED_OFF
            counts = image["counts"]
            tally = ", ".join(f"{n} {o}" for o, n in counts.items() if n)
            tr.write(f"{image['ref']:<{width}}  ")
            tr.write(f"{image['verdict']:<10}", green=signed, red=not signed, bold=True)
            tr.write_line(f"  {tally or 'no checks'}")
            for reason in image["reasons"][:8]:
                tr.write_line(f"    - {reason}")
            if len(image["reasons"]) > 8:
                tr.write_line(f"    - ... {len(image['reasons']) - 8} more in the report")
            for regression in image["regressions"][:8]:
                tr.write_line(f"    regression: {regression['summary']}")
        if self.error:
            tr.write_line(self.error, red=True, bold=True)
        elif self.written:
            tr.write_line("report: " + ", ".join(str(p) for p in self.written))


def _iso(timestamp: float) -> str:
    return datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).isoformat(timespec="seconds")
