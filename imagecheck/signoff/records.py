"""Check records, built once from pytest's TestReports (the setup, call and teardown phases
of one test), with whether the check is required decided there, from images.yaml's
`checks.advisory`; and the performance figures the records carry."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable

from ..rules import perf
from .model import CheckRecord, PerfFigure, Section

DETAILS_LIMIT = 20000
SECTION_LIMIT = 8000


@dataclass
class Phase:
    """What the report needs of one phase's TestReport (plain data: it outlives the report)."""

    when: str
    outcome: str
    duration: float = 0.0
    crash: str = ""
    details: str = ""
    wasxfail: str | None = None
    properties: list[tuple[str, Any]] = field(default_factory=list)
    sections: list[tuple[str, str]] = field(default_factory=list)
    meta: dict = field(default_factory=dict)  # report.imagecheck (feed.py): image, check, requirement...


def text_of(longrepr: Any) -> str:
    if longrepr is None:
        return ""
    if isinstance(longrepr, (tuple, list)) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


def crash_of(longrepr: Any) -> str:
    """The short message of a failure or skip, without pytest's decorations."""
    if isinstance(longrepr, (tuple, list)) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    crash = getattr(longrepr, "reprcrash", None)
    message = crash.message if crash is not None and getattr(crash, "message", None) else text_of(longrepr)
    for prefix in ("AssertionError: ", "Failed: ", "E   "):
        message = message.removeprefix(prefix)
    lines = message.splitlines()
    for index, line in enumerate(lines[1:], 1):
        if line.startswith("assert "):  # pytest's assertion introspection repeats the message
            lines = lines[:index]
            break
    return "\n".join(lines).strip()


def phase_of(report: Any) -> Phase:
    """One TestReport as a Phase."""
    failed_or_skipped = report.failed or report.skipped
    return Phase(
        when=report.when, outcome=report.outcome, duration=float(report.duration or 0.0),
        crash=crash_of(report.longrepr) if failed_or_skipped else "",
        details=text_of(report.longrepr)[-DETAILS_LIMIT:] if report.failed else "",
        wasxfail=getattr(report, "wasxfail", None),
        properties=[(str(k), v) for k, v in report.user_properties],
        sections=[(title, content[-SECTION_LIMIT:]) for title, content in report.sections] if report.failed else [],
        meta=getattr(report, "imagecheck", None) or {})


def is_required(check: str, function: str, advisory: Iterable[str]) -> bool:
    """A check is required unless its function or its image-less name is listed advisory."""
    return not ({check, function} & set(advisory))


def _value(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _outcome(by_when: dict[str, Phase]) -> tuple[str, Phase | None]:
    """The check's outcome and the phase that decided it."""
    setup, call, teardown = by_when.get("setup"), by_when.get("call"), by_when.get("teardown")
    outcome, source = "passed", None
    if setup and setup.outcome == "failed":
        outcome, source = "error", setup
    elif setup and setup.outcome == "skipped":
        outcome, source = ("xfailed" if setup.wasxfail else "skipped"), setup
    elif call:
        if call.outcome == "failed":
            outcome, source = "failed", call
        elif call.outcome == "skipped":
            outcome, source = ("xfailed" if call.wasxfail else "skipped"), call
        elif call.wasxfail:
            outcome = "xpassed"
    if teardown and teardown.outcome == "failed" and outcome in ("passed", "skipped", "xfailed", "xpassed"):
        outcome, source = "error", teardown
    return outcome, source


def build(nodeid: str, phases: list[Phase], advisory: Iterable[str] = ()) -> CheckRecord:
    """One check's record from its phases; `advisory` is images.yaml's checks.advisory of its image."""
    meta = next((p.meta for p in phases if p.meta), {})
    outcome, source = _outcome({p.when: p for p in phases})
    check = meta.get("check") or nodeid.split("::")[-1]
    function = meta.get("function") or nodeid.split("::")[-1].split("[")[0]
    source_meta = source.meta if source is not None and source.meta else meta
    return CheckRecord(
        check=check, function=function, nodeid=nodeid, module=nodeid.split("::")[0], doc=meta.get("doc", ""),
        image=meta.get("image"), worker=meta.get("worker"), outcome=outcome,
        phase=source.when if source else None, message=source.crash if source else "",
        details=source.details if source else "",
        sections=[Section(t, c) for p in phases for t, c in p.sections],
        duration_s=round(sum(p.duration for p in phases), 3),
        evidence={key: _value(value) for key, value in phases[-1].properties},
        required=is_required(check, function, advisory),
        requirement=source_meta.get("requirement") if source is not None else None)


def perf_figures(checks: list[CheckRecord]) -> tuple[dict[str, PerfFigure], list[str]]:
    """The performance figures the checks recorded (perf.* evidence) and the malformed keys."""
    figures, malformed = {}, []
    for check in checks:
        for key, value in check.evidence.items():
            if not key.startswith(perf.PREFIX):
                continue
            parsed = perf.parse(key)
            number = perf.as_number(value)
            if parsed is None or number is None:
                malformed.append(f"{key} (in {check.check})")
                continue
            figures[key] = PerfFigure(value=number, unit=parsed.unit_label, direction=parsed.direction,
                                      subject=parsed.subject, measure=parsed.measure, check=check.check)
    return figures, malformed


def image_of(phases: list[Phase]) -> str | None:
    """The image a test's phases ran against (feed.py marks each report), None for none."""
    return next((p.meta.get("image") for p in phases if p.meta), None)
