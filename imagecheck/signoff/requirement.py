"""A missing requirement (the data a could-not-run check carries: outcomes.py) in words,
for the matrix and the merge's reasons: {"kind": "gpus", "wanted": 2, "granted": 1} is
"needs 2 GPU(s), granted 1"."""
from __future__ import annotations

from typing import Any

from .verdict import first_line

KINDS = {
    "bridge_network": "needs a bridge network to publish ports",
    "local_engine": "needs a Docker engine on this machine",
    "exclusive_gpus": "needs GPUs no other worker shares",
    "pip_in_image": "needs pip in the image",
}


def _value(value: Any) -> str:
    """A requirement's value in words ('' for none)."""
    if value is None:
        return ""
    return ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def describe(requirement: dict | None, message: str = "") -> str:
    """The requirement in a few words; without one, the first line of the skip's message."""
    if not requirement:
        return first_line(message, 160) or "no reason recorded"
    kind = str(requirement.get("kind") or "unknown")
    if kind == "gpus":
        return f"needs {requirement.get('wanted')} GPU(s), granted {requirement.get('granted')}"
    if kind == "cve_scanner":
        return "needs a CVE scanner on PATH (" + (_value(requirement.get("wanted")) or "trivy or grype") + ")"
    if kind == "host":
        problems = requirement.get("problems") or []
        return "the host cannot run the image's CUDA: " + ("; ".join(map(str, problems)) or "see the check")
    others = ", ".join(f"{k} {_value(v)}" for k, v in requirement.items() if k != "kind" and v is not None)
    return KINDS.get(kind, f"needs {kind}") + (f" ({others})" if others else "")
