"""The verdict on one image: SIGNED OFF or BLOCKED, with the reasons first.

Which checks count (images.yaml, per image, `checks:`):
- every check is REQUIRED unless images.yaml lists it under `checks.advisory`;
- a check named under `checks.required` must also have RUN: if it did not (deselected,
  not collected), the image is blocked, so a sign-off cannot silently lose a check;
- a name is a test function (`test_cuda_is_available`, every parameter of it) or one
  parameter of it without the image (`test_version_is_as_promised[triton]`).

What blocks:
- a required check that failed or errored;
- a required check that was skipped because it could not run here (no GPU granted, no
  scanner), when the run is a release run (--require-gpu); a check skipped because it
  does not apply to the image (images.yaml promises nothing it could judge, or another
  variant covers this host: outcomes.not_applicable) never blocks;
- a required check named in `checks.required` that did not run;
- no check at all ran for the image, or the run was cut short (interrupted, crashed
  worker, collection errors);
- a performance figure that dropped against the baseline by more than
  images.yaml `regression.max_perf_drop`.
Advisory failures are listed as notes, and skips in a development run under their own key
(skips); neither blocks.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Iterable

from ..pytest_plugin.outcomes import is_not_applicable

SIGNED_OFF = "SIGNED OFF"
BLOCKED = "BLOCKED"
FAILED = ("failed", "error")
# Failures are listed root causes first: what is installed, then whether it imports and
# links, then CUDA, then the rest in the order they ran.
LEAD_MODULES = ("test_versions", "test_release_pairing", "test_imports", "test_pip_check",
                "test_shared_libraries", "test_cuda")


def _lead(check: dict) -> int:
    module = (check.get("module") or check.get("nodeid") or "").rsplit("/", 1)[-1].split(".py")[0].split(".")[-1]
    return LEAD_MODULES.index(module) if module in LEAD_MODULES else len(LEAD_MODULES)


def is_required(check: dict, advisory: Iterable[str]) -> bool:
    """A check is required unless its function or its image-less name is listed advisory."""
    names = {check.get("check"), check.get("function")}
    return not (names & set(advisory))


def first_line(text: str | None, limit: int = 240) -> str:
    """The message's first line; when it ends with ':' (a list follows), also the first item."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if not lines:
        return ""
    line = lines[0]
    if line.endswith(":") and len(lines) > 1:
        line += f" {lines[1]}" + (f" (+{len(lines) - 2} more)" if len(lines) > 2 else "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _grouped(checks: list[dict], what: str, key: str) -> list[str]:
    """One line per distinct message: 'test_a, test_b failed: message'."""
    groups: "OrderedDict[str, list[str]]" = OrderedDict()
    for check in checks:
        groups.setdefault(first_line(check.get(key)), []).append(check["check"])
    lines = []
    for message, names in groups.items():
        shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
        verb = what if len(names) == 1 else what.replace("check ", "checks ", 1).replace(" was ", " were ")
        lines.append(f"{verb.format(names=shown)}" + (f": {message}" if message else ""))
    return lines


def decide(checks: list[dict], *, required: list[str], advisory: list[str], require_gpu: bool,
           incomplete: list[str] | None = None, regressions: list[dict] | None = None) -> dict:
    """{'verdict', 'reasons': [...], 'notes': [...], 'skips': [...]} for one image's checks.

    Each check is a dict with at least 'check', 'function', 'outcome' (passed, failed,
    error, skipped, xfailed) and 'message' (failure text or skip reason); this marks
    each one with 'required'. 'skips' holds, in a development run, one line per reason
    the required checks that could not run here were skipped for (in a release run they
    are reasons); a page that lists the skipped checks with their reasons leaves it out.
    """
    reasons: list[str] = list(incomplete or [])
    notes: list[str] = []
    skips: list[str] = []
    for check in checks:
        check["required"] = is_required(check, advisory)
    mandatory = [c for c in checks if c["required"]]
    failed = sorted((c for c in mandatory if c["outcome"] in FAILED), key=_lead)
    inapplicable = [c for c in mandatory if c["outcome"] == "skipped" and is_not_applicable(c.get("message"))]
    skipped = [c for c in mandatory if c["outcome"] == "skipped" and c not in inapplicable]
    if not checks:
        reasons.append("no check ran for this image")
    reasons += _grouped(failed, "required check {names} failed", "message")
    if require_gpu:
        reasons += _grouped(skipped, "required check {names} was skipped in a release run (--require-gpu)",
                            "message")
    elif skipped:
        notes.append(f"development run: {len(skipped)} required check(s) skipped; a release sign-off "
                     "runs with --require-gpu, where a skipped required check blocks")
        skips = _grouped(skipped, "skipped: {names}", "message")
    if inapplicable:
        notes.append(f"{len(inapplicable)} check(s) do not apply to this image: "
                     + ", ".join(c["check"] for c in inapplicable))
    ran = {c.get("check") for c in checks} | {c.get("function") for c in checks}
    missing = [name for name in required if name not in ran]
    if missing:
        reasons.append("required by images.yaml but did not run: " + ", ".join(missing))
    for regression in regressions or []:
        if regression.get("blocks"):
            reasons.append(f"regression: {regression['summary']}")
    notes += _grouped([c for c in checks if not c["required"] and c["outcome"] in FAILED],
                      "advisory check {names} failed", "message")
    unknown = [name for name in advisory if name not in ran]
    if unknown:
        notes.append("images.yaml lists as advisory checks that did not run: " + ", ".join(unknown))
    return {"verdict": BLOCKED if reasons else SIGNED_OFF, "reasons": reasons, "notes": notes, "skips": skips}
